"""Morrone 2019 models: shapes and ranges, masking, serialisation, mixed precision, training, presets."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from avse_tf import losses
from avse_tf.layers import SequenceMask, StackedBLSTM, frame_mask
from avse_tf.systems import presets
from avse_tf.systems.landmark_enhancement import model as enhancement
from avse_tf.systems.landmark_enhancement.model import (
    MODEL_SPECS,
    EnhancementModel,
    build_model,
    compile_model,
    select_inputs,
)

SMALL = dict(hidden_units=8, num_layers=2, audio_dim=12, video_dim=6)
NAMES = list(MODEL_SPECS)


def features(rng, lengths, frames, audio_dim=12, video_dim=6):
    """Random model inputs; padded frames hold the same kind of values as valid ones."""
    batch = len(lengths)
    return {
        "video_features": rng.normal(size=(batch, frames, video_dim)).astype(np.float32),
        "mixed_spectrogram": rng.normal(size=(batch, frames, audio_dim)).astype(np.float32),
        "mixed_magnitude": rng.uniform(0.1, 2.0, size=(batch, frames, audio_dim)).astype(np.float32),
        "tbm": (rng.uniform(size=(batch, frames, audio_dim)) > 0.5).astype(np.float32),
        "sequence_length": np.asarray(lengths, np.int32),
    }


def run(model, inputs):
    return {name: np.asarray(value) for name, value in model(select_inputs(inputs, model), training=False).items()}


@pytest.fixture(scope="module")
def small_models():
    keras.utils.set_random_seed(0)
    return {name: build_model(name, **SMALL) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_outputs_have_the_right_shapes_ranges_and_dtypes(small_models, name):
    model = small_models[name]
    rng = np.random.default_rng(0)
    inputs = features(rng, [9, 4, 1], 9)
    assert model.name == name and model.architecture == name
    assert sorted(tensor.name for tensor in model.inputs) == sorted(MODEL_SPECS[name]["inputs"])
    outputs = run(model, inputs)
    assert MODEL_SPECS[name]["output"] in outputs
    for value in outputs.values():
        assert value.shape == (3, 9, 12) and value.dtype == np.float32 and np.all(np.isfinite(value))
    valid = np.arange(9)[None, :] < inputs["sequence_length"][:, None]
    if name == "vl2m":
        assert set(outputs) == {"tbm_logits", "tbm_estimate"}
        estimate = outputs["tbm_estimate"]
        assert estimate.min() > 0 and estimate.max() < 1
        np.testing.assert_allclose(estimate, 1 / (1 + np.exp(-outputs["tbm_logits"])), rtol=1e-5, atol=1e-6)
    elif name == "av_concat_spec":
        assert set(outputs) == {"enhanced_spectrogram"}
        assert outputs["enhanced_spectrogram"].min() >= 0  # ReLU output
        assert np.all(outputs["enhanced_spectrogram"][~valid] == 0)
    else:
        assert set(outputs) == {"mask", "enhanced_spectrogram"}
        iam = outputs["mask"]
        assert iam.min() >= 0 and iam.max() <= 10 and iam[valid].min() > 0
        np.testing.assert_allclose(outputs["enhanced_spectrogram"], iam * inputs["mixed_magnitude"], rtol=1e-6)
        assert np.all(iam[~valid] == 0) and np.all(outputs["enhanced_spectrogram"][~valid] == 0)


@pytest.mark.parametrize("name", NAMES)
def test_padded_frames_do_not_reach_the_valid_outputs(small_models, name):
    model = small_models[name]
    rng = np.random.default_rng(1)
    lengths, frames = [10, 6, 3], 10
    inputs = features(rng, lengths, frames)
    reference = run(model, inputs)
    # 1) New values in the padded frames of every input: valid outputs unchanged.
    changed = {key: value.copy() for key, value in inputs.items()}
    for key in ("video_features", "mixed_spectrogram", "mixed_magnitude", "tbm"):
        for b, n in enumerate(lengths):
            changed[key][b, n:] = rng.normal(5.0, 3.0, size=changed[key][b, n:].shape)
    other = run(model, changed)
    # 2) Each example alone, cut to its own length: the same valid outputs. Without the mask the
    #    backward LSTMs would start in the padding, so this fails if the mask is not used.
    for b, n in enumerate(lengths):
        alone = run(model, {k: v[b:b + 1, :n] if v.ndim == 3 else v[b:b + 1] for k, v in inputs.items()})
        for key in reference:
            np.testing.assert_allclose(other[key][b, :n], reference[key][b, :n], rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(alone[key][0], reference[key][b, :n], rtol=1e-4, atol=1e-5)


def test_stacked_blstm_layer_shapes_masks_config_and_cudnn_eligibility():
    layer = StackedBLSTM(5, num_layers=3, dropout=0.25, regularization=1e-4, name="stack")
    features_in = keras.Input(shape=(None, 7))
    lengths = keras.Input(shape=(), dtype="int32")
    output = layer(SequenceMask()([features_in, lengths]))
    assert tuple(output.shape) == (None, None, 10)
    model = keras.Model([features_in, lengths], output)
    x = np.random.default_rng(2).normal(size=(2, 6, 7)).astype(np.float32)
    y = np.asarray(model([x, np.array([6, 2], np.int32)]))
    assert y.shape == (2, 6, 10) and np.all(y[1, 2:] == 0)  # padded frames: zero output
    np.testing.assert_array_equal(np.asarray(frame_mask([2, 0, 3], 3)), [[1, 1, 0], [0, 0, 0], [1, 1, 1]])
    assert len(layer.blstms) == 3 and len(layer.dropouts) == 3
    assert len(StackedBLSTM(5, 3, dropout=0.25, dropout_placement="top").dropouts) == 1
    assert len(layer.losses) == 2 * 3 * 2  # kernel + recurrent kernel, 2 directions, 3 layers
    config = layer.get_config()
    assert config["units"] == 5 and config["num_layers"] == 3 and config["dropout"] == 0.25
    clone = StackedBLSTM.from_config(config)
    assert clone.get_config() == config
    # cuDNN conditions (Keras LSTM doc): tanh, sigmoid, no recurrent dropout, no unroll, bias.
    for blstm in layer.blstms:
        for lstm in (blstm.forward_layer, blstm.backward_layer):
            lstm_config = lstm.get_config()
            assert lstm_config["activation"] == "tanh" and lstm_config["recurrent_activation"] == "sigmoid"
            assert lstm_config["recurrent_dropout"] == 0 and lstm_config["dropout"] == 0
            assert lstm_config["unroll"] is False and lstm_config["use_bias"] is True
            assert lstm.use_cudnn == "auto"
            kernel = np.asarray(lstm.cell.kernel)
            assert np.abs(kernel).max() <= 0.1 and np.abs(kernel).max() > 0.05  # uniform(-0.1, 0.1)
    with pytest.raises(ValueError, match="drop rate"):
        StackedBLSTM(4, 1, dropout=1.0)
    with pytest.raises(ValueError, match="dropout_placement"):
        StackedBLSTM(4, 1, dropout_placement="middle")


def test_dropout_is_active_in_training_only():
    keras.utils.set_random_seed(3)
    model = build_model("av_concat_mask", **{**SMALL, "num_layers": 1}, dropout=0.5)
    inputs = select_inputs(features(np.random.default_rng(3), [5, 5], 5), model)
    first = np.asarray(model(inputs, training=False)["mask"])
    np.testing.assert_array_equal(first, np.asarray(model(inputs, training=False)["mask"]))
    assert not np.allclose(first, np.asarray(model(inputs, training=True)["mask"]))


@pytest.mark.parametrize("name", NAMES)
def test_config_round_trip_and_safe_mode_save_load(small_models, name, tmp_path):
    model = small_models[name]
    inputs = features(np.random.default_rng(4), [7, 5], 7)
    expected = run(model, inputs)
    config = model.get_config()
    assert config["architecture"] == name and config["hidden_units"] == 8 and config["num_layers"] == 2
    json.dumps(config)  # plain JSON
    rebuilt = EnhancementModel.from_config(config)
    assert rebuilt.get_config() == config and rebuilt.count_params() == model.count_params()
    assert [w.shape for w in rebuilt.weights] == [w.shape for w in model.weights]
    rebuilt.set_weights(model.get_weights())
    for key, value in run(rebuilt, inputs).items():
        np.testing.assert_allclose(value, expected[key], rtol=1e-6, atol=1e-7)
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    assert isinstance(revived, EnhancementModel) and revived.get_config() == config
    path = str(tmp_path / f"{name}.keras")
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert isinstance(loaded, EnhancementModel) and loaded.name == name
    for key, value in run(loaded, inputs).items():
        np.testing.assert_array_equal(value, expected[key])


def test_compiled_model_reloads_with_its_masked_loss(tmp_path):
    model = compile_model(build_model("vl2m", **SMALL), keras.optimizers.Adam(1e-3))
    inputs = features(np.random.default_rng(5), [6, 3], 6)
    weights = (np.arange(6)[None, :] < inputs["sequence_length"][:, None]).astype(np.float32)
    target = {"tbm_logits": inputs["tbm"]}
    model.train_on_batch(select_inputs(inputs, model), target, sample_weight={"tbm_logits": weights})
    path = str(tmp_path / "vl2m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.loss["tbm_logits"], losses.MaskedSigmoidCrossEntropy)
    assert int(loaded.optimizer.iterations) == 1
    expected = float(losses.masked_sigmoid_cross_entropy(inputs["tbm"], run(model, inputs)["tbm_logits"], weights))
    after = loaded.evaluate(select_inputs(inputs, model), target, sample_weight={"tbm_logits": weights}, verbose=0)
    assert after == pytest.approx(expected, rel=1e-5)


def test_fit_and_evaluate_normalise_by_valid_frames(small_models):
    """A batch with half its frames padded evaluates to the loss of its valid half alone."""
    model = small_models["av_concat_mask"]
    compile_model(model, "adam")
    rng = np.random.default_rng(6)
    padded = features(rng, [4, 4], 8)
    target = rng.uniform(0, 2, size=(2, 8, 12)).astype(np.float32)
    target[:, 4:] = 100.0  # garbage in the padding
    weights = np.zeros((2, 8), np.float32)
    weights[:, :4] = 1
    cut = {key: value[:, :4] if value.ndim == 3 else value for key, value in padded.items()}
    alone = model.evaluate(select_inputs(cut, model), {"enhanced_spectrogram": target[:, :4]}, verbose=0)
    with_weights = model.evaluate(select_inputs(padded, model), {"enhanced_spectrogram": target},
                                  sample_weight={"enhanced_spectrogram": weights}, verbose=0)
    # Without sample weights the Keras mask carried by the output gives the same normalisation.
    with_mask_only = model.evaluate(select_inputs(padded, model), {"enhanced_spectrogram": target}, verbose=0)
    direct = float(losses.masked_l2(target, run(model, padded)["enhanced_spectrogram"], weights))
    assert with_weights == pytest.approx(alone, rel=1e-5)
    assert with_mask_only == pytest.approx(alone, rel=1e-5)
    assert direct == pytest.approx(alone, rel=1e-5)


def test_outputs_are_float32_under_mixed_precision():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        inputs = features(np.random.default_rng(7), [5, 2], 5)
        for name in ("vl2m", "vl2m_ref", "av_concat_spec"):
            model = build_model(name, **{**SMALL, "num_layers": 1})
            assert model.get_layer("blstm" if name != "vl2m_ref" else "fusion_blstm").compute_dtype == "float16"
            outputs = model(select_inputs(inputs, model))
            assert all(keras.backend.standardize_dtype(value.dtype) == "float32" for value in outputs.values())
        compile_model(model, "adam")  # loss scaling is added by Keras for mixed_float16
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        logs = model.train_on_batch(select_inputs(inputs, model), {"enhanced_spectrogram": inputs["mixed_magnitude"]},
                                    return_dict=True)
        assert np.isfinite(logs["loss"])
    finally:
        keras.mixed_precision.set_dtype_policy("float32")


def _train(model, inputs, target, weights, steps):
    y = {model.spec["output"]: target}
    sample_weight = {model.spec["output"]: weights}
    before = model.evaluate(inputs, y, sample_weight=sample_weight, verbose=0)
    # One epoch of `steps` repetitions of the same batch (fewer per-epoch overheads than epochs=steps).
    dataset = tf.data.Dataset.from_tensors((inputs, y, sample_weight)).repeat(steps)
    model.fit(dataset, epochs=1, verbose=0, shuffle=False)
    return before, model.evaluate(inputs, y, sample_weight=sample_weight, verbose=0)


def test_av_concat_mask_learns_a_known_mask():
    """Target = known mask x mixture: the IAM L2 loss falls more than 5x (gradients flow)."""
    keras.utils.set_random_seed(8)
    rng = np.random.default_rng(8)
    lengths, frames = [16, 12, 16, 9], 16
    data = features(rng, lengths, frames)
    projection = rng.normal(size=(6, 12)).astype(np.float32)
    known_mask = 1 / (1 + np.exp(-(data["video_features"] @ projection)))  # depends on the video, in (0, 1)
    target = known_mask * data["mixed_magnitude"]
    weights = (np.arange(frames)[None, :] < np.asarray(lengths)[:, None]).astype(np.float32)
    model = build_model("av_concat_mask", hidden_units=32, num_layers=1, audio_dim=12, video_dim=6)
    compile_model(model, keras.optimizers.Adam(1e-2))
    before, after = _train(model, select_inputs(data, model), target, weights, 150)
    assert after < before / 5, (before, after)


def test_vl2m_learns_a_tbm_that_depends_on_the_video():
    keras.utils.set_random_seed(9)
    rng = np.random.default_rng(9)
    lengths, frames = [16, 16, 11, 7], 16
    data = features(rng, lengths, frames)
    projection = rng.normal(size=(6, 12)).astype(np.float32)
    tbm = (data["video_features"] @ projection > 0).astype(np.float32)
    weights = (np.arange(frames)[None, :] < np.asarray(lengths)[:, None]).astype(np.float32)
    model = build_model("vl2m", hidden_units=32, num_layers=1, audio_dim=12, video_dim=6)
    compile_model(model, keras.optimizers.Adam(1e-2))
    before, after = _train(model, select_inputs(data, model), tbm, weights, 120)
    assert before > 0.6 and after < before / 3, (before, after)
    estimate = np.asarray(model(select_inputs(data, model))["tbm_estimate"])
    accuracy = np.mean(((estimate > 0.5) == (tbm > 0.5))[weights.astype(bool)])
    assert accuracy > 0.9


def _lstm_params(inputs, units):
    return 4 * (units * (inputs + units) + units)


def test_presets_hold_the_paper_values_and_build():
    names = [name for name in presets.list_presets() if presets.get_preset(name)["model"] in MODEL_SPECS]
    assert names == sorted(["vl2m_grid", "vl2m_ref_grid", "av_concat_mask_grid", "av_concat_mask_ref_grid",
                            "av_concat_spec_grid"])
    assert presets.list_presets("vl2m") == ["vl2m_grid"]
    for name in names:
        preset = presets.get_preset(name)
        assert preset["name"] == name and preset["model"] in MODEL_SPECS
        assert preset["architecture"]["hidden_units"] == 250
        assert preset["citation"]["arxiv"] == "1811.02480" and "Morrone" in preset["citation"]["authors"][0]
        assert preset["features"]["power_law"] == 0.3 and preset["features"]["mask_factor"] == 0.6
        assert preset["features"]["stft"] == "morrone2019" and preset["features"]["video_delta"] == 1
        assert preset["training"]["optimizer"] == "adam"
        assert set(preset["provenance"]) >= {"paper_or_original_code", "chosen_here", "unknown"}
    assert presets.get_preset("vl2m_grid")["architecture"]["num_layers"] == 5
    assert presets.get_preset("vl2m_grid")["training"]["learning_rate"] == 1e-4
    assert presets.get_preset("av_concat_mask_ref_grid")["architecture"]["num_layers"] == 3
    for name in ("vl2m_ref_grid", "av_concat_mask_ref_grid"):
        assert presets.get_preset(name)["training"]["learning_rate"] == 1e-3
    # A copy: editing it does not change the preset.
    presets.get_preset("vl2m_grid")["architecture"]["num_layers"] = 1
    assert presets.get_preset("vl2m_grid")["architecture"]["num_layers"] == 5
    with pytest.raises(ValueError, match="unknown preset"):
        presets.get_preset("vl2m_lrs3")

    units, bins, video = 250, 257, 136

    def stack(first_input, layers):
        return 2 * (_lstm_params(first_input, units) + (layers - 1) * _lstm_params(2 * units, units))

    out = 2 * units * bins + bins
    expected = {
        "vl2m_grid": stack(video, 5) + out,
        "vl2m_ref_grid": stack(bins, 3) * 2 + 2 * (2 * units * units) + units + stack(units, 3) + out,
        "av_concat_mask_grid": stack(video + bins, 3) + out,
        "av_concat_mask_ref_grid": stack(2 * bins, 3) + out,
        "av_concat_spec_grid": stack(video + bins, 3) + out,
    }
    for name, count in expected.items():
        model = presets.from_preset(name)
        assert model.name == presets.get_preset(name)["model"] and model.count_params() == count, name
    small = presets.from_preset("vl2m_grid", hidden_units=4, num_layers=1)
    assert small.get_config()["hidden_units"] == 4 and small.count_params() == 2 * _lstm_params(136, 4) + 8 * 257 + 257


def test_registry_and_specs_are_consistent():
    assert set(enhancement.MODEL_BUILDERS) == set(MODEL_SPECS)
    for name, spec in MODEL_SPECS.items():
        assert spec["loss"] in losses.LOSSES and set(spec["inputs"]) <= set(enhancement.INPUT_NAMES)
        assert "sequence_length" in spec["inputs"]
    assert MODEL_SPECS["vl2m"]["num_layers"] == 5 and MODEL_SPECS["av_concat_mask_ref"]["num_layers"] == 3
    assert build_model("vl2m", hidden_units=4).num_layers == 5
    assert build_model("vl2m", hidden_units=4, name="my_vl2m").name == "my_vl2m"
    with pytest.raises(ValueError, match="unknown model"):
        build_model("av_concat")
    with pytest.raises(ValueError, match="unknown model"):
        compile_model(build_model("vl2m", hidden_units=4), "adam", model_name="nope")
