"""The benchmark suite (tools/bench): analytical FLOP counts, a system registered at run time, and a
--quick run's JSON (no timing thresholds)."""

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def test_forward_flops_analytical():
    import keras

    from avse_tf.layers import StackedBLSTM
    from avse_tf.systems.speech2vid.model import speech2vid
    from tools.bench.flops import forward_flops

    frames, units = 7, 5
    inputs = keras.Input((None, 3))
    hidden = StackedBLSTM(units, num_layers=2)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(4)(hidden))
    counted = forward_flops(model, frames)
    lstm = 2 * frames * 2 * 4 * units * (3 + units) + 2 * frames * 2 * 4 * units * (2 * units + units)
    assert counted["by_kind"] == {"lstm": lstm, "dense": frames * 2 * 2 * units * 4}
    assert counted["total"] == lstm + frames * 2 * 2 * units * 4

    image = keras.Input((8, 8, 3))
    conv = keras.layers.Conv2D(6, 3, strides=2, padding="same")(image)  # 4 x 4 x 6
    up = keras.layers.Conv2DTranspose(2, 4, strides=2, padding="same")(conv)  # from 4 x 4 x 6
    counted = forward_flops(keras.Model(image, up))
    assert counted["by_kind"] == {"conv": 2 * 9 * 3 * 6 * 16, "conv_transpose": 2 * 16 * 6 * 2 * 16}
    assert forward_flops(speech2vid(image_size=32, num_identity=1, width=0.1))["total"] > 0


# A system outside avse_tf, found through AVSE_TF_SYSTEMS: one tiny (real) Keras sequence model, a
# preset and a bench hook. It does not stream, so the demo section skips it.
DUMMY_FILES = {
    "__init__.py": """
from avse_tf.systems.base import System

SYSTEM = System(name="bench_dummy", title="two Dense layers per frame (bench test)", paper="-",
                cli_group="dummy", models=("dummy_net",), package="bench_dummy", bench="bench:bench_cases")
""",
    "model.py": """
import keras


def dummy_net(units=8, input_dim=6):
    features = keras.Input((None, input_dim), name="features")
    hidden = keras.layers.Dense(units, activation="relu")(features)
    return keras.Model({"features": features}, {"out": keras.layers.Dense(3, name="out")(hidden)}, name="dummy_net")


MODEL_BUILDERS = {"dummy_net": dummy_net}
""",
    "presets/dummy_net_small.json": json.dumps({"name": "dummy_net_small", "model": "dummy_net",
                                                "architecture": {"units": 8, "input_dim": 6}}),
    "bench.py": """
from avse_tf.training import benchmark


def synthetic_batch(model, batch, frames, rng):
    inputs = benchmark.sequence_inputs(model, batch, frames, rng)
    return inputs, {"out": benchmark.standard_normal(rng, (batch, frames, 3))}, None


def compile_for_training(model):
    import keras

    model.compile(keras.optimizers.Adam(1e-3), loss={"out": "mse"})
    return "mse, Adam", ()


def bench_cases():
    return (benchmark.BenchCase("dummy_net", "dummy_net_small", synthetic_batch, compile_for_training,
                                clip_frames=30, size_keys=("units",), quick_overrides={"units": 4}),)
""",
}


def test_bench_runs_a_system_registered_at_run_time(tmp_path, monkeypatch, capsys):
    """``run.py --quick --families dummy`` in-process on a system named in ``AVSE_TF_SYSTEMS``."""
    from avse_tf import systems
    from tools.bench.run import main

    for name, text in DUMMY_FILES.items():
        path = tmp_path / "systems" / "bench_dummy" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path / "systems"))
    monkeypatch.setenv("AVSE_TF_SYSTEMS", "bench_dummy")
    monkeypatch.setattr(systems, "_REGISTERED", {})  # reloaded from the environment, restored afterwards
    monkeypatch.setattr(systems, "_LOADED", False)

    output = tmp_path / "bench.json"
    assert main(["--quick", "--families", "dummy", "--sections", "training,inference,demo", "--json", str(output),
                 "--cache_dir", str(tmp_path / "cache")]) == 0
    assert "dummy_net" in capsys.readouterr().out
    report = json.loads(output.read_text())
    assert report["settings"]["families"] == ["dummy"]
    [training] = report["training"]
    assert training["model"] == "dummy_net" and training["family"] == "dummy" and "error" not in training
    assert training["examples_per_second"] > 0 and training["frames"] == 8  # 0.5 s of a 30-frame 3 s clip, at least 8
    assert training["size"] == "REDUCED (--quick) dummy_net_small: units=4"
    [inference] = report["inference"]
    assert set(inference["modes"]) == {"eager", "graph", "xla"}  # not a BLSTM: eager runs under --quick too
    assert all(entry["rtf"] > 0 for entry in inference["modes"].values())
    assert report["demo"] == []  # no demo_processor: not streamed
    assert all(row["met"] is None for row in report["rows"])  # the BLSTM targets do not apply

    with pytest.raises(SystemExit):  # unknown systems are refused by the parser
        main(["--families", "no_such_system"])


