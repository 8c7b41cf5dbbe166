"""The registry contract: every system is declared once and reached through the registry; a new
system (tests/dummy_system) is one folder + one registration; exports of every system reload."""

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import avse_tf
from avse_tf import systems
from avse_tf.cli.main import main
from avse_tf.systems.presets import get_preset, list_presets

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS)


@pytest.fixture
def dummy_system(monkeypatch):
    monkeypatch.syspath_prepend(TESTS)
    import dummy_system

    systems.register(dummy_system.SYSTEM)
    yield dummy_system.SYSTEM
    systems.unregister(dummy_system.SYSTEM.name)


def test_registry_declares_each_system_once():
    names = [system.name for system in systems.all_systems()]
    assert names == ["landmark_enhancement", "av_inpainting", "speech2vid", "vca_gan", "pseudo_visual"]
    groups = [system.cli_group for system in systems.all_systems()]
    assert groups == ["enhancement", "inpainting", "speech2vid", "lip2speech", "denoising"]
    assert set(systems.get("vca_gan").builders()) == {"vca_gan"}  # issue 18: the model joined its data
    for system in systems.all_systems():
        builders = system.builders()
        assert set(system.all_models) == set(builders), system.name
        for preset_name in list_presets(system=system.name):
            assert get_preset(preset_name)["model"] in system.all_models
        assert systems.get(system.cli_group) is system
    assert systems.system_of_model("vl2m").name == "landmark_enhancement"
    assert systems.system_of_model("phone_recognizer").name == "av_inpainting"
    with pytest.raises(avse_tf.errors.UserInputError, match="no system builds model 'nope'"):
        systems.system_of_model("nope")


def test_no_per_system_lists_outside_the_registry():
    """The acceptance grep of issue 13, as a test: no code branches on a family name."""
    result = subprocess.run(["git", "grep", "-n", r"family ==\|family in\|FAMILY_MODULES\|COMMAND_MODULES", "--",
                             "avse_tf", "tools"], cwd=REPO, capture_output=True, text=True)
    if result.returncode > 1:  # not a git checkout (e.g. an sdist): nothing to grep
        pytest.skip("not a git checkout")
    assert result.stdout == ""


def test_no_module_over_500_lines():
    for folder, _, files in os.walk(os.path.join(REPO, "avse_tf")):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(folder, name), encoding="utf-8") as handle:
                    assert sum(1 for _ in handle) <= 500, os.path.join(folder, name)


def test_old_import_paths_warn_and_resolve_to_the_new_objects():
    from avse_tf.systems.av_inpainting.phone_recognizer import train_recognizer
    from avse_tf.systems.landmark_enhancement.model import MODEL_SPECS

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from avse_tf.models.enhancement import MODEL_SPECS as old_specs
        from avse_tf.tasks.inpainting import train_recognizer as old_train_recognizer
    assert old_specs is MODEL_SPECS and old_train_recognizer is train_recognizer
    assert len([w for w in caught if issubclass(w.category, DeprecationWarning)]) == 2
    assert "avse_tf.systems.landmark_enhancement.model" in str(caught[0].message)


def test_dummy_system_trains_from_preset_exports_and_reloads(dummy_system, tmp_path, capsys):
    assert "tiny_gain_small" in avse_tf.list_presets()
    exp = str(tmp_path / "exp")
    assert main(["tiny", "training", "--exp", exp, "--preset", "tiny_gain_small", "--batch_size", "8"]) == 0
    config = json.load(open(os.path.join(exp, "config.json")))
    assert config["system"] == "dummy_system" and config["preset"] == "tiny_gain_small"
    assert config["values"] == {"hidden_units": 6, "learning_rate": 0.01, "batch_size": 8, "epochs": 1}
    assert config["sources"]["batch_size"] == "flag" and config["sources"]["epochs"] == "preset training.epochs"
    history = [json.loads(line) for line in open(os.path.join(exp, "history.jsonl"))] \
        if os.path.isfile(os.path.join(exp, "history.jsonl")) else None
    assert history is None or len(history) == 1

    from dummy_system.model import synthetic_data

    features, _ = synthetic_data(1, seed=3)
    trained = avse_tf.load(exp)
    assert trained.system == "dummy_system" and trained.keras_model.get_layer("hidden").units == 6
    expected = trained.gain(features[0])
    assert main(["export", "--checkpoint", exp, "--format", "savedmodel", "--output", str(tmp_path / "sm")]) == 0
    exported = avse_tf.load(str(tmp_path / "sm"))
    assert exported.system == "dummy_system" and exported.model_id == "tiny_gain"
    np.testing.assert_allclose(exported(spectrogram=features)["gain"][0], expected, atol=1e-6)
    assert main(["export", "--checkpoint", exp, "--format", "keras", "--output", str(tmp_path / "k")]) == 0
    np.testing.assert_allclose(avse_tf.load(str(tmp_path / "k")).gain(features[0]), expected, atol=1e-6)
    capsys.readouterr()
    assert main(["export", "--checkpoint", exp, "--format", "tflite", "--output", str(tmp_path / "t")]) == 2
    assert "(dummy_system), which cannot be exported as tflite: the test system does not need it" in \
        capsys.readouterr().err


