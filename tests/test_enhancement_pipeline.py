"""The enhancement system end to end through its command line, on a small synthetic corpus.

Speakers s1-s3 train, s4-s6 validate and s7-s9... are not needed here: the learning check lives
in the recipe test; this module checks the plumbing: records in both modes read back exactly,
training resumes after a kill, testing writes wavs, masks and metrics, bad input is one line.
"""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from avse_tf.cli.main import main


@pytest.fixture(scope="module")
def prepared(enhancement_corpus):
    return enhancement_corpus


@pytest.mark.parametrize("mode", ["fixed", "var"])
def test_records_read_back_exactly(prepared, mode):
    from avse_tf.data.mixing import load_manifest
    from avse_tf.records import read_examples
    from avse_tf.systems.landmark_enhancement.pipeline import example_features

    assert main(["enhancement", "tfrecords_generator", "--data_dir", prepared, "--mode", mode,
                 "--dest_dir", f"records_{mode}"]) == 0
    examples = read_examples(os.path.join(prepared, f"records_{mode}", "TEST_SET", "records.json"))
    entries = load_manifest(os.path.join(prepared, "mix", "TEST_SET"))
    assert len(examples) == len(entries) == 3
    for example, entry in zip(examples, entries):
        expected = example_features(entry, prepared, num_audio_samples=48000 if mode == "fixed" else None)
        for name in ("target_wav", "interferers_wav", "mixture_wav", "tbm"):
            assert np.array_equal(np.asarray(example[name]).reshape(-1), expected[name].reshape(-1)), name
        assert int(example["sequence_length"]) == 302
    stats = np.load(os.path.join(prepared, f"records_{mode}", "normalization.npz"))
    assert stats["spectrogram_mean"].shape == (257,) and stats["video_std"].shape == (136,)


def test_wrong_length_clip_in_both_modes(prepared, caplog):
    from avse_tf.audio.io import load_audio, write_audio
    from avse_tf.data.mixing import load_manifest
    from avse_tf.systems.landmark_enhancement.pipeline import example_features

    entry = dict(load_manifest(os.path.join(prepared, "mix", "TEST_SET"))[0])
    short = os.path.join(os.path.dirname(prepared), "short.wav")
    write_audio(short, load_audio(entry["target"])[:47000], 16000)
    entry["target"] = short
    fixed = example_features(entry, prepared, num_audio_samples=48000)
    assert fixed["target_wav"].size == 48000 and "zero-padded" in caplog.text
    variable = example_features(entry, prepared, num_audio_samples=None)
    assert variable["target_wav"].size == 47000 and variable["sequence_length"] == 296


