"""Masked losses: normalisation by valid frames, Keras wrappers with sample weights and masks, oracle IAM."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from avse_tf import losses


def _padded_batch(rng, lengths, frames, bins=7, garbage=50.0):
    """Targets/estimates [B, frames, bins] whose padded frames hold large garbage, and the frame mask."""
    target = rng.uniform(0, 2, size=(len(lengths), frames, bins)).astype(np.float32)
    estimate = rng.uniform(0, 2, size=target.shape).astype(np.float32)
    mask = (np.arange(frames)[None, :] < np.asarray(lengths)[:, None]).astype(np.float32)
    target[mask == 0] = garbage
    estimate[mask == 0] = -garbage
    return target, estimate, mask


def test_masked_l2_is_the_mean_over_bins_and_valid_frames():
    rng = np.random.default_rng(0)
    target, estimate, mask = _padded_batch(rng, [6, 3], 6)
    valid = mask.astype(bool)
    expected = np.mean((estimate[valid] - target[valid]) ** 2)  # pooled over the 9 valid frames
    assert float(losses.masked_l2(target, estimate, mask)) == pytest.approx(expected, rel=1e-6)
    # Not the per-sequence mean averaged over the batch, and not divided by B * T.
    per_sequence = np.mean([np.mean((estimate[b, :n] - target[b, :n]) ** 2) for b, n in enumerate([6, 3])])
    assert abs(per_sequence - expected) > 1e-3
    # No mask: plain mean over everything.
    assert float(losses.masked_l2(target, estimate)) == pytest.approx(np.mean((estimate - target) ** 2), rel=1e-6)


def test_masked_sigmoid_cross_entropy_matches_the_formula():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, size=(2, 5, 4)).astype(np.float32)
    tbm = (rng.uniform(size=logits.shape) > 0.5).astype(np.float32)
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], np.float32)
    probability = 1 / (1 + np.exp(-logits.astype(np.float64)))
    elementwise = -(tbm * np.log(probability) + (1 - tbm) * np.log(1 - probability))
    expected = elementwise[mask.astype(bool)].mean()
    value = float(losses.masked_sigmoid_cross_entropy(tbm, logits, mask))
    assert value == pytest.approx(expected, rel=1e-5)
    # Stable for large logits (no log(0)).
    big = float(losses.masked_sigmoid_cross_entropy(np.ones((1, 1, 2)), np.array([[[80.0, -80.0]]]), None))
    assert np.isfinite(big) and big == pytest.approx(40.0, rel=1e-4)


@pytest.mark.parametrize("function, loss_class", [
    (losses.masked_l2, losses.MaskedL2),
    (losses.masked_sigmoid_cross_entropy, losses.MaskedSigmoidCrossEntropy),
])
def test_half_padded_batch_gives_the_loss_of_its_valid_part(function, loss_class):
    rng = np.random.default_rng(2)
    frames, valid = 10, 5
    target, estimate, mask = _padded_batch(rng, [valid, valid, valid], frames)
    if loss_class is losses.MaskedSigmoidCrossEntropy:
        target = (target > 1).astype(np.float32)
    alone = float(function(target[:, :valid], estimate[:, :valid]))
    assert float(function(target, estimate, mask)) == pytest.approx(alone, rel=1e-6)
    keras_loss = loss_class()
    # Frame mask as Keras sample weight [B, T]: divided by the valid frames, not by B * T.
    assert float(keras_loss(target, estimate, sample_weight=mask)) == pytest.approx(alone, rel=1e-6)
    assert float(keras_loss(target[:, :valid], estimate[:, :valid])) == pytest.approx(alone, rel=1e-6)
    # The same mask attached to the prediction as a Keras mask (what the models' outputs carry).
    prediction = tf.constant(estimate)
    prediction._keras_mask = tf.constant(mask > 0)
    assert float(keras_loss(target, prediction)) == pytest.approx(alone, rel=1e-6)
    # Both together (mask x weight with 0/1 values): unchanged.
    assert float(keras_loss(target, prediction, sample_weight=mask)) == pytest.approx(alone, rel=1e-6)


def test_variable_lengths_are_normalised_by_the_total_number_of_valid_frames():
    rng = np.random.default_rng(3)
    lengths = [8, 2, 5]
    target, estimate, mask = _padded_batch(rng, lengths, 8)
    total = sum(np.sum((estimate[b, :n] - target[b, :n]) ** 2) for b, n in enumerate(lengths))
    expected = total / (sum(lengths) * target.shape[-1])
    assert float(losses.MaskedL2()(target, estimate, sample_weight=mask)) == pytest.approx(expected, rel=1e-6)


def test_a_batch_without_valid_frames_gives_zero_not_nan():
    zeros = np.zeros((2, 3), np.float32)
    value = losses.masked_l2(np.ones((2, 3, 4)), np.zeros((2, 3, 4)), zeros)
    assert float(value) == 0.0
    assert float(losses.MaskedL2()(np.ones((2, 3, 4)), np.zeros((2, 3, 4)), sample_weight=zeros)) == 0.0


def test_keras_losses_serialise_and_are_found_by_key():
    for key, loss_class in losses.LOSSES.items():
        loss = losses.get_loss(key)
        assert isinstance(loss, loss_class) and loss.name == key
        assert loss.reduction == "mean_with_sample_weight"
        restored = keras.losses.deserialize(keras.losses.serialize(loss))
        assert type(restored) is loss_class and restored.reduction == loss.reduction
    with pytest.raises(ValueError, match="unknown loss"):
        losses.get_loss("l1")


def test_oracle_iam_is_the_clipped_ratio_with_a_safe_divide():
    target = np.array([[[1.0, 2.0, 0.0, 3.0, 30.0]]], np.float32)
    mixture = np.array([[[2.0, 1.0, 0.0, 0.0, 1.0]]], np.float32)
    iam = np.asarray(losses.oracle_iam(target, mixture))
    np.testing.assert_allclose(iam, [[[0.5, 2.0, 0.0, 10.0, 10.0]]])
    rng = np.random.default_rng(4)
    mixture = rng.uniform(0.1, 2, size=(2, 6, 9)).astype(np.float32)
    mask = rng.uniform(0, 3, size=mixture.shape).astype(np.float32)
    recovered = np.asarray(losses.oracle_iam(mask * mixture, mixture))
    np.testing.assert_allclose(recovered, mask, rtol=1e-5)
    assert np.all(np.isfinite(recovered)) and recovered.min() >= 0 and recovered.max() <= losses.IAM_MAX
