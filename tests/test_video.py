"""Video I/O, landmark files, frame-rate alignment, crops."""

import os

import numpy as np
import pytest

from avse_tf.data.synth.face import FaceIdentity, render_face
from avse_tf.errors import NoFaceError, UserInputError, VideoReadError
from avse_tf.video import align, crops
from avse_tf.video.io import read_video, write_video
from avse_tf.video.landmarks import (
    INNER_LIPS,
    JAW,
    LEFT_EYE,
    MOUTH,
    NOSE,
    RIGHT_EYE,
    LandmarkExtractor,
    load_landmarks_txt,
    mouth_opening,
    save_landmarks_txt,
    shape_points,
)

pytestmark = pytest.mark.media  # CI runs these again with AVSE_FFMPEG=bundled


def test_write_read_round_trip_mp4_with_audio(tmp_path):
    identity = FaceIdentity.random(np.random.default_rng(0))
    frames = np.stack([render_face(identity, opening) for opening in np.linspace(0, 1, 10)])
    audio = np.sin(np.arange(6400) / 5).astype(np.float32) * 0.3
    write_video(tmp_path / "clip.mp4", frames, 25.0, audio=audio, sample_rate=16000)
    decoded, fps = read_video(tmp_path / "clip.mp4")
    assert fps == 25.0 and decoded.shape == frames.shape
    assert np.abs(decoded.astype(float) - frames).mean() < 4  # H.264 at crf 20 is near-lossless here
    from avse_tf.audio.io import load_audio

    assert load_audio(tmp_path / "clip.mp4").size == 6400  # the MP4 edit list's exact length
    assert sorted(os.listdir(tmp_path)) == ["clip.mp4"]


def test_corrupt_and_empty_videos(tmp_path):
    (tmp_path / "empty.mpg").write_bytes(b"")
    (tmp_path / "junk.mpg").write_bytes(os.urandom(5000))
    for name in ("empty.mpg", "junk.mpg", "missing.mpg"):
        with pytest.raises(VideoReadError) as error:
            read_video(tmp_path / name)
        assert name in str(error.value)


def test_landmarks_follow_the_rendered_mouth():
    identity = FaceIdentity.random(np.random.default_rng(5))
    frames = np.stack([render_face(identity, opening) for opening in np.linspace(0, 1, 12)])
    track = LandmarkExtractor().extract(frames)
    assert track.points.shape == (12, 68, 2)
    opening = mouth_opening(track.points)
    assert np.corrcoef(opening, np.linspace(0, 1, 12))[0, 1] > 0.95
    # The tracker policy re-runs the detector every 8 frames (and on frame 0).
    assert track.detected[0] and track.detected[8]


def test_landmark_ranges_are_the_68_point_scheme_and_sit_where_their_names_say():
    # iBUG 300-W, 0-based and end-exclusive, as imutils.face_utils.FACIAL_LANDMARKS_68_IDXS has them.
    assert (JAW, NOSE, RIGHT_EYE, LEFT_EYE, MOUTH, INNER_LIPS) == (
        slice(0, 17), slice(27, 36), slice(36, 42), slice(42, 48), slice(48, 68), slice(60, 68))
    identity = FaceIdentity.random(np.random.default_rng(3))
    points = LandmarkExtractor().extract(render_face(identity, 0.7)[None]).points[0]
    centre = {name: points[part].mean(axis=0) for name, part in
              (("nose", NOSE), ("right_eye", RIGHT_EYE), ("left_eye", LEFT_EYE), ("mouth", MOUTH))}
    assert centre["right_eye"][0] < centre["nose"][0] < centre["left_eye"][0]  # the subject's right = image left
    assert max(centre["right_eye"][1], centre["left_eye"][1]) < centre["nose"][1] < centre["mouth"][1]
    assert points[JAW][:, 1].max() > centre["mouth"][1]  # the chin is below the mouth
    inner, outer = points[INNER_LIPS], points[MOUTH]
    assert np.all(inner.min(axis=0) >= outer.min(axis=0)) and np.all(inner.max(axis=0) <= outer.max(axis=0))


def test_shape_points_reads_a_dlib_shape():
    import dlib

    xy = np.random.default_rng(4).integers(0, 300, size=(68, 2))
    shape = dlib.full_object_detection(dlib.rectangle(0, 0, 300, 300), [dlib.point(int(x), int(y)) for x, y in xy])
    points = shape_points(shape)
    assert points.dtype == np.float32 and np.array_equal(points, xy)


