"""tools/corpus_transfer.py: train on one synthetic corpus, test on a second made with other settings.

The fast tests cover the ``key=value`` corpus settings (typed from ``generate_grid_corpus``'s
signature, so a keyword it gains works at once) and the recipes' ``--voices`` flag reaching the
generator. The slow one runs the tool at a tiny size (8 speakers x 2 utterances, 16 x 1 BLSTM,
1 epoch; about 40 s on 2 cores) and checks the tables, the target corpus, that the target records
carry the SOURCE training statistics, and that a second run trains nothing again.
"""

import importlib.util
import json
import math
import os

import numpy as np
import pytest

from avse_tf.errors import UserInputError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tool():
    spec = importlib.util.spec_from_file_location("corpus_transfer", os.path.join(REPO, "tools", "corpus_transfer.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_settings_are_typed_and_the_target_inherits_the_source():
    source, target = _tool().corpus_settings(" seed=3 , voices=distinct", "seed=7")
    assert source == {"seed": 3, "voices": "distinct"}
    assert target == {"seed": 7, "voices": "distinct"}  # voices not given: the source's
    assert _tool().corpus_settings("", "voices=legacy") == ({"seed": 1}, {"seed": 1, "voices": "legacy"})


@pytest.mark.parametrize("text, message", [
    ("seed=1,voices", r"'voices' is not key=value"),
    ("seed=", r"'seed=' is not key=value"),
    ("seed=x", r"--target seed=x: expected int"),
    ("seed=1,seed=2", r"seed given twice"),
    ("speakers=3", r"'speakers' is set by the recipe"),
    ("first_speaker=3", r"'first_speaker' is set by the recipe"),
    ("colour=red", r"unknown --target setting 'colour'.*takes seed, .*voices"),
])
def test_bad_settings_are_one_line_errors(tmp_path, capsys, text, message):
    with pytest.raises(UserInputError, match=message):
        _tool().corpus_settings("seed=1", text)
    assert _tool().main(["--work_dir", str(tmp_path / "w"), "--target", text]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("corpus_transfer: error: ") and "--target" in err[0], err
    assert not os.path.exists(tmp_path / "w" / "transfer")  # refused before anything was made


def test_settings_follow_the_generator_signature(monkeypatch):
    """A keyword generate_grid_corpus gains is accepted with no change here; one it lacks is refused."""
    from avse_tf.data.synth import corpus
    from avse_tf.data.synth.options import parse_corpus_settings

    assert parse_corpus_settings("video=legacy,voices=legacy", "--target", ()) == {"video": "legacy", "voices": "legacy"}
    with pytest.raises(UserInputError, match="unknown --target setting 'jitter'"):
        parse_corpus_settings("jitter=0.25", "--target", ())

    def with_jitter(out_dir, speakers=4, utterances=6, seed=0, voices="distinct", video="camera", jitter=0.5):
        return {}

    monkeypatch.setattr(corpus, "generate_grid_corpus", with_jitter)
    assert parse_corpus_settings("video=camera,jitter=0.25", "--target", ()) == {"video": "camera", "jitter": 0.25}


@pytest.mark.parametrize("command", ["enhancement", "inpainting"])
def test_recipe_voices_flag_reaches_the_generator(tmp_path, monkeypatch, command):
    from avse_tf.cli.main import main
    from avse_tf.data.synth import corpus

    calls = []

    class Stop(Exception):
        pass

    def record(out_dir, speakers=4, utterances=6, seed=0, first_speaker=1, voices="legacy"):
        calls.append(dict(locals()))
        raise Stop

    monkeypatch.setattr(corpus, "generate_grid_corpus", record)
    with pytest.raises(Stop):
        main([command, "recipe", "--work_dir", str(tmp_path / "a"), "--voices", "distinct", "--seed", "4"])
    with pytest.raises(Stop):
        main([command, "recipe", "--work_dir", str(tmp_path / "b")])  # no flag: the library's default
    assert calls[0]["voices"] == "distinct" and calls[0]["seed"] == 4
    assert calls[1]["voices"] == "legacy"  # the stand-in's default: nothing passed


@pytest.mark.slow
def test_transfer_tables_normalisation_and_resume(tmp_path, capsys):
    from avse_tf.constants import NORM_FILE
    from avse_tf.data.mixing import load_manifest
    from avse_tf.data.normalization import load_stats, normalize
    from avse_tf.systems.landmark_enhancement.pipeline import example_features, make_model_dataset

    work = tmp_path / "work"
    argv = ["--work_dir", str(work), "--source", "seed=1,voices=distinct", "--target", "seed=7,voices=legacy",
            "--speakers", "8", "--utterances", "2", "--num_mix", "1", "--epochs", "1", "--hidden_units", "16",
            "--layers", "1", "--metrics", "sdr,stoi"]
    tool = _tool()
    assert tool.main(argv) == 0
    out = capsys.readouterr().out
    out = out[out.index("## 1."):]  # the tables follow the steps' progress lines
    blocks = out.split("\n\n")
    assert blocks[0].startswith("## 1. source corpus (seed=1, voices=distinct)")
    assert blocks[1].startswith("## 2. target corpus (seed=7, voices=legacy)")
    assert blocks[2].startswith("## 3. target minus source")
    for block in blocks:
        assert "2spk av_concat_mask" in block and "sdr impr." in block and "stoi impr." in block
    assert (work / "transfer" / "table.txt").read_text() == out
    summary = json.loads((work / "transfer" / "summary.json").read_text())
    for corpus_name in ("source", "target"):
        figures = summary[corpus_name]["2spk/av_concat_mask"]
        assert figures["examples"] == 3 * 2  # the 3 test speakers' 2 utterances, 1 mixture each
        assert all(math.isfinite(figures[f"{metric}_{column}"]) for metric in ("sdr", "stoi")
                   for column in ("mixture", "enhanced", "improvement"))
    difference = summary["difference"]["2spk/av_concat_mask"]
    assert difference["sdr_improvement"] == pytest.approx(summary["target"]["2spk/av_concat_mask"]["sdr_improvement"]
                                                          - summary["source"]["2spk/av_concat_mask"]["sdr_improvement"])
    assert "sdr s.e." in blocks[2] and 0 < difference["sdr_improvement_se"] < 10
    # The two corpora are what was asked for; the target's test speakers are s6-s8 like the source's.
    source_corpus, target_corpus = work / "corpus", work / "transfer" / "corpus"
    described = {name: json.loads((folder / "synth_grid.json").read_text())
                 for name, folder in (("source", source_corpus), ("target", target_corpus))}
    assert (described["source"]["seed"], described["source"]["voices"]) == (1, "distinct")
    assert (described["target"]["seed"], described["target"].get("voices", "legacy")) == (7, "legacy")
    assert [s["name"] for s in described["target"]["speakers"]] == [f"s{k}" for k in range(1, 9)]
    assert os.path.isdir(work / "transfer" / "results" / "2spk" / "av_concat_mask" / "TEST_SET" / "s8")
    # Target records: normalised with the source's training statistics, those the model was trained with.
    records = target_corpus / "tfrecords2"
    assert not (records / NORM_FILE).exists()
    info = json.loads((records / "features.json").read_text())
    source_norm = os.path.normpath(os.path.join(records, info["normalization"]))
    assert source_norm == str(source_corpus / "tfrecords2" / NORM_FILE)
    experiment = work / "experiments" / "2spk" / "av_concat_mask"
    assert (experiment / NORM_FILE).read_bytes() == open(source_norm, "rb").read()
    stats = load_stats(source_norm)
    entries = {entry["mixture"]: entry for entry in load_manifest(str(target_corpus / "mix2" / "TEST_SET"))}
    batch = next(iter(make_model_dataset(str(records / "TEST_SET"), "av_concat_mask", 2, with_targets=False)))
    entry = entries[batch["mixture_path"][0].numpy().decode()]
    raw = example_features(entry, str(target_corpus), num_audio_samples=48000)
    frames = int(batch["sequence_length"][0])
    for name, key in (("mixed_spectrogram", "spectrogram"), ("video_features", "video")):
        stored = batch[name][0].numpy()[:frames]
        np.testing.assert_allclose(stored, normalize(raw[name], *stats[key])[:frames], atol=1e-4)
    # A second run resumes: nothing trained again, the same tables.
    checkpoints = {name: os.stat(experiment / name).st_mtime_ns for name in ("best.keras", "last.keras", "history.csv")}
    assert tool.main(argv) == 0
    assert capsys.readouterr().out.endswith(out)
    assert {name: os.stat(experiment / name).st_mtime_ns for name in checkpoints} == checkpoints
    # Other settings on the same folder are refused rather than mixed with this run's.
    changed = list(argv)
    changed[changed.index("--target") + 1] = "seed=8"
    assert tool.main(changed) == 2
    assert "other settings (target:" in capsys.readouterr().err


@pytest.mark.slow
def test_a_target_with_the_source_settings_repeats_table_1(tmp_path, capsys):
    """The target pipeline is the recipe's measurement: a target made with the source's settings is the
    source's test set again, so table 2 repeats table 1 and the difference is 0, for a ``_ref`` model
    too (VL2M's estimated TBMs made on the target, records with the source's statistics)."""
    from avse_tf.constants import RECORDS_MANIFEST

    work = tmp_path / "same"
    assert _tool().main(["--work_dir", str(work), "--source", "seed=2,voices=legacy", "--target", "seed=2",
                         "--models", "av_concat_mask_ref", "--speakers", "8", "--utterances", "2", "--num_mix", "1",
                         "--epochs", "1", "--hidden_units", "16", "--layers", "1", "--metrics", "sdr"]) == 0
    summary = json.loads((work / "transfer" / "summary.json").read_text())
    assert summary["settings"]["target"] == {"seed": 2, "voices": "legacy"}
    target = work / "transfer" / "corpus"
    assert {name for name in os.listdir(target / "s8" / "estimated_tbm2") if name.endswith(".npy")}
    assert (target / "tfrecords2_estimated" / "TEST_SET" / RECORDS_MANIFEST).is_file()
    assert summary["target"]["2spk/av_concat_mask_ref"] == pytest.approx(
        summary["source"]["2spk/av_concat_mask_ref"], abs=1e-5)
    assert summary["difference"]["2spk/av_concat_mask_ref"]["sdr_improvement"] == pytest.approx(0, abs=1e-5)
    capsys.readouterr()
