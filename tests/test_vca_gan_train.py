"""VCA-GAN's commands end to end on preprocessed synthetic clips: train (GAN and regression-only),
test (scores, saved mel / wav, baseline), resume after a kill."""

import csv
import json
import os

import numpy as np
import pytest

from avse_tf.cli.main import main


def _train(grid, checkpoint_dir, *extra):
    return ["lip2speech", "train", "--grid", grid, "--checkpoint_dir", checkpoint_dir, "--preset", "vca_gan_cpu",
            "--batch_size", "2", "--seed", "0", *extra]


def test_regression_only_steps_leave_the_discriminators_alone():
    import keras
    import tensorflow as tf

    from avse_tf.systems.presets import from_preset
    from avse_tf.systems.vca_gan.model import make_optimizers

    keras.utils.set_random_seed(0)
    model = from_preset("vca_gan_cpu")
    model.compile(*make_optimizers(learning_rate=1e-3), loss_weights={"adversarial": 0.0, "sync": 0.0})
    assert model.regression_only
    batch = {"video": tf.random.normal([2, 8, 112, 112, 1]), "video_length": tf.constant([8, 6]),
             "mel": tf.random.uniform([2, 32, 80], -1, 1), "linear": tf.random.uniform([2, 32, 321])}
    discriminators = [v.numpy().copy() for v in model.discriminator_variables]
    generator = [v.numpy().copy() for v in model.generator_variables]
    logs = {key: values[-1] for key, values in
            model.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0).history.items()}
    assert set(logs) >= {"loss", "g_loss", "mel_l1", "linear_l1"} and "d_loss" not in logs
    np.testing.assert_allclose(logs["g_loss"], 50 * logs["loss"], rtol=1e-5)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(discriminators, model.discriminator_variables))
    assert sum(not np.array_equal(a, v.numpy()) for a, v in zip(generator, model.generator_variables)) > 10


def test_train_then_test_write_checkpoint_tensorboard_scores_mels_and_wavs(lip2speech_data, tmp_path):
    from avse_tf.records.reader import load_manifest
    from avse_tf.systems.vca_gan.train import split_manifest

    exp = str(tmp_path / "gan")
    assert main(_train(lip2speech_data, exp, "--epochs", "2")) == 0
    for name in ("best.keras", "last.keras", "history.csv", "done.json", "config.json"):
        assert os.path.isfile(os.path.join(exp, name)), name
    with open(os.path.join(exp, "history.csv"), encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["0", "1"]
    assert {"g_adversarial", "d_loss", "r1", "sync_nce", "val_loss"} <= set(rows[0])
    samples = os.path.join(exp, "logs", "samples")
    assert any(name.startswith("events") for name in os.listdir(samples))  # mel images and audio

    out = str(tmp_path / "scores")
    assert main(["lip2speech", "test", "--grid", lip2speech_data, "--checkpoint", exp, "--split", "unseen",
                 "--save_mel", "--save_wav", "--nearest_neighbour", "--output_dir", out,
                 "--griffin_lim_iterations", "8"]) == 0
    clips = load_manifest(split_manifest(lip2speech_data, "unseen")).num_examples
    with open(os.path.join(out, "scores.csv"), encoding="utf-8") as handle:
        scores = list(csv.DictReader(handle))
    assert len(scores) == clips == 3
    with open(os.path.join(out, "summary.json"), encoding="utf-8") as handle:
        summary = json.load(handle)
    for name in ("model", "nearest_neighbour"):
        assert {"stoi", "estoi", "pesq_nb", "pesq_wb", "mcd", "wer"} <= set(summary[name])
        assert all(np.isfinite(summary[name][key]) for key in ("stoi", "estoi", "pesq_nb", "pesq_wb", "mcd"))
    assert 0.0 <= summary["clean"]["wer"] < 0.5  # the recogniser's floor on the clean clips
    # An untrained generator is not speech; the nearest neighbour is real speech of other words.
    assert summary["model"]["wer"] > summary["clean"]["wer"]
    from avse_tf.audio.io import load_audio

    for row in scores:
        with np.load(os.path.join(out, "mel", row["clip"] + ".npz")) as saved:
            assert saved["mel"].shape == (300, 80) and saved["linear"].shape == (300, 321)
        assert load_audio(os.path.join(out, "wav", row["clip"] + ".wav")).size == 75 * 640


def test_missing_records_are_one_line_with_the_command_to_run(tmp_path, capsys):
    assert main(_train(str(tmp_path), str(tmp_path / "e"), "--epochs", "1")) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "avse lip2speech preprocess" in error[0] and "training records" in error[0]


@pytest.mark.slow
def test_gan_training_killed_resumes_every_epoch_once(lip2speech_data, tmp_path):
    """kill -9 after a seeded number of atomic writes in GAN training, the same command again: every
    epoch in the history exactly once, and the backup (both optimisers' state: the fit engine's, see
    test_vca_gan_model's resume test) consumed."""
    from fault_tools import draw, kill_after_writes, rerun

    epochs = 2
    command = _train(lip2speech_data, str(tmp_path / "gan"), "--epochs", str(epochs))
    # config.json, then per epoch best.keras, best_val_loss.json, last.keras, backup (2 files):
    # killed in epoch 0 or 1, wherever in its writes.
    writes = draw("lip2speech train", 2, 8)
    kill_after_writes(command, str(tmp_path / "log"), writes, f"lip2speech train after {writes} writes")
    assert not os.path.isfile(str(tmp_path / "gan" / "done.json"))
    rerun(command)
    with open(tmp_path / "gan" / "history.csv", encoding="utf-8") as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == [str(e) for e in range(epochs)]
    assert os.path.isfile(tmp_path / "gan" / "done.json")
    assert not os.path.exists(tmp_path / "gan" / "backup")
