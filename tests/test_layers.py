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



@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("zero_output_for_mask", [True, False])
@pytest.mark.parametrize("compiled", [True, False])
def test_training_recurrence_gradients_match_keras_lstm(go_backwards, zero_output_for_mask, compiled, monkeypatch):
    """In training, ProjectedLSTM runs lstm_sequence (hand-written backward pass; XLA-compiled with the
    time axis padded to a multiple of 8, or in the graph): its outputs, final states and the gradients
    of inputs, initial state and every weight equal autodiff of keras.layers.LSTM."""
    import keras
    import tensorflow as tf

    from avse_tf.layers import lstm_sequence as module
    from avse_tf.layers import recurrent
    from avse_tf.layers.recurrent import ProjectedLSTM

    monkeypatch.setattr(recurrent, "TRAINING_RECURRENCE", "compiled" if compiled else "graph")
    name = "compiled_lstm_sequence" if compiled else "lstm_sequence"
    calls, original = [], getattr(module, name)
    monkeypatch.setattr(module, name, lambda *args, **kwargs: calls.append(1) or original(*args, **kwargs))

    rng = np.random.default_rng(2)
    x = tf.constant(rng.normal(size=(3, 11, 5)).astype("float32"))
    mask = tf.constant(np.arange(11)[None, :] < np.array([11, 7, 2])[:, None])
    state = [tf.constant(rng.normal(size=(3, 6)).astype("float32")) for _ in range(2)]
    options = dict(return_sequences=True, return_state=True, go_backwards=go_backwards)
    reference, projected = keras.layers.LSTM(6, **options), ProjectedLSTM(6, **options)
    for layer in (reference, projected):
        layer.zero_output_for_mask = zero_output_for_mask
    reference.build(x.shape)
    projected.build(x.shape)
    projected.set_weights([w * 3 for w in reference.get_weights()])
    reference.set_weights(projected.get_weights())
    weights = np.cos(np.arange(6 * 11 * 3)).reshape(3, 11, 6).astype("float32")

    def run(layer):
        with tf.GradientTape() as tape:
            tape.watch([x, *state])
            outputs, h, c = layer(x, mask=mask, initial_state=state, training=True)
            loss = tf.reduce_sum(outputs * weights) + tf.reduce_sum(h * h) + tf.reduce_sum(tf.sin(c))
        gradients = tape.gradient(loss, [x, *state, *layer.trainable_weights])
        return [value.numpy() for value in (outputs, h, c, *gradients)]

    got = run(projected)
    expected = run(reference)
    assert calls, "training did not take the hand-written recurrence"
    for name, value, want in zip(["outputs", "h", "c", "dx", "dh0", "dc0", "dkernel", "drecurrent", "dbias"],
                                 got, expected):
        assert np.abs(want).max() > 1e-2, name
        np.testing.assert_allclose(value, want, atol=2e-5 * max(1.0, np.abs(want).max()), err_msg=name)
    outputs = got[0]
    if go_backwards:  # Keras returns them reversed: the padded frames come first, before any output
        assert np.all(outputs[2, :9] == 0)
    elif zero_output_for_mask:
        assert np.all(outputs[2, 2:] == 0)
    else:  # the last real frame's output, carried
        np.testing.assert_array_equal(outputs[2, 2:], np.broadcast_to(outputs[2, 1], (9, 6)))


