"""`--teacher speech2vid` (issue 19): Speech2Vid's generator behind the Wav2Lip teacher's interface,
its MFCC windows of the clean and the noisy clip in the student reader, distillation through
`avse denoising train_student --teacher speech2vid`, and `evaluate_student` of that student."""

import os

import numpy as np
import pytest

from avse_tf.cli.main import main

S2V_SIZE = 64  # Speech2Vid's S here (the paper's 112): the adapter resizes either way


@pytest.fixture(scope="module")
def speech2vid_checkpoint(tmp_path_factory):
    """A Speech2Vid generator as `avse speech2vid train` saves it (random weights: what is tested here
    is the plumbing, which a trained one goes through alike)."""
    import keras

    from avse_tf.systems.speech2vid.model import speech2vid

    keras.utils.set_random_seed(3)
    path = str(tmp_path_factory.mktemp("speech2vid") / "best.keras")
    speech2vid(image_size=S2V_SIZE, width=0.125, mfcc_mean=[1.0] * 12, mfcc_std=[5.0] * 12).save(path)
    return path


def _clip(records, index=0):
    from avse_tf.records import make_dataset
    from avse_tf.systems.pseudo_visual.pipeline import decode_record

    return [decode_record(record) for record in make_dataset(records, batch_size=1, shuffle=False).unbatch()][index]


def test_the_noisy_clip_carries_the_mixed_span_and_both_feature_windows_match_the_clip(pseudo_visual_preprocessed):
    from avse_tf.data.noise import write_noise_bank
    from avse_tf.systems.pseudo_visual.lipsync import speech_mel_windows
    from avse_tf.systems.pseudo_visual.noisy import NoisyMels
    from avse_tf.systems.pseudo_visual.pipeline import make_student_dataset
    from avse_tf.systems.pseudo_visual.speech2vid_teacher import speech_mfcc_windows

    records = os.path.join(pseudo_visual_preprocessed, "tfrecords", "unseen")
    bank = os.path.join(pseudo_visual_preprocessed, "..", "s2v_bank")
    write_noise_bank(bank, seconds_per_kind=2.0, clip_seconds=2.0, kinds=["pink_noise"])
    clip = _clip(records)
    start, window = 30, 5  # a window whose 1 s noisy span stays inside the 3 s clip
    noisy_mels, _, noisy_clip = NoisyMels(bank, snrs_db=(0.0,))(clip, start, window, seed=5, with_waveform=True)
    clean, noisy_clip = clip["waveform"].numpy(), noisy_clip.numpy()
    assert noisy_clip.shape == clean.shape
    changed = np.flatnonzero(np.abs(noisy_clip - clean) > 1e-6)
    # About 1 s mixed around the window (frames 30-34: samples 19200-22400), the rest left clean.
    assert 15000 < changed[-1] - changed[0] < 17000 and changed[0] < 19200 and changed[-1] > 22400, changed[[0, -1]]
    # The reader's noisy mel windows are the noisy clip's own windows: one mixture, two features.
    np.testing.assert_allclose(noisy_mels.numpy(), speech_mel_windows(noisy_clip)[start:start + window], atol=2e-3)

    batch = next(iter(make_student_dataset(records, bank, batch_size=4, shuffle=False, seed=2, teacher_audio="mfccs")))
    assert batch["mfccs"].shape == batch["noisy_mfccs"].shape == (4, 5, 12, 35)
    assert batch["noisy_mels"].shape == (4, 5, 16, 80)
    first = _clip(records, 0)
    begin = int(batch["start"][0])
    np.testing.assert_allclose(batch["mfccs"][0].numpy(),
                               speech_mfcc_windows(first["waveform"].numpy(), begin + 5)[begin:], atol=1e-3)
    assert np.abs(batch["noisy_mfccs"].numpy() - batch["mfccs"].numpy()).mean() > 0.5  # the noise is in them


def test_the_adapter_feeds_speech2vid_the_reference_face_and_returns_96_pixels(speech2vid_checkpoint):
    import tensorflow as tf

    from avse_tf.systems.pseudo_visual.teacher import masked_input
    from avse_tf.systems.pseudo_visual.train_student import load_teacher

    teacher = load_teacher(speech2vid_checkpoint, teacher="speech2vid")
    speech2vid = teacher.get_layer("speech2vid")
    rng = np.random.default_rng(0)
    faces = rng.uniform(0, 1, (3, 96, 96, 3)).astype(np.float32)
    mfcc = rng.standard_normal((3, 12, 35)).astype(np.float32)
    out = np.asarray(teacher([np.concatenate([masked_input(faces), faces], -1), mfcc]))
    assert out.shape == (3, 96, 96, 3)
    stills = tf.image.resize(faces, (S2V_SIZE, S2V_SIZE), antialias=True)
    direct = speech2vid({"mfcc": tf.constant(mfcc), "identity": tf.concat([stills] * speech2vid.num_identity, -1)})["face"]
    np.testing.assert_allclose(out, tf.image.resize(direct, (96, 96), antialias=True).numpy(), atol=1e-5)


def test_train_student_from_a_speech2vid_teacher_then_evaluate(pseudo_visual_preprocessed, pseudo_visual_teacher,
                                                               speech2vid_checkpoint, tmp_path, capsys):
    from avse_tf.systems.pseudo_visual.evaluate_student import evaluate_student
    from avse_tf.systems.pseudo_visual.train_teacher import load_checkpoint

    base = ["denoising", "train_student", "--data_root_lrs3_pretrain", pseudo_visual_preprocessed, "--teacher",
            "speech2vid", "--epochs", "1", "--steps_per_epoch", "2", "--batch_size", "2", "--seed", "0"]
    # The teacher's checkpoint must be given, and be a Speech2Vid generator: one line, exit 2 each.
    assert main([*base, "--checkpoint_dir", str(tmp_path / "a")]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "--speech2vid_checkpoint_path" in error
    assert main([*base, "--checkpoint_dir", str(tmp_path / "b"), "--speech2vid_checkpoint_path",
                 pseudo_visual_teacher["checkpoint_dir"]]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "speech2vid train" in error

    checkpoint_dir = str(tmp_path / "run")
    assert main([*base, "--checkpoint_dir", checkpoint_dir, "--speech2vid_checkpoint_path", speech2vid_checkpoint]) == 0
    distillation = load_checkpoint(os.path.join(checkpoint_dir, "best.keras"), "student checkpoint")
    assert distillation.teacher_audio == "mfccs" and os.path.isfile(os.path.join(checkpoint_dir, "student.keras"))
    result = evaluate_student(checkpoint_dir, pseudo_visual_preprocessed, str(tmp_path / "eval"), max_clips=1)
    assert result["clips"] == 1
    means = result["means"]
    assert means["teacher clean"]["l1"] == 0.0 and np.isfinite(means["teacher noisy"]["l1"])
    assert means["student noisy"]["l1"] > 0 and os.path.isfile(str(tmp_path / "eval" / "frames.png"))
