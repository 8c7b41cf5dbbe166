"""``avse export`` and ``avse_tf.load`` for the systems beyond enhancement (enhancement's exports are
tested end to end in tests/test_platform.py): every declared format reloads and gives the Keras
model's outputs; undeclared ones are refused in one line."""

import os

import numpy as np
import pytest

import avse_tf
from avse_tf.cli.main import main
from avse_tf.data.normalization import save_stats


def _run_tflite(path, inputs):
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=path)
    runner = interpreter.get_signature_runner()
    return runner(**inputs)


@pytest.fixture(scope="module")
def inpainting_experiment(tmp_path_factory):
    exp = tmp_path_factory.mktemp("inpainting") / "a_blstm"
    os.makedirs(exp)
    model = avse_tf.from_preset("a_blstm_grid", hidden_units=8, num_layers=1)
    model.save(str(exp / "best.keras"))
    rng = np.random.default_rng(0)
    save_stats(str(exp / "normalization.npz"),
               spectrogram=(rng.normal(-4, 1, 257).astype(np.float32), np.full(257, 2.0, np.float32)),
               video=(np.zeros(136, np.float32), np.ones(136, np.float32)))
    return str(exp), model


def _inpainting_inputs(frames, rng):
    mask = np.zeros((1, frames, 1), np.float32)
    mask[:, frames // 3: frames // 2] = 1.0
    return {"gapped_spectrogram": rng.normal(size=(1, frames, 257)).astype(np.float32) * (1 - mask),
            "gap_mask": mask, "sequence_length": np.array([frames], np.int32)}


def test_inpainting_savedmodel_and_tflite_give_the_keras_outputs(inpainting_experiment, tmp_path):
    exp, model = inpainting_experiment
    inputs = _inpainting_inputs(250, np.random.default_rng(1))
    expected = model.predict_on_batch(inputs)["inpainted_spectrogram"]
    assert main(["export", "--checkpoint", exp, "--format", "savedmodel", "--output", str(tmp_path / "sm")]) == 0
    exported = avse_tf.load(str(tmp_path / "sm"))
    assert (exported.system, exported.model_id) == ("av_inpainting", "a_blstm")
    assert os.path.isfile(tmp_path / "sm" / "1" / "normalization.npz")  # the caller makes features with it
    np.testing.assert_allclose(exported(**inputs)["inpainted_spectrogram"], expected, atol=1e-5)
    # In-process inference compiles the BLSTM loops with XLA; the exported graph has Keras' loops only
    with open(tmp_path / "sm" / "1" / "saved_model.pb", "rb") as graph:
        assert b"_XlaMustCompile" not in graph.read()
    assert main(["export", "--checkpoint", exp, "--format", "tflite", "--output", str(tmp_path / "tfl")]) == 0
    lite = _run_tflite(str(tmp_path / "tfl" / "model.tflite"), inputs)
    np.testing.assert_allclose(lite["inpainted_spectrogram"], expected, atol=1e-4)


def test_inpainting_keras_export_loads_as_an_inpainter(inpainting_experiment, tmp_path):
    from avse_tf.audio.io import load_audio, write_audio

    exp, _ = inpainting_experiment
    assert main(["export", "--checkpoint", exp, "--format", "keras", "--output", str(tmp_path / "k")]) == 0
    inpainter = avse_tf.load(str(tmp_path / "k"))
    assert (inpainter.system, inpainter.model_id) == ("av_inpainting", "a_blstm")
    rng = np.random.default_rng(2)
    waveform = (0.1 * np.sin(np.arange(16000) * 2 * np.pi * 220 / 16000) + 0.01 * rng.normal(size=16000))
    waveform = waveform.astype(np.float32)
    waveform[6400:8000] = 0.0  # 100 ms of digital silence: the gap
    write_audio(str(tmp_path / "gapped.wav"), waveform, 16000)
    result = avse_tf.inpaint_file(str(tmp_path / "gapped.wav"), str(tmp_path / "out.wav"), inpainter)
    assert result["model"] == "a_blstm" and len(result["gaps_seconds"]) == 1
    restored = load_audio(str(tmp_path / "out.wav"), 16000)
    assert restored.size == waveform.size
    # Away from the gap (beyond one 384-sample window) and the first window, the input comes back.
    np.testing.assert_allclose(restored[384:6000], waveform[384:6000], atol=2e-4)
    assert np.abs(restored[6400:8000]).max() > 0  # the gap was filled
    with pytest.raises(avse_tf.errors.UserInputError, match="av_inpainting model; this helper needs a speech2vid"):
        avse_tf.speech_to_video("a.wav", "face.jpg", "out.mp4", inpainter)


def test_speech2vid_exports_give_the_keras_outputs(tmp_path):
    model = avse_tf.build_model("speech2vid", image_size=32, num_identity=1, width=0.25)
    exp = tmp_path / "s2v"
    os.makedirs(exp)
    model.save(str(exp / "best.keras"))
    rng = np.random.default_rng(3)
    inputs = {"mfcc": rng.normal(size=(1, 12, 35)).astype(np.float32),
              "identity": rng.uniform(size=(1, 32, 32, 3)).astype(np.float32)}
    expected = model.predict_on_batch(inputs)
    expected = expected["face"] if isinstance(expected, dict) else expected
    assert main(["export", "--ckp", str(exp), "--format", "savedmodel", "--output", str(tmp_path / "sm")]) == 0
    exported = avse_tf.load(str(tmp_path / "sm"))
    assert exported.system == "speech2vid"
    outputs = exported(**inputs)
    np.testing.assert_allclose(next(iter(outputs.values())), expected, atol=1e-5)
    assert main(["export", "--ckp", str(exp), "--format", "tflite", "--output", str(tmp_path / "tfl")]) == 0
    lite = _run_tflite(str(tmp_path / "tfl" / "model.tflite"), inputs)
    np.testing.assert_allclose(next(iter(lite.values())), expected, atol=1e-4)
    assert main(["export", "--ckp", str(exp), "--format", "keras", "--output", str(tmp_path / "k")]) == 0
    talking_face = avse_tf.load(str(tmp_path / "k"))
    assert (talking_face.system, talking_face.model_id) == ("speech2vid", "speech2vid")


def test_unsupported_format_is_one_line(inpainting_experiment, tmp_path, capsys):
    exp, _ = inpainting_experiment
    assert main(["export", "--checkpoint", exp, "--format", "onnx", "--output", str(tmp_path / "o")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "tf2onnx" in error