def test_training_testing_and_resume(prepared, tmp_path):
    common = ["--data_dir", prepared, "--train_set", "records_fixed/TRAINING_SET", "--val_set",
              "records_fixed/VALIDATION_SET", "--model", "av_concat_mask", "--hidden_units", "16", "--layers", "1",
              "--batch_size", "2", "--seed", "3"]
    if not os.path.isdir(os.path.join(prepared, "records_fixed")):
        assert main(["enhancement", "tfrecords_generator", "--data_dir", prepared, "--dest_dir", "records_fixed"]) == 0
    # Kill a run mid-way (SIGKILL, nothing flushed), then run the same command: it resumes and finishes.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    command = [sys.executable, "-m", "avse_tf", "enhancement", "training", *common, "--exp", "killed", "--epochs", "40"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    history = os.path.join(prepared, "experiments", "killed", "history.csv")
    deadline = time.time() + 240
    while time.time() < deadline and (not os.path.exists(history) or len(open(history).read().splitlines()) < 3):
        time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    process.wait()
    epochs_before = len(open(history).read().splitlines()) - 1
    assert 2 <= epochs_before < 40
    # The backup is written after an epoch's history row: a kill between the two leaves that epoch
    # logged but not backed up, and it runs again (its row is replaced, not repeated).
    metadata = os.path.join(prepared, "experiments", "killed", "backup", "training_metadata.json")
    backed_up = json.load(open(metadata))["epoch"] if os.path.isfile(metadata) else 0
    assert epochs_before - 1 <= backed_up <= epochs_before
    assert main(["enhancement", "training", *common, "--exp", "killed", "--epochs", str(epochs_before + 2),
                 "--patience", "100"]) == 0
    rows = open(history).read().splitlines()[1:]
    epochs = [int(row.split(",")[0]) for row in rows]
    assert epochs == list(range(epochs_before + 2))  # nothing lost or repeated, and it went on from where it stopped
    done = json.load(open(os.path.join(prepared, "experiments", "killed", "done.json")))
    assert done["epochs_run_this_call"] == epochs_before + 2 - backed_up

    assert main(["enhancement", "testing", "--data_dir", prepared, "--test_set", "records_fixed/TEST_SET",
                 "--exp", "killed", "--mask_dir", "estimated", "--metrics", "sdr,stoi"]) == 0
    out = os.path.join(prepared, "enhanced", "killed")
    wavs = [name for folder, _, names in os.walk(out) for name in names if name.endswith(".wav")]
    assert len(wavs) == 3
    assert os.path.isfile(os.path.join(out, "metrics_av_concat_mask.csv"))
    masks = os.listdir(os.path.join(prepared, "s4", "estimated"))
    assert sum(name.endswith(".png") for name in masks) == sum(name.endswith(".npy") for name in masks) == 3
    # The video ablation: same examples, other outputs (the learning claim is in test_enhancement_claims.py).
    assert main(["enhancement", "testing", "--data_dir", prepared, "--test_set", "records_fixed/TEST_SET",
                 "--exp", "killed", "--metrics", "sdr", "--output_dir", "zeroed", "--zero_video"]) == 0
    normal, zeroed = (list(csv.DictReader(open(os.path.join(prepared, folder, "killed", "metrics_av_concat_mask.csv"))))
                      for folder in ("enhanced", "zeroed"))
    assert [row["mixture"] for row in normal] == [row["mixture"] for row in zeroed]
    assert any(abs(float(a["sdr_enhanced"]) - float(b["sdr_enhanced"])) > 1e-4 for a, b in zip(normal, zeroed))


def test_bad_inputs_are_one_line(prepared, tmp_path, capsys):
    bad_landmarks = tmp_path / "corpus"
    # A landmark file with the wrong shape.
    import shutil

    shutil.copytree(prepared, bad_landmarks, ignore=shutil.ignore_patterns("records_*", "experiments", "enhanced"))
    target = bad_landmarks / "s4" / "landmarks"
    first = sorted(target.iterdir())[0]
    np.savetxt(first, np.zeros((75, 100)))
    assert main(["enhancement", "tfrecords_generator", "--data_dir", str(bad_landmarks), "--dest_dir", "r"]) == 2
    assert "expected [frames, 136]" in capsys.readouterr().err
    # Landmarks of the wrong length for the audio (mismatched audio/video).
    np.savetxt(first, np.zeros((40, 136)))
    assert main(["enhancement", "tfrecords_generator", "--data_dir", str(bad_landmarks), "--dest_dir", "r2"]) == 2
    error = capsys.readouterr().err
    assert "lasts 3.00 s but" in error and "has 40 video frames (1.60 s at 25 fps)" in error
    # A corrupt record file.
    records = bad_landmarks / "corrupt"
    shutil.copytree(os.path.join(prepared, "records_fixed"), records)
    shard = sorted((records / "TEST_SET").glob("*.tfrecord*"))[0]
    shard.write_bytes(shard.read_bytes()[:200])
    assert main(["enhancement", "testing", "--data_dir", str(bad_landmarks), "--test_set", "corrupt/TEST_SET",
                 "--exp", "x", "--ckp", os.path.join(prepared, "experiments", "killed", "best.keras")]) == 2
    error = capsys.readouterr().err
    assert "corrupt" in error and len(error.strip().splitlines()) == 1
    # A corrupt model file.
    (tmp_path / "broken.keras").write_bytes(b"PK not a model")
    assert main(["enhancement", "testing", "--data_dir", prepared, "--test_set", "records_fixed/TEST_SET",
                 "--exp", "x", "--ckp", str(tmp_path / "broken.keras")]) == 2
    assert "cannot load model" in capsys.readouterr().err


