"""Shared layers: the CPU projected LSTM computes what keras.layers.LSTM computes."""

import numpy as np
import pytest


@pytest.mark.parametrize("go_backwards", [False, True])
def test_projected_lstm_matches_keras_lstm(go_backwards):
    import keras

    from avse_tf.layers.recurrent import ProjectedLSTM

    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(3, 11, 5)).astype("float32")
    lengths = np.array([11, 7, 2])
    mask = np.arange(11)[None, :] < lengths[:, None]
    reference = keras.layers.LSTM(6, return_sequences=True, go_backwards=go_backwards)
    projected = ProjectedLSTM(6, return_sequences=True, go_backwards=go_backwards)
    expected = reference(inputs, mask=mask)
    projected.build(inputs.shape)
    projected.set_weights(reference.get_weights())
    got = projected(inputs, mask=mask)
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected), atol=1e-5)
    # The weights are not the default ones (a zero kernel would hide a wrong projection).
    assert np.abs(np.asarray(expected)).max() > 0.05
    # Gradients agree too (training uses this path).
    import tensorflow as tf

    x = tf.constant(inputs)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss_projected = tf.reduce_sum(projected(x, mask=mask) ** 2)
    with tf.GradientTape() as tape_reference:
        tape_reference.watch(x)
        loss_reference = tf.reduce_sum(reference(x, mask=mask) ** 2)
    np.testing.assert_allclose(tape.gradient(loss_projected, x).numpy(),
                               tape_reference.gradient(loss_reference, x).numpy(), atol=1e-4)
