"""Speech2Vid building blocks: MFCC windows, face alignment, the models, metrics (no corpus needed)."""


import numpy as np
import pytest


def test_mfcc_windows_are_centred_on_each_video_frame():
    from avse_tf.systems.speech2vid.pipeline import mfcc_windows

    mfcc = np.arange(300 * 13, dtype=np.float32).reshape(300, 13)  # column j of c_k holds 13j + k
    windows = mfcc_windows(mfcc, 75)
    assert windows.shape == (75, 12, 35)
    for t in (10, 40, 70):  # interior: columns 4t-17 .. 4t+17, c0 dropped
        np.testing.assert_array_equal(windows[t], mfcc[4 * t - 17:4 * t + 18, 1:].T)
    # Outside the clip the first / last column is repeated.
    np.testing.assert_array_equal(windows[0][:, :17], np.repeat(mfcc[:1, 1:].T, 17, axis=1))
    np.testing.assert_array_equal(windows[74][:, -1], mfcc[-1, 1:])


def test_mfcc_of_a_clip_has_100_frames_per_second():
    from avse_tf.systems.speech2vid.pipeline import compute_mfcc, num_video_frames

    waveform = np.random.default_rng(0).normal(size=48000).astype(np.float32) * 0.1
    assert compute_mfcc(waveform).shape == (300, 13)
    assert num_video_frames(48000) == 75 and num_video_frames(48001) == 76


def test_similarity_transform_recovers_a_known_similarity():
    from avse_tf.video.face_alignment import similarity_transform

    rng = np.random.default_rng(1)
    points = rng.uniform(0, 100, size=(21, 2))
    angle, scale, shift = 0.3, 0.7, np.array([5.0, -3.0])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = points @ rotation.T + shift
    matrix = similarity_transform(points, moved)
    np.testing.assert_allclose(matrix[:, :2], rotation, atol=1e-5)
    np.testing.assert_allclose(matrix[:, 2], shift, atol=1e-3)


def test_alignment_points_are_the_papers_28_to_48():
    from avse_tf.video.face_alignment import ALIGN_POINTS
    from avse_tf.video.landmarks import LEFT_EYE, NOSE, RIGHT_EYE

    assert list(range(68))[ALIGN_POINTS] == list(range(28 - 1, 48))  # 1-based 28..48 in the paper
    # Nose, right eye and left eye follow one another, so the slice holds exactly those three parts.
    assert (NOSE.stop, RIGHT_EYE.stop) == (RIGHT_EYE.start, LEFT_EYE.start)


def test_align_faces_maps_landmarks_onto_the_template():
    import cv2

    from avse_tf.video.face_alignment import ALIGN_POINTS, align_faces, crop_template

    rng = np.random.default_rng(2)
    shape = rng.uniform(100, 200, size=(68, 2)).astype(np.float32)
    frame = rng.integers(0, 255, size=(288, 360, 3), dtype=np.uint8)
    # A second frame: the same face rotated by 10 degrees about (150, 150).
    rotation = cv2.getRotationMatrix2D((150, 150), 10, 1.0)
    shapes = np.stack([shape, shape @ rotation[:, :2].T + rotation[:, 2]])
    frames = np.stack([frame, cv2.warpAffine(frame, rotation, (360, 288))])
    template = crop_template(shape, 64)
    faces, points, matrices = align_faces(frames, shapes, 64, template)
    assert faces.shape == (2, 64, 64, 3) and faces.dtype == np.uint8 and matrices.shape == (2, 2, 3)
    np.testing.assert_allclose(points[0], template, atol=1e-3)
    np.testing.assert_allclose(points[1][ALIGN_POINTS], template[ALIGN_POINTS], atol=1e-2)
    # The rotation is undone: the two crops agree away from the borders.
    assert np.abs(faces[0, 16:48, 16:48].astype(int) - faces[1, 16:48, 16:48].astype(int)).mean() < 40


