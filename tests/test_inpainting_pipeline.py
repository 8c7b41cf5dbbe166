"""The inpainting system end to end through its command line, on a small synthetic corpus.

s1-s2 train, s3 validates, s4 is the unseen test speaker. Checks the plumbing (gap sets are
reproducible and stored with the records, training, testing with the PER recogniser, wavs and
figures) and the user-facing ``inpaint`` command with its edge cases; the learning checks are
the unit test ``test_training_lowers_the_gap_l1`` and the recipe in the model card.
"""

import json
import os

import numpy as np
import pytest

from avse_tf.cli.main import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    from avse_tf.data.preprocess import extract_landmarks
    from avse_tf.data.synth.corpus import generate_grid_corpus

    root = str(tmp_path_factory.mktemp("inpainting") / "corpus")
    generate_grid_corpus(root, speakers=4, utterances=3, seed=5)
    extract_landmarks(root, [1, 2, 3, 4], show_progress=False)
    assert main(["inpainting", "audio_preprocessing", "--data_dir", root, "--speaker_ids", "1", "2", "3", "4"]) == 0
    assert main(["inpainting", "gap_generator", "--data_dir", root, "--train_speakers", "1", "2", "--val_speakers", "3",
                 "--test_speakers", "4", "--seed", "11", "--train_copies", "2", "--test_gaps", "400,1600"]) == 0
    assert main(["inpainting", "tfrecords_generator", "--data_dir", root]) == 0
    common = ["--data_dir", root, "--hidden_units", "8", "--layers", "1", "--batch_size", "6", "--seed", "1"]
    for model, epochs in (("a_blstm", "2"), ("av_blstm_mtl", "2"), ("phone_recognizer", "1")):
        assert main(["inpainting", "training", *common, "--model", model, "--exp", model, "--epochs", epochs]) == 0
    return root


def test_gap_sets_are_reproducible_and_stored_with_the_records(prepared, tmp_path):
    from avse_tf.records import read_examples
    from avse_tf.systems.av_inpainting.pipeline import generate_gap_sets

    sets = sorted(os.listdir(os.path.join(prepared, "gaps")))
    assert sets == ["TEST_SET.json", "TEST_SET_1600ms.json", "TEST_SET_400ms.json", "TRAINING_SET.json",
                    "VALIDATION_SET.json"]
    split = {"TRAINING_SET": [1, 2], "VALIDATION_SET": [3], "TEST_SET": [4]}
    again = generate_gap_sets(prepared, split, gaps_dir=str(tmp_path / "again"), seed=11, test_gap_ms=(400, 1600),
                              train_copies=2)
    for name in sets:
        original = json.load(open(os.path.join(prepared, "gaps", name)))
        assert json.load(open(again[name[:-5]])) == original, name
    other = generate_gap_sets(prepared, split, gaps_dir=str(tmp_path / "other"), seed=12, test_gap_ms=(400,))
    assert json.load(open(other["TEST_SET_400ms"]))["entries"] != json.load(
        open(os.path.join(prepared, "gaps", "TEST_SET_400ms.json")))["entries"]
    training = json.load(open(os.path.join(prepared, "gaps", "TRAINING_SET.json")))
    assert len(training["entries"]) == 2 * 3 * 2  # 2 speakers x 3 clips x 2 gap draws
    for set_name in ("TRAINING_SET", "TEST_SET_1600ms"):
        folder = os.path.join(prepared, "inpainting_records", set_name)
        stored = json.load(open(os.path.join(folder, "gaps.json")))
        examples = read_examples(os.path.join(folder, "records.json"))
        by_clip = {(e["speaker"], e["utterance"], e["copy"]): e["gaps"] for e in stored["entries"]}
        copies = {}
        for example in examples:
            key = (example["speaker"].decode(), example["utterance"].decode())
            copy = copies.setdefault(key, 0)
            copies[key] += 1
            frames = np.flatnonzero(example["gap_mask"].reshape(-1))
            expected = np.concatenate([np.arange(a, a + n) for a, n in by_clip[(*key, copy)]])
            assert np.array_equal(frames, expected)
            assert example["clean_spectrogram"].shape == (250, 257) and example["video_features"].shape == (250, 136)
            assert 10 < int(example["num_phones"]) <= 30
        if set_name == "TEST_SET_1600ms":
            assert all(e["gaps"][0][1] == 133 for e in stored["entries"])
    stats = np.load(os.path.join(prepared, "inpainting_records", "normalization.npz"))
    assert stats["spectrogram_mean"].shape == (257,) and stats["video_std"].shape == (136,)


