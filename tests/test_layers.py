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


@pytest.mark.parametrize("with_mask", [True, False])
def test_fused_directions_compute_what_two_keras_loops_compute(with_mask, monkeypatch):
    """StackedBLSTM's XLA inference path (both directions in one loop) against its per-direction
    Keras path: the same outputs (zeros at padded frames) and input gradients; it runs under XLA
    only (a plain graph keeps the two Keras loops, which it runs on two cores at once)."""
    import tensorflow as tf

    from avse_tf.layers import recurrent

    layer = recurrent.StackedBLSTM(8, num_layers=2, init_scale=0.5)
    rng = np.random.default_rng(1)
    inputs = tf.constant(rng.normal(size=(3, 13, 5)).astype("float32"))
    mask = tf.constant(np.arange(13)[None, :] < np.array([13, 9, 4])[:, None]) if with_mask else None
    layer.build(inputs.shape)
    calls = []
    fused = recurrent.fused_bidirectional_lstm
    monkeypatch.setattr(recurrent, "fused_bidirectional_lstm", lambda *args: calls.append(1) or fused(*args))

    def run(fuse, jit_compile):
        monkeypatch.setattr(recurrent, "FUSE_DIRECTIONS", fuse)

        @tf.function(jit_compile=jit_compile)
        def forward(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                outputs = layer(x, mask=mask, training=False)
                loss = tf.reduce_sum(outputs * tf.cos(tf.range(16, dtype=tf.float32)))
            return outputs, tape.gradient(loss, x)

        return [value.numpy() for value in forward(inputs)]

    expected, expected_gradient = run(False, True)
    assert np.abs(expected).max() > 0.1 and not calls
    run(True, False)
    assert not calls  # a plain graph: the per-direction loops
    got, gradient = run(True, True)
    assert len(calls) == 2  # one per BLSTM layer
    np.testing.assert_allclose(got, expected, atol=2e-6)
    np.testing.assert_allclose(gradient, expected_gradient, atol=2e-5)
    if with_mask:
        assert np.all(got[1, 9:] == 0) and np.all(got[2, 4:] == 0) and np.abs(got[2, :4]).min() > 0