def test_dummy_system_shows_in_the_cli_of_a_fresh_process(tmp_path):
    env = {**os.environ, "AVSE_TF_SYSTEMS": "dummy_system",
           "PYTHONPATH": os.pathsep.join([TESTS, REPO, os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-m", "avse_tf", "--help"], env=env, capture_output=True, text=True)
    assert result.returncode == 0 and "tiny per-frame gain (test system)" in result.stdout
    result = subprocess.run([sys.executable, "-m", "avse_tf", "tiny", "training", "--help"], env=env,
                            capture_output=True, text=True)
    assert "tiny_gain_small" in result.stdout  # --preset's help lists the system's presets


@pytest.mark.parametrize("argv, expected", [
    (["enhancement", "training", "--model", "vl2m"],  # the paper's VL2M values (preset vl2m_grid)
     {"learning_rate": 1e-4, "batch_size": 32, "epochs": 100, "layers": 5, "hidden_units": 250, "patience": 5}),
    (["enhancement", "training", "--model", "av_concat_mask", "--epochs", "3"],  # unknown in the paper: fallbacks
     {"learning_rate": 1e-3, "batch_size": 8, "epochs": 3, "layers": 3}),
    (["enhancement", "training", "--preset", "av_concat_spec_grid", "--hidden_units", "16"],
     {"model": "av_concat_spec", "hidden_units": 16, "learning_rate": 1e-3}),
    (["inpainting", "training"], {"model": "av_blstm", "epochs": 50, "batch_size": 8, "layers": 3}),
    (["inpainting", "training", "--model", "phone_recognizer"],
     {"layers": 2, "learning_rate": 3e-3, "recognizer_copies": 4}),
    (["speech2vid", "train", "-p", "x"], {"batch_size": 64, "content_weight": 1.0, "steps_per_epoch": 1000,
                                          "model": "speech2vid"}),
    (["speech2vid", "train", "-p", "x", "--masked_target"], {"content_weight": 0.0, "model": "speech2vid_masked"}),
])
def test_training_flags_come_from_the_preset(argv, expected, tmp_path):
    from avse_tf.cli.main import build_parser
    from avse_tf.systems.presets import resolve_training_flags

    common = {"enhancement": ["--data_dir", str(tmp_path), "--train_set", "a", "--val_set", "b", "--exp", "e"],
              "inpainting": ["--data_dir", str(tmp_path), "--exp", "e"], "speech2vid": []}[argv[0]]
    args = build_parser().parse_args(argv + common)
    system = systems.get(argv[0])
    cli = system.module("cli")
    if argv[0] == "speech2vid":
        args.model = "speech2vid_masked" if args.masked_target else None
    config = resolve_training_flags(args, system, cli.PRESET_FLAGS, getattr(cli, "TRAINING_FALLBACKS", {}))
    for key, value in expected.items():
        assert getattr(args, key) == value, key
    assert config["model"] == args.model


def test_a_preset_of_another_model_is_refused(tmp_path, capsys):
    argv = ["enhancement", "training", "--data_dir", str(tmp_path), "--train_set", "a", "--val_set", "b", "--exp", "e",
            "--model", "vl2m", "--preset", "av_concat_mask_grid"]
    assert main(argv) == 2
    assert "--model vl2m does not match preset av_concat_mask_grid" in capsys.readouterr().err


def test_dummy_system_runs_in_tools_bench(tmp_path, monkeypatch, capsys):
    """``tools/bench/run.py --quick --families tiny`` in-process, the system found through AVSE_TF_SYSTEMS."""
    monkeypatch.syspath_prepend(REPO)
    monkeypatch.syspath_prepend(TESTS)
    from tools.bench.run import main as bench

    monkeypatch.setenv("AVSE_TF_SYSTEMS", "dummy_system")
    monkeypatch.setattr(systems, "_REGISTERED", {})  # reloaded from the environment, restored afterwards
    monkeypatch.setattr(systems, "_LOADED", False)
    output = tmp_path / "bench.json"
    assert bench(["--quick", "--families", "tiny", "--sections", "training,inference,demo", "--json", str(output),
                  "--cache_dir", str(tmp_path / "cache")]) == 0
    assert "tiny_gain" in capsys.readouterr().out
    report = json.loads(output.read_text())
    [training] = report["training"]
    assert training["model"] == "tiny_gain" and training["family"] == "tiny" and "error" not in training
    assert training["examples_per_second"] > 0 and training["frames"] == 8  # 0.5 s of a 30-frame 3 s clip, at least 8
    assert training["size"] == "REDUCED (--quick) tiny_gain_small: hidden_units=4"
    [inference] = report["inference"]
    assert set(inference["modes"]) == {"eager", "graph", "xla"}  # not a BLSTM: eager runs under --quick too
    assert all(entry["rtf"] > 0 for entry in inference["modes"].values())
    assert report["demo"] == []  # no streaming hook: not streamed
    assert all(row["met"] is None for row in report["rows"])  # the BLSTM targets do not apply
    with pytest.raises(SystemExit):  # unknown systems are refused by the parser
        bench(["--families", "no_such_system"])