def test_training_recurrence_in_bfloat16_follows_float32(monkeypatch):
    """Under mixed_bfloat16 the hand-written recurrence runs in bfloat16, in the graph (XLA only in
    float32), and its weight gradients stay close to float32's (bfloat16 keeps 8 bits of mantissa)."""
    import tensorflow as tf

    from avse_tf.layers import lstm_sequence as module
    from avse_tf.layers.recurrent import StackedBLSTM

    calls = {"lstm_sequence": [], "compiled_lstm_sequence": []}

    def spy(name):
        original = getattr(module, name)

        def recording(*args, **kwargs):
            calls[name].append(args[0].dtype)
            return original(*args, **kwargs)
        return recording

    for name in calls:
        monkeypatch.setattr(module, name, spy(name))

    rng = np.random.default_rng(3)
    x = tf.constant(rng.normal(size=(4, 20, 7)).astype("float32"))
    mask = tf.constant(np.arange(20)[None, :] < np.array([20, 15, 9, 3])[:, None])

    def gradients(policy, weights=None):
        layer = StackedBLSTM(8, num_layers=2, init_scale=0.4, dtype=policy)
        layer.build(x.shape)
        if weights is not None:
            layer.set_weights(weights)
        with tf.GradientTape() as tape:
            outputs = layer(x, mask=mask, training=True)
            loss = tf.reduce_sum(tf.cast(outputs, tf.float32) ** 2)
        return layer.get_weights(), outputs.dtype, [g.numpy() for g in tape.gradient(loss, layer.trainable_weights)]

    weights, dtype32, reference = gradients("float32")
    assert calls["compiled_lstm_sequence"] == [tf.float32] * 4  # 2 layers x 2 directions
    calls["compiled_lstm_sequence"].clear(), calls["lstm_sequence"].clear()
    _, dtype16, got = gradients("mixed_bfloat16", weights)
    assert dtype32 == tf.float32 and dtype16 == tf.bfloat16
    assert calls["lstm_sequence"] == [tf.bfloat16] * 4 and not calls["compiled_lstm_sequence"]
    for value, want in zip(got, reference):
        scale = np.abs(want).max()
        assert scale > 1e-3 and np.isfinite(value).all()
        assert np.abs(value - want).max() < 0.1 * scale


@pytest.mark.parametrize("eager", [False, True])
def test_compiled_inference_loops_compute_what_keras_loops_compute(eager, monkeypatch):
    """StackedBLSTM's inference in a plain graph (or eagerly): each direction's recurrence one XLA
    kernel, the time axis padded to a multiple of 8 (13 frames here). Same outputs as the Keras
    loops that per_direction_loops() (exports) keeps, zeros at padded frames."""
    import tensorflow as tf

    from avse_tf.layers import recurrent

    layer = recurrent.StackedBLSTM(8, num_layers=2, init_scale=0.5)
    rng = np.random.default_rng(4)
    inputs = tf.constant(rng.normal(size=(3, 13, 5)).astype("float32"))
    mask = tf.constant(np.arange(13)[None, :] < np.array([13, 9, 4])[:, None])
    layer.build(inputs.shape)
    calls = []
    compiled = recurrent.compiled_bidirectional_lstm
    monkeypatch.setattr(recurrent, "compiled_bidirectional_lstm", lambda *args: calls.append(1) or compiled(*args))

    def forward(x):
        return layer(x, mask=mask, training=False)

    run = forward if eager else tf.function(forward)
    with recurrent.per_direction_loops():
        expected = np.asarray(tf.function(forward)(inputs))
    assert not calls and np.abs(expected).max() > 0.1
    got = np.asarray(run(inputs))
    assert len(calls) == 2  # one per BLSTM layer
    np.testing.assert_allclose(got, expected, atol=2e-6)
    assert np.all(got[1, 9:] == 0) and np.all(got[2, 4:] == 0) and np.abs(got[2, :4]).min() > 0
    # Under mixed_bfloat16: bfloat16 out, the recurrence itself in float32 (XLA's 16-bit products are slow)
    half = recurrent.StackedBLSTM(8, num_layers=2, init_scale=0.5, dtype="mixed_bfloat16")
    half.build(inputs.shape)
    half.set_weights(layer.get_weights())
    got_half = half(inputs, mask=mask, training=False)
    assert got_half.dtype == tf.bfloat16 and len(calls) == 4
    np.testing.assert_allclose(np.asarray(tf.cast(got_half, tf.float32)), expected, atol=0.03)


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
    got, gradient = run(True, False)
    assert not calls  # a plain graph: each direction in its own compiled loop, differentiable too
    np.testing.assert_allclose(got, expected, atol=2e-6)
    np.testing.assert_allclose(gradient, expected_gradient, atol=2e-5)
    got, gradient = run(True, True)
    assert len(calls) == 2  # one per BLSTM layer
    np.testing.assert_allclose(got, expected, atol=2e-6)
    np.testing.assert_allclose(gradient, expected_gradient, atol=2e-5)
    if with_mask:
        assert np.all(got[1, 9:] == 0) and np.all(got[2, 4:] == 0) and np.abs(got[2, :4]).min() > 0