def test_testing_writes_metrics_wavs_and_figures(prepared, capsys):
    assert main(["inpainting", "testing", "--data_dir", prepared, "--test_set", "inpainting_records/TEST_SET_400ms",
                 "--exp", "av_blstm_mtl", "--recognizer", os.path.join(prepared, "experiments", "phone_recognizer"),
                 "--phase", "griffin_lim"]) == 0
    printed = capsys.readouterr().out
    assert "unprocessed" in printed and "inpainted" in printed
    out = os.path.join(prepared, "inpainted", "av_blstm_mtl", "TEST_SET_400ms")
    import csv

    from avse_tf.metrics import edit_distance
    from avse_tf.systems.av_inpainting.phone_recognizer import recognizer_per

    rows = list(csv.DictReader(open(os.path.join(out, "metrics_av_blstm_mtl.csv"))))
    assert len(rows) == 3
    # The PER columns score each row's own utterance: its clean-speech errors and phone count equal
    # what the recogniser hears in the corpus wav against the corpus alignment, clip by clip.
    clean = recognizer_per(os.path.join(prepared, "experiments", "phone_recognizer"), prepared,
                           [(4, row["utterance"]) for row in rows])
    for row, (_, utterance, reference, heard) in zip(rows, clean["examples"]):
        assert float(row["gap_ms"]) == 33 * 12.0
        assert float(row["stoi_inpainted"]) > float(row["stoi_unprocessed"])  # anything beats silence in the gap
        assert int(row["blstm_phones"]) == len(reference) > 10, (row, utterance)
        assert int(row["blstm_phone_errors_clean"]) == edit_distance(reference, heard), (row, utterance)
        # PocketSphinx's PER / WER against the GRID sentence, with its clean-speech floor
        assert int(row["wer_reference_length"]) == 6 and int(row["per_reference_length"]) > 10, row
        for metric in ("per", "wer"):
            assert 0 <= float(row[f"{metric}_clean"]) <= float(row[f"{metric}_unprocessed"]) + 0.5, row
    assert len([n for n in os.listdir(os.path.join(out, "s4")) if n.endswith(".wav")]) == 3
    assert len([n for n in os.listdir(os.path.join(out, "s4")) if n.endswith(".png")]) == 2
    # Oracle phase: the analysis mode.
    assert main(["inpainting", "testing", "--data_dir", prepared, "--test_set", "inpainting_records/TEST_SET_400ms",
                 "--exp", "a_blstm", "--oracle_phase", "--output_dir", "oracle"]) == 0


def test_inpaint_a_users_file(prepared, tmp_path, capsys):
    from avse_tf.audio.io import load_audio, write_audio

    wav = os.path.join(prepared, "s4", "audio", sorted(os.listdir(os.path.join(prepared, "s4", "audio")))[0])
    clean = load_audio(wav)
    experiment = os.path.join(prepared, "experiments", "a_blstm")
    # Gaps at the very start and the very end.
    output = str(tmp_path / "edges.wav")
    assert main(["inpainting", "inpaint", "--input", wav, "--gaps", "0:0.2,2.8:3.5", "--ckp", experiment,
                 "--output", output, "--reference", wav]) == 0
    restored = load_audio(output)
    assert restored.size == clean.size
    # Reliable audio is the input's (to 16-bit precision) away from the gaps' frames.
    np.testing.assert_allclose(restored[5000:43000], clean[5000:43000], atol=2.0 / 32768)
    assert not np.allclose(restored[:3000], clean[:3000], atol=1e-3)
    assert os.path.getsize(str(tmp_path / "edges.png")) > 1000
    # Gaps found as digital silence.
    holed = clean.copy()
    holed[16000:20800] = 0.0
    write_audio(tmp_path / "holed.wav", holed)
    assert main(["inpainting", "inpaint", "--input", str(tmp_path / "holed.wav"), "--ckp", experiment,
                 "--output", str(tmp_path / "filled.wav")]) == 0
    filled = load_audio(str(tmp_path / "filled.wav"))
    assert np.abs(filled[16500:20300]).max() > 0 and "1.000-1.300 s" in capsys.readouterr().out
    # Clear one-line errors.
    for arguments, message in (
            (["--gaps", "0:3.0"], "cover the whole"),
            (["--gaps", "3.5:4"], "starts after the end"),
            (["--gaps", "2:1"], "bad gap"),
            (["--ckp", os.path.join(prepared, "experiments", "av_blstm_mtl"), "--gaps", "1:1.2"], "pass --video")):
        command = ["inpainting", "inpaint", "--input", wav, "--ckp", experiment, "--output", str(tmp_path / "x.wav"),
                   *arguments]
        assert main(command) == 2
        error = capsys.readouterr().err
        assert message in error and len(error.strip().splitlines()) == 1
    write_audio(tmp_path / "silent.wav", np.zeros(16000, np.float32))
    assert main(["inpainting", "inpaint", "--input", str(tmp_path / "silent.wav"), "--ckp", experiment,
                 "--output", str(tmp_path / "y.wav")]) == 2
    assert "cover the whole" in capsys.readouterr().err