def test_no_face_is_a_clear_error():
    blank = np.full((5, 288, 360, 3), 128, np.uint8)
    with pytest.raises(NoFaceError) as error:
        LandmarkExtractor().extract(blank, source="blank.mpg")
    assert "blank.mpg" in str(error.value)


def test_landmark_txt_round_trip_and_shape_checks(tmp_path):
    points = np.random.default_rng(1).uniform(0, 300, size=(75, 68, 2)).astype(np.float32)
    save_landmarks_txt(tmp_path / "a.txt", points)
    loaded = load_landmarks_txt(tmp_path / "a.txt", num_frames=75)
    assert loaded.shape == (75, 136)
    assert np.allclose(loaded.reshape(75, 68, 2), points, atol=0.006)
    np.savetxt(tmp_path / "bad.txt", np.zeros((75, 130)))
    with pytest.raises(UserInputError, match="expected \\[frames, 136\\]"):
        load_landmarks_txt(tmp_path / "bad.txt")
    with pytest.raises(UserInputError, match="expected 70"):
        load_landmarks_txt(tmp_path / "a.txt", num_frames=70)


def test_upsampling_to_audio_frames():
    video = np.stack([np.arange(75), np.arange(75) * 2], axis=1).astype(np.float32)
    up = align.upsample_to_frames(video, 302)
    assert up.shape == (302, 2)
    assert np.allclose(up[0], video[0]) and np.allclose(up[-1], video[-1])
    assert np.allclose(np.diff(up[:, 0]), 74 / 301, atol=1e-4)  # linear in between


def test_deltas():
    features = np.array([[0.0], [1.0], [3.0], [6.0]], np.float32)
    assert np.array_equal(align.deltas(features, 0), features)
    assert np.array_equal(align.deltas(features, 1)[:, 0], [0, 1, 2, 3])
    assert np.array_equal(align.deltas(features, 2)[:, 0], [0, 1, 1, 1])
    with pytest.raises(UserInputError):
        align.deltas(features, 3)


def test_pad_or_trim_frames():
    features = np.arange(72, dtype=np.float32)[:, None]
    padded = align.pad_or_trim_frames(features, 75, min_frames=70)
    assert padded.shape == (75, 1) and np.all(padded[:3] == 0) and padded[-1, 0] == 71
    assert align.pad_or_trim_frames(np.arange(80.0)[:, None], 75).shape == (75, 1)
    with pytest.raises(UserInputError, match="69 frames"):
        align.pad_or_trim_frames(np.zeros((69, 1)), 75, min_frames=70)


def test_face_and_mouth_crops():
    identity = FaceIdentity.random(np.random.default_rng(2))
    frame = render_face(identity, 0.8)
    points = LandmarkExtractor().extract(frame[None]).points[0]
    face = crops.face_crop(frame, points, size=112)
    mouth = crops.mouth_crop(frame, points, size=64)
    assert face.shape == (112, 112, 3) and mouth.shape == (64, 64, 3)
    # The open mouth is dark: the mouth crop's centre is darker than the face crop's average.
    assert mouth[24:40, 24:40].mean() < face.mean()
    # A face at the frame's edge still crops (edge replication, no shape error).
    shifted = points + np.array([170.0, 0.0])
    assert crops.face_crop(frame, shifted).shape == (112, 112, 3)


def test_default_shape_predictor_is_found_without_pkg_resources(monkeypatch):
    """face-recognition-models' own ``__init__`` imports ``pkg_resources``, which setuptools >= 81
    dropped (and Python >= 3.12 venvs lack): the model file is located without importing it, and
    the landmark extractor loads it."""
    import sys

    from avse_tf.video.landmarks import default_shape_predictor

    monkeypatch.setitem(sys.modules, "pkg_resources", None)  # "import pkg_resources" raises
    monkeypatch.delitem(sys.modules, "face_recognition_models", raising=False)
    path = default_shape_predictor()
    assert path.endswith("shape_predictor_68_face_landmarks.dat") and os.path.getsize(path) > 50_000_000
    assert "face_recognition_models" not in sys.modules
    frames = np.stack([render_face(FaceIdentity.random(np.random.default_rng(0)), 0.3)] * 2)
    assert LandmarkExtractor(path).extract(frames).points.shape == (2, 68, 2)