def test_three_speaker_records_and_testing(prepared, capsys):
    """The 3-speaker path of the paper's second table: mixtures with two interferers -> records
    (--num_speakers 3) -> a model enhances them; a 2-speaker set asked for 3 speakers is one line."""
    from avse_tf.data.mixing import generate_mixtures, load_manifest
    from avse_tf.records import read_examples

    for name, base, seed in (("TRAINING_SET", [1, 2], 1), ("VALIDATION_SET", [3], 2), ("TEST_SET", [4], 3)):
        generate_mixtures(prepared, base, [1, 2, 3, 4], dest_dir=f"mix3/{name}", num_samples=3, num_mix=1,
                          num_mix_speakers=2, seed=seed)
    assert main(["enhancement", "tfrecords_generator", "--data_dir", prepared, "--num_speakers", "3",
                 "--mix_audio_dir", "mix3", "--dest_dir", "records3"]) == 0
    entries = load_manifest(os.path.join(prepared, "mix3", "TEST_SET"))
    examples = read_examples(os.path.join(prepared, "records3", "TEST_SET", "records.json"))
    assert len(examples) == len(entries) == 3
    for example, entry in zip(examples, entries):
        assert len({i["speaker"] for i in entry["interferers"]} | {entry["speaker"]}) == 3
        target = np.asarray(example["target_wav"]).reshape(-1)
        interferers = np.asarray(example["interferers_wav"]).reshape(-1)
        mixture = np.asarray(example["mixture_wav"]).reshape(-1)
        np.testing.assert_allclose(mixture, target + interferers, atol=1e-6)
        assert np.abs(interferers).max() > 0.01 and np.abs(target).max() > 0.01
    # A 2-speaker model runs on 3-speaker mixtures (the paper's cross-condition use) and reports metrics.
    if not os.path.isfile(os.path.join(prepared, "experiments", "three", "best.keras")):
        assert main(["enhancement", "training", "--data_dir", prepared, "--train_set", "records3/TRAINING_SET",
                     "--val_set", "records3/VALIDATION_SET", "--model", "vl2m", "--hidden_units", "8",
                     "--layers", "1", "--batch_size", "2", "--epochs", "1", "--exp", "three"]) == 0
    assert main(["enhancement", "testing", "--data_dir", prepared, "--test_set", "records3/TEST_SET",
                 "--exp", "three", "--metrics", "sdr"]) == 0
    assert "sdr" in capsys.readouterr().out
    # Asking the 2-speaker mixtures for 3-speaker records: one clear line, exit code 2.
    assert main(["enhancement", "tfrecords_generator", "--data_dir", prepared, "--num_speakers", "3",
                 "--mix_audio_dir", "mix", "--dest_dir", "wrong"]) == 2
    error = capsys.readouterr().err.strip()
    assert "3-speaker" in error and len(error.splitlines()) == 1


def test_training_on_var_records_in_length_buckets(prepared, capsys):
    """`--length_buckets` trains from var-mode records; on fixed-mode records, or out of order, it is
    one line and exit code 2."""
    for mode in ("var", "fixed"):
        if not os.path.isfile(os.path.join(prepared, f"records_{mode}", "TRAINING_SET", "records.json")):
            assert main(["enhancement", "tfrecords_generator", "--data_dir", prepared, "--mode", mode,
                         "--dest_dir", f"records_{mode}"]) == 0
    common = ["enhancement", "training", "--data_dir", prepared, "--model", "vl2m", "--hidden_units", "8",
              "--layers", "1", "--batch_size", "2", "--epochs", "1"]
    assert main(common + ["--train_set", "records_var/TRAINING_SET", "--val_set", "records_var/VALIDATION_SET",
                          "--exp", "buckets", "--length_buckets", "200,400"]) == 0
    assert os.path.isfile(os.path.join(prepared, "experiments", "buckets", "best.keras"))
    capsys.readouterr()
    assert main(common + ["--train_set", "records_fixed/TRAINING_SET", "--val_set", "records_fixed/VALIDATION_SET",
                          "--exp", "fixed_buckets", "--length_buckets", "200"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "var-mode" in error
    with pytest.raises(SystemExit) as exit_info:
        main(common + ["--train_set", "records_var/TRAINING_SET", "--val_set", "records_var/VALIDATION_SET",
                       "--exp", "bad", "--length_buckets", "400,200"])
    assert exit_info.value.code == 2 and "increasing" in capsys.readouterr().err