@pytest.mark.slow
def test_bench_quick_json(tmp_path):
    """``run.py --quick`` on the inpainting family: exit 0, a table on stdout, the JSON's fields."""
    output = tmp_path / "bench.json"
    command = [sys.executable, os.path.join(REPO, "tools", "bench", "run.py"), "--quick", "--families", "inpainting",
               "--json", str(output), "--cache_dir", str(tmp_path / "cache")]
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=1200, cwd=str(tmp_path), env=environment)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "fraction of matmul peak" in result.stdout and "RTF tf.function + XLA" in result.stdout
    report = json.loads(output.read_text())

    for key in ("command", "machine", "settings", "peak", "training", "inference", "demo", "pipeline", "preprocessing",
                "profile", "rows", "notes", "table", "targets_met", "duration_seconds"):
        assert key in report, key
    assert report["settings"]["quick"] is True and report["settings"]["families"] == ["inpainting"]
    assert report["peak"]["gflops_best"] > 0 and report["peak"]["gflops_per_cpu_second_best"] > 0
    models = {"a_blstm", "av_blstm", "a_blstm_mtl", "av_blstm_mtl"}

    assert {entry["model"] for entry in report["training"]} == models
    for entry in report["training"]:
        assert "error" not in entry, entry
        for key in ("examples_per_second", "clips_per_second", "gflops", "peak_fraction", "peak_fraction_vs_run_best",
                    "peak_fraction_cpu_time", "train_flops_per_example", "step_seconds"):
            assert entry[key] > 0, (entry["model"], key)
        assert entry["train_flops_per_example"] == 3 * entry["forward_flops_per_example"]["total"]

    assert {entry["model"] for entry in report["inference"]} == models
    for entry in report["inference"]:
        for mode in ("graph", "xla"):
            assert entry["modes"][mode]["rtf"] > 0, (entry["model"], mode)
            assert entry["modes"][mode]["compile_seconds"] > 0
        assert entry["best_compiled_rtf"] > 0

    assert {entry["model"] for entry in report["demo"]} == models
    for entry in report["demo"]:
        assert "error" not in entry, entry
        assert entry["chunks"] >= 100 and 0 < entry["margin_mean"] <= entry["margin_p95"] <= entry["margin_max"]
    assert "compute per 96 ms block / block duration" in result.stdout

    pipeline = report["pipeline"]
    assert set(pipeline["results"]) == {"fixed/parsed", "fixed/model_inputs", "var/parsed", "var/model_inputs"}
    assert all(entry["examples_per_second"] > 0 for entry in pipeline["results"].values())
    preprocessing = report["preprocessing"]
    every, tracked = preprocessing["landmarks_detector_every_frame"], preprocessing["landmarks_tracker_policy"]
    assert every["frames_per_second"] > 0 and tracked["frames_per_second"] > 0
    assert every["detector_frames"] == every["frames"] > tracked["detector_frames"] > 0
    assert preprocessing["features_enhancement"]["clips_per_second"] > 0
    assert preprocessing["features_speech2vid"]["clips_per_second"] > 0
    assert report["profile"]["batches"] and all(entry["lstm_gflops"] > 0 for entry in report["profile"]["batches"].values())

    checked = [row for row in report["rows"] if row["met"] is not None]
    assert checked and report["targets_met"]["checked"] == len(checked)
    assert all(set(row) == {"section", "model", "measurement", "value", "unit", "target", "met", "note"}
               for row in report["rows"])
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".tmp-")]  # the JSON was renamed into place
