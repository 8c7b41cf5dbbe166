"""Training platform and Python API (issue 4): distribution, export, loading, tuning, precision.

Distributed runs go through the command line in subprocesses (devices and TF_CONFIG must be set
before TensorFlow starts): data-parallel over 2 logical CPU devices, and 2 worker processes on
127.0.0.1, each compared with single-device training on the same batches.
"""

import csv
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from avse_tf.cli.main import main

COMMON = ["--train_set", "records_platform/TRAINING_SET", "--val_set", "records_platform/VALIDATION_SET",
          "--model", "av_concat_mask", "--hidden_units", "8", "--layers", "1", "--batch_size", "2",
          "--epochs", "2", "--seed", "5"]


@pytest.fixture(scope="module")
def records(enhancement_corpus):
    if not os.path.isfile(os.path.join(enhancement_corpus, "records_platform", "TEST_SET", "records.json")):
        assert main(["enhancement", "tfrecords_generator", "--data_dir", enhancement_corpus,
                     "--dest_dir", "records_platform"]) == 0
    return enhancement_corpus


def _env(**extra):
    return dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), TF_CPP_MIN_LOG_LEVEL="2", **extra)


def _train(data_dir, exp, *flags, env=None):
    command = [sys.executable, "-m", "avse_tf", "enhancement", "training", "--data_dir", data_dir, *COMMON,
               "--exp", exp, *flags]
    return subprocess.Popen(command, env=env or _env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _losses(data_dir, exp):
    with open(os.path.join(data_dir, "experiments", exp, "history.csv"), encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return np.array([[float(row["loss"]), float(row["val_loss"])] for row in rows])


@pytest.fixture(scope="module")
def single_device(records):
    process = _train(records, "single", "--strategy", "one_device")
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output
    return _losses(records, "single")


@pytest.mark.slow
def test_mirrored_on_two_cpu_devices_matches_single_device(records, single_device):
    process = _train(records, "mirrored", "--strategy", "mirrored", "--cpu_replicas", "2")
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output
    mirrored = _losses(records, "mirrored")
    assert mirrored.shape == single_device.shape == (2, 2)
    np.testing.assert_allclose(mirrored, single_device, rtol=2e-4)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for item in sockets:
        item.bind(("127.0.0.1", 0))
    ports = [item.getsockname()[1] for item in sockets]
    for item in sockets:
        item.close()
    return ports


@pytest.mark.slow
def test_multi_worker_on_loopback_matches_single_device(records, single_device):
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = []
    for index in range(2):
        config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        processes.append(_train(records, "multiworker", "--strategy", "multi_worker", env=_env(TF_CONFIG=config)))
    outputs = [process.communicate(timeout=600)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    losses = _losses(records, "multiworker")
    # Training: 6 examples in global batches of 2, one per worker: the first epoch's steps are the
    # single-device steps. Later epochs reshuffle per worker pipeline, so the order (not the data) differs.
    np.testing.assert_allclose(losses[0, 0], single_device[0, 0], rtol=2e-4)
    np.testing.assert_allclose(losses[1:, 0], single_device[1:, 0], rtol=1e-2)
    # Validation: multi-worker uses full batches only (a partial batch could leave a worker with
    # nothing), so 2 of the 3 validation examples are scored: close, not equal.
    np.testing.assert_allclose(losses[:, 1], single_device[:, 1], rtol=0.1)
    experiment = os.path.join(records, "experiments", "multiworker")
    assert os.path.isfile(os.path.join(experiment, "best.keras"))
    assert json.load(open(os.path.join(experiment, "done.json")))["epochs_run_this_call"] == 2
    assert not any(name.startswith("backup") for name in os.listdir(experiment))  # temporary state cleaned up


def test_multi_worker_without_tf_config_is_one_line(records, capsys, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert main(["enhancement", "training", "--data_dir", records, *COMMON, "--exp", "x",
                 "--strategy", "multi_worker"]) == 2
    error = capsys.readouterr().err
    assert "TF_CONFIG" in error and len(error.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def test_clip(records):
    """A test mixture as a wav and its target speaker's landmark TXT."""
    from avse_tf.audio.io import write_audio
    from avse_tf.data.mixing import load_manifest, render_mixture

    entry = load_manifest(os.path.join(records, "mix", "TEST_SET"))[0]
    _, _, mixture = render_mixture(entry, 16000)
    wav = os.path.join(records, "platform_mixture.wav")
    write_audio(wav, mixture, 16000)
    landmarks = os.path.join(records, entry["speaker"], "landmarks", entry["utterance"] + ".txt")
    return wav, landmarks


SERVE_WITHOUT_AVSE = """
import sys
import numpy as np, soundfile, tensorflow as tf
model = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
waveform, rate = soundfile.read(sys.argv[2], dtype="float32")
out = model(waveform=tf.constant(waveform), landmarks=tf.constant(np.loadtxt(sys.argv[3], dtype=np.float32)))
np.save(sys.argv[4], out["enhanced_waveform"].numpy())
assert not any(name.startswith("avse_tf") for name in sys.modules)
"""


@pytest.mark.slow
def test_savedmodel_serves_in_a_fresh_process_like_the_python_api(records, single_device, test_clip, tmp_path):
    import avse_tf

    experiment = os.path.join(records, "experiments", "single")
    export_dir = tmp_path / "served"
    assert main(["export", "--checkpoint", experiment, "--format", "savedmodel", "--output", str(export_dir)]) == 0
    assert (export_dir / "1" / "saved_model.pb").is_file()  # TensorFlow Serving's <base>/<version> layout
    # Readable as a plain mkdir would make it (umask), not the owner-only 0700 of a temporary folder.
    from avse_tf.utils import UMASK

    assert (export_dir / "1").stat().st_mode & 0o777 == 0o777 & ~UMASK
    wav, landmarks = test_clip
    out = tmp_path / "served.npy"
    script = tmp_path / "serve.py"
    script.write_text(SERVE_WITHOUT_AVSE)
    subprocess.run([sys.executable, str(script), str(export_dir / "1"), wav, landmarks, str(out)], check=True,
                   env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    served = np.load(out)
    enhanced, mask = avse_tf.enhance_file(wav, landmarks, model=experiment, output=str(tmp_path / "api.wav"))
    assert served.shape == enhanced.shape == (48000,)
    np.testing.assert_allclose(served, enhanced, atol=1e-5)
    assert mask.shape == (302, 257) and 0.0 <= mask.min() and mask.max() <= 10.0
    # The enhanced signal is not the mixture: the model's mask did something.
    from avse_tf.audio.io import load_audio

    assert np.abs(enhanced - load_audio(wav)).max() > 1e-3
    # avse_tf.load reads the export too (the newest version of a base path).
    again, _ = avse_tf.load(str(export_dir)).enhance(load_audio(wav), np.loadtxt(landmarks, dtype=np.float32))
    np.testing.assert_allclose(again, enhanced, atol=1e-5)


@pytest.mark.slow
def test_keras_and_tflite_exports_reload(records, single_device, test_clip, tmp_path):
    import tensorflow as tf

    import avse_tf
    from avse_tf.audio.io import load_audio

    experiment = os.path.join(records, "experiments", "single")
    wav, landmarks = test_clip
    reference = avse_tf.load(experiment)
    waveform, marks = load_audio(wav), np.loadtxt(landmarks, dtype=np.float32)
    expected, _ = reference.enhance(waveform, marks)
    assert main(["export", "--checkpoint", experiment, "--format", "keras", "--output", str(tmp_path / "k")]) == 0
    reloaded, _ = avse_tf.load(str(tmp_path / "k")).enhance(waveform, marks)
    np.testing.assert_array_equal(reloaded, expected)

    assert main(["export", "--checkpoint", experiment, "--format", "tflite", "--output", str(tmp_path / "t")]) == 0
    interpreter = tf.lite.Interpreter(model_path=str(tmp_path / "t" / "model.tflite"))
    runner = interpreter.get_signature_runner()
    rng = np.random.default_rng(0)
    inputs = {"mixed_magnitude": rng.random((1, 302, 257), np.float32),
              "mixed_spectrogram": rng.standard_normal((1, 302, 257), np.float32),
              "video_features": rng.standard_normal((1, 302, 136), np.float32),
              "sequence_length": np.array([302], np.int32)}
    lite = runner(**inputs)
    keras_outputs = reference.keras_model(inputs)
    for name in ("mask", "enhanced_spectrogram"):
        np.testing.assert_allclose(lite[name], keras_outputs[name].numpy(), atol=1e-4)


def test_onnx_export_says_what_is_missing(records, capsys, tmp_path):
    # tf2onnx cannot be installed next to TF >= 2.16 (protobuf pin): the command says so in one line.
    code = main(["export", "--checkpoint", os.path.join(records, "nothing.keras"), "--format", "onnx",
                 "--output", str(tmp_path / "o")])
    assert code == 2
    error = capsys.readouterr().err
    assert "tf2onnx" in error and len(error.strip().splitlines()) == 1


def test_python_api_builders_presets_and_config_round_trip():
    import avse_tf

    model = avse_tf.build_model("vl2m", hidden_units=8, num_layers=2)
    assert model.name == "vl2m" and model.num_layers == 2
    clone = type(model).from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    preset = avse_tf.from_preset("av_concat_mask_grid", hidden_units=16)
    assert preset.hidden_units == 16 and preset.num_layers == avse_tf.get_preset("av_concat_mask_grid")[
        "architecture"]["num_layers"]
    assert "Morrone" in " ".join(avse_tf.get_preset("vl2m_grid")["citation"]["authors"])


def test_every_preset_of_every_family_builds():
    import avse_tf

    names = avse_tf.list_presets()
    families = {avse_tf.get_preset(name)["model"] for name in names}
    assert {"vl2m", "av_concat_mask", "a_blstm", "av_blstm_mtl", "speech2vid"} <= families
    for name in names:
        preset = avse_tf.get_preset(name)
        assert preset["citation"].get("arxiv") or preset["citation"].get("url"), name  # where to read the paper
        model = avse_tf.from_preset(name)
        assert model.count_params() > 0, name


def test_mixed_precision_keeps_float32_outputs():
    import keras

    from avse_tf.systems.landmark_enhancement.model import build_model, compile_model
    from avse_tf.training.strategy import set_mixed_precision

    set_mixed_precision(True)
    try:
        model = build_model("av_concat_mask", hidden_units=8, num_layers=1)
        compile_model(model)
        rng = np.random.default_rng(0)
        inputs = {"mixed_magnitude": rng.random((2, 20, 257), np.float32),
                  "mixed_spectrogram": rng.standard_normal((2, 20, 257), np.float32),
                  "video_features": rng.standard_normal((2, 20, 136), np.float32),
                  "sequence_length": np.array([20, 15], np.int32)}
        outputs = model(inputs)
        assert all(value.dtype == "float32" for value in outputs.values())
        target = {"enhanced_spectrogram": rng.random((2, 20, 257), np.float32)}
        loss = model.train_on_batch(inputs, target)
        assert np.isfinite(loss)
        assert any(layer.dtype_policy.compute_dtype == "float16" for layer in model.layers)
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.slow
def test_tune_writes_the_best_preset(records, tmp_path, capsys):
    import avse_tf

    output = tmp_path / "tuned.json"
    assert main(["tune", "enhancement", "--data_dir", records, "--train_set", "records_platform/TRAINING_SET",
                 "--val_set", "records_platform/VALIDATION_SET", "--model", "av_concat_mask", "--tuner", "random",
                 "--max_trials", "2", "--epochs", "1", "--units", "8,16", "--max_layers", "1", "--batch_size", "4",
                 "--exp", "tune_test", "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("trial ") >= 2 and "val_loss" in printed
    preset = json.loads(output.read_text())
    assert preset["architecture"]["hidden_units"] in (8, 16) and preset["architecture"]["num_layers"] == 1
    assert 1e-4 <= preset["training"]["learning_rate"] <= 1e-2
    assert avse_tf.from_preset(str(output)).hidden_units == preset["architecture"]["hidden_units"]
