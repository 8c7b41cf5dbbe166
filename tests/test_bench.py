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


def test_pytorch_race_twins_have_the_models_flops_and_torch_stays_optional(monkeypatch, capsys):
    """The PyTorch twin of every BLSTM bench model is built from the same product layers (equal
    analytical FLOPs); without torch (CI) the race says so in one line and runs nothing."""
    import importlib.util

    import numpy as np

    from avse_tf.systems import presets
    from tools.bench import flops, pytorch_race

    cases = pytorch_race.blstm_cases()
    assert {"av_concat_mask", "a_blstm", "vl2m_ref", "av_blstm_mtl"} <= {case.model for case in cases}
    for case in cases:
        model = presets.from_preset(case.preset)
        layers = pytorch_race.product_layers(model)
        assert any(kind == "blstm" for kind, *_ in layers), case.model
        assert pytorch_race.layers_flops(layers, 100) == flops.forward_flops(model, 100)["total"], case.model
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real_find_spec(name, *a))
    assert pytorch_race.main([]) == 0
    assert "PyTorch is not installed" in capsys.readouterr().out
    from tools.bench import race_profile

    assert race_profile.main([]) == 0
    assert "PyTorch is not installed" in capsys.readouterr().out
    from tools.bench import race_vca_gan  # the lip-to-speech generator side's race

    assert race_vca_gan.main(["--check"]) == 0
    assert "PyTorch is not installed" in capsys.readouterr().out
    # avse_tf's side of the profile runs without torch: both parts of the 3 BLSTM layers, timed
    (case,) = pytorch_race.blstm_cases(["av_concat_mask"])
    parts = race_profile.blstm_parts(presets.from_preset(case.preset), 20, "float32", 1)
    assert parts["layers"] == 3 and parts["projections"] > 0 and parts["recurrences"] > 0
    # the live demo's row: one chunk of the demo's default plan (morrone2019 frames of 10 ms: 480 ms
    # context = 48, a 96 ms block = 10, 96 ms look-ahead less the window's overhang = 8), through the
    # demo's own model call, which computes what the library's inference does
    label, batch, frames, training, streaming_row = pytorch_race.cases_of(case)[4]
    assert (batch, frames, training, streaming_row) == (1, 48 + 10 + 8, False, True) and "demo" in label
    assert [output.shape for output in pytorch_race.keras_runner(case, "float32", 1, 24, False, streaming=True)()] \
        == [(1, 24, 257)] * 2
    from avse_tf.streaming import compiled_model

    model = presets.from_preset(case.preset)
    inputs = case.synthetic_batch(model, 1, 24, np.random.default_rng(0))[0]
    demo, library = compiled_model(model)(inputs), model(inputs, training=False)
    assert all(np.abs(np.asarray(demo[key]) - np.asarray(library[key])).max() < 1e-5 for key in library)


def test_length_buckets_bench_counts_the_padding_it_removes(tmp_path):
    """tools/bench/length_buckets.py's measure without the timing: padded frames of the same clips,
    plain and in quantile buckets (the training part is tested with `--length_buckets` in
    test_enhancement_pipeline.py)."""
    from tools.bench import length_buckets

    manifest, lengths = length_buckets.write_clips(str(tmp_path), 24, 0.5, 3.0, seed=0)
    assert len(lengths) == 24 and min(lengths) >= 50 and max(lengths) <= 300
    boundaries = length_buckets.quantile_boundaries(lengths, 3)
    assert len(boundaries) == 2 and boundaries == sorted(boundaries)
    plain = length_buckets.padded_frames(manifest, 8, None)
    bucketed = length_buckets.padded_frames(manifest, 8, boundaries)
    assert sum(lengths) <= bucketed < plain