def test_av_inpaint_with_video_and_a_video_missing_frames(prepared, tmp_path, capsys):
    from avse_tf.video.io import read_video, write_video

    name = sorted(os.listdir(os.path.join(prepared, "s4", "audio")))[0][:-4]
    wav = os.path.join(prepared, "s4", "audio", name + ".wav")
    video = os.path.join(prepared, "s4", "video", name + ".mpg")
    experiment = os.path.join(prepared, "experiments", "av_blstm_mtl")
    assert main(["inpainting", "inpaint", "--input", wav, "--video", video, "--gaps", "1.0:1.8", "--ckp", experiment,
                 "--output", str(tmp_path / "av.wav")]) == 0
    frames, fps = read_video(video)
    write_video(str(tmp_path / "short.mp4"), frames[:50], fps)
    assert main(["inpainting", "inpaint", "--input", wav, "--video", str(tmp_path / "short.mp4"), "--gaps", "1.0:1.8",
                 "--ckp", experiment, "--output", str(tmp_path / "av2.wav")]) == 2
    assert "missing frames" in capsys.readouterr().err
    # 72 of 75 frames: padded by repeating the first frame, as the original did for 70-74.
    write_video(str(tmp_path / "almost.mp4"), frames[:72], fps)
    assert main(["inpainting", "inpaint", "--input", wav, "--video", str(tmp_path / "almost.mp4"), "--gaps",
                 "1.0:1.8", "--ckp", experiment, "--output", str(tmp_path / "av3.wav")]) == 0


def test_records_without_alignments_train_a_and_av_models_only(prepared, capsys):
    """Phone labels are optional (issue 16): a corpus without ``.align`` files gives records whose
    manifest lists the clips without phones; A / AV models train on them, an MTL model is refused
    with one line that names ``avse align``."""
    from avse_tf.records import load_manifest
    from avse_tf.systems.av_inpainting.pipeline import WITHOUT_PHONES_KEY, generate_records

    sets = ("TRAINING_SET", "VALIDATION_SET")
    generate_records(prepared, dest_dir="records_without_align", sets=sets, align_dir="no_align_here")
    manifest = load_manifest(os.path.join(prepared, "records_without_align", "TRAINING_SET", "records.json"))
    training_clips = [f"s{k}/{name[:-6]}" for k in (1, 2)
                      for name in sorted(os.listdir(os.path.join(prepared, f"s{k}", "align")))]
    assert manifest.metadata[WITHOUT_PHONES_KEY] == training_clips
    with_align = load_manifest(os.path.join(prepared, "inpainting_records", "TRAINING_SET", "records.json"))
    assert with_align.metadata[WITHOUT_PHONES_KEY] == []
    common = ["inpainting", "training", "--data_dir", prepared, "--train_set", "records_without_align/TRAINING_SET",
              "--val_set", "records_without_align/VALIDATION_SET", "--hidden_units", "8", "--layers", "1",
              "--epochs", "1", "--seed", "1"]
    capsys.readouterr()
    assert main([*common, "--model", "a_blstm", "--exp", "a_without_align"]) == 0
    assert main([*common, "--model", "av_blstm_mtl", "--exp", "mtl_without_align"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "needs phone labels" in error[0] and "avse align" in error[0], error
    assert not os.path.exists(os.path.join(prepared, "experiments", "mtl_without_align", "history.csv"))