@pytest.mark.parametrize("size,count,masked", [(48, 1, False), (64, 5, True)])
def test_generator_shapes_and_safe_mode_round_trip(tmp_path, size, count, masked):
    import keras

    from avse_tf.systems.speech2vid.model import speech2vid

    model = speech2vid(size, count, masked, width=0.125, mfcc_mean=np.arange(12), mfcc_std=np.ones(12) * 2)
    inputs = {"mfcc": np.random.rand(2, 12, 35).astype("f"),
              "identity": np.random.rand(2, size, size, 3 * count).astype("f")}
    if masked:
        inputs["masked_target"] = np.random.rand(2, size, size, 3).astype("f")
    face = model(inputs)["face"]
    assert face.shape == (2, size, size, 3)
    assert float(np.min(face)) >= 0.0 and float(np.max(face)) <= 1.0
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path, compile=False, safe_mode=True)
    np.testing.assert_allclose(loaded(inputs)["face"], face, atol=1e-6)
    assert loaded.get_config()["mfcc_mean"] == list(range(12))


def test_paper_presets_build_the_paper_shapes():
    from avse_tf.systems.presets import from_preset, get_preset
    from avse_tf.systems.speech2vid.model import deblur_network

    model = from_preset("speech2vid_voxceleb")
    assert model.get_layer("audio_pool5").output.shape[1:3] == (5, 8)  # the paper's fc6 is 5x8
    assert model.get_layer("identity_pool1").output.shape[1:] == (28, 28, 96)  # skip 1
    assert model.input_shape[0][1:] == (112, 112, 15) and model.output_shape[1:] == (112, 112, 3)
    assert from_preset("speech2vid_masked_lrs2").get_config()["masked_target"]
    preset = get_preset("speech2vid_voxceleb")
    assert preset["training"]["batch_size"] == 64 and preset["citation"]["arxiv"] == "1705.02966"
    deblur = deblur_network()
    assert len([layer for layer in deblur.layers if "conv" in layer.name]) == 10
    image = np.random.rand(1, 40, 40, 3).astype("f")
    assert deblur(image).shape == (1, 40, 40, 3)


def test_content_loss_is_zero_for_identical_images_and_grows_with_error():
    from avse_tf.systems.speech2vid.model import (
        Speech2VidLoss,
        content_features,
        face_encoder,
    )

    features = content_features(face_encoder(32, 0.25))
    real = np.random.default_rng(3).uniform(size=(2, 32, 32, 3)).astype("f")
    l1_only, with_content = Speech2VidLoss(None, 0.0), Speech2VidLoss(features, 1.0)
    assert float(with_content(real, real)) == pytest.approx(0.0, abs=1e-6)
    fake = np.clip(real + 0.2, 0, 1)
    assert float(with_content(real, fake)) > float(l1_only(real, fake)) > 0


def test_image_metrics():
    from avse_tf.errors import MetricInputError
    from avse_tf.metrics import correlation, psnr, speech_envelope, ssim

    rng = np.random.default_rng(4)
    image = rng.uniform(size=(2, 32, 32, 3)).astype("f")
    noisy = np.clip(image + rng.normal(scale=0.05, size=image.shape), 0, 1).astype("f")
    assert 20 < float(np.mean(psnr(image, noisy))) < 30
    assert psnr(image, noisy, per_image=False) == pytest.approx(float(np.mean(psnr(image, noisy))), abs=0.5)
    assert psnr(image, image, per_image=False) == float("inf")
    assert float(np.mean(ssim(image, image))) == pytest.approx(1.0)
    assert float(np.mean(ssim(image, noisy))) < 1.0
    assert correlation([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert correlation([1, 1, 1], [1, 2, 3]) == 0.0
    envelope = speech_envelope(np.concatenate([np.zeros(640), np.ones(640)]), 2)
    np.testing.assert_allclose(envelope, [0.0, 1.0])
    with pytest.raises(MetricInputError):
        psnr(image * 255, image)
