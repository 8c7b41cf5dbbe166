"""An LSTM recurrence over a projected sequence: a hand-written backward pass (CPU training) and
XLA-compiled loops (CPU training in float32 and inference in plain graphs).

Autodiff of Keras' step loop differentiates every op of every step: the gradient of the
recurrent kernel becomes one rank-``B`` update ``h_{t-1}^T dz_t`` per step, added into a
``[H, 4H]`` accumulator ``T`` times, and each step's intermediates go through the while loop's
generic accumulators. Here the forward loop keeps what the backward needs (gate activations,
``tanh(c_t)``, the previous states), the backward loop computes only the per-step gate gradients
``dz_t`` and ``dh_{t-1} = dz_t U^T``, and the recurrent kernel's gradient is one
``[H, T*B] x [T*B, 4H]`` product after the loop: the layout of cuDNN's and oneDNN's RNN
backward. Same values as autodiff up to float rounding (``tests/test_layers.py``); measured in
``tools/bench/README.md`` ("PyTorch race").

Compiled loops: TensorFlow's executor dispatches every small op of every step on its own (some 20
per forward step, 40 per backward step); XLA runs a whole loop as one kernel. The time axis is
padded with masked steps to a multiple of :data:`TIME_BUCKET`, so a variable-length run compiles
once per padded length and batch size.
"""

from __future__ import annotations


def _forward_loop(projected, recurrent_kernel, valid, initial_h, initial_c, zero_output_for_mask, record):
    """The forward recurrence (see :func:`lstm_sequence`); ``record``: also the per-step values the
    backward pass needs, stacked: gate activations, ``tanh(c_t)``, ``h_{t-1}``, ``c_{t-1}``."""
    import tensorflow as tf

    dtype = projected.dtype
    steps = tf.shape(projected)[0]
    inputs = tf.TensorArray(dtype, size=steps).unstack(projected)
    keeps = tf.TensorArray(dtype, size=steps).unstack(valid)

    def step(time, h, c, output, outputs, *records):
        z = inputs.read(time) + tf.matmul(h, recurrent_kernel)
        input_gate, forget_gate, candidate, output_gate = tf.split(z, 4, axis=-1)
        input_gate, forget_gate = tf.sigmoid(input_gate), tf.sigmoid(forget_gate)
        candidate, output_gate = tf.tanh(candidate), tf.sigmoid(output_gate)
        new_c = forget_gate * c + input_gate * candidate
        tanh_c = tf.tanh(new_c)
        new_h = output_gate * tanh_c
        keep = keeps.read(time)
        next_h, next_c = h + keep * (new_h - h), c + keep * (new_c - c)
        # a masked step's output: zero, or Keras' previous output (zero before the first real frame)
        output = keep * new_h if zero_output_for_mask else output + keep * (new_h - output)
        if record:
            gates, tanh_cells, previous_h, previous_c = records
            records = (gates.write(time, tf.concat([input_gate, forget_gate, candidate, output_gate], -1)),
                       tanh_cells.write(time, tanh_c), previous_h.write(time, h), previous_c.write(time, c))
        return (time + 1, next_h, next_c, output, outputs.write(time, output), *records)

    arrays = [tf.TensorArray(dtype, size=steps) for _ in range(5 if record else 1)]
    _, last_h, last_c, _, outputs, *records = tf.while_loop(
        lambda time, *_: time < steps, step,
        (tf.constant(0), initial_h, initial_c, tf.zeros_like(initial_h), *arrays), maximum_iterations=steps)
    return outputs.stack(), last_h, last_c, [array.stack() for array in records]


def lstm_sequence(projected, recurrent_kernel, valid, initial_h, initial_c, zero_output_for_mask=True):
    """Run ``h_t, c_t`` over ``projected`` (``x_t W + b``, time major ``[T, B, 4H]``).

    Gates in Keras' order (input, forget, candidate, output), sigmoid / tanh. ``valid`` ``[T, B, 1]``
    (1 = real frame) follows ``keras.backend.rnn``'s masking: a masked step keeps the state, and its
    output is zero (``zero_output_for_mask``) or the previous output. Returns ``(outputs [T, B, H],
    h_T, c_T)``; differentiable in ``projected``, ``recurrent_kernel`` and the initial state.
    """
    import tensorflow as tf

    @tf.custom_gradient
    def run(projected, recurrent_kernel, initial_h, initial_c):
        dtype = projected.dtype
        steps = tf.shape(projected)[0]
        units = tf.shape(initial_h)[-1]
        outputs, last_h, last_c, (gates, tanh_cells, previous_h, previous_c) = _forward_loop(
            projected, recurrent_kernel, valid, initial_h, initial_c, zero_output_for_mask, record=True)

        def grad(d_outputs, d_last_h, d_last_c):
            gates_at = tf.TensorArray(dtype, size=steps).unstack(gates)
            tanh_at = tf.TensorArray(dtype, size=steps).unstack(tanh_cells)
            previous_c_at = tf.TensorArray(dtype, size=steps).unstack(previous_c)
            d_outputs_at = tf.TensorArray(dtype, size=steps).unstack(d_outputs)
            keeps_at = tf.TensorArray(dtype, size=steps).unstack(valid)
            kernel_transposed = tf.transpose(recurrent_kernel)

            def back(time, d_h, d_c, d_output, d_z_all):
                keep = keeps_at.read(time)
                d_output = d_output + d_outputs_at.read(time)
                d_new_h = keep * (d_h + d_output)
                # a masked step copied the state (and, without zero outputs, the previous output) forward
                d_previous_output = zeros if zero_output_for_mask else (1 - keep) * d_output
                input_gate, forget_gate, candidate, output_gate = tf.split(gates_at.read(time), 4, axis=-1)
                tanh_c = tanh_at.read(time)
                d_new_c = keep * d_c + d_new_h * output_gate * (1 - tanh_c * tanh_c)
                d_z = tf.concat([d_new_c * candidate * input_gate * (1 - input_gate),
                                 d_new_c * previous_c_at.read(time) * forget_gate * (1 - forget_gate),
                                 d_new_c * input_gate * (1 - candidate * candidate),
                                 d_new_h * tanh_c * output_gate * (1 - output_gate)], -1)
                d_previous_h = tf.matmul(d_z, kernel_transposed) + (1 - keep) * d_h
                d_previous_c = d_new_c * forget_gate + (1 - keep) * d_c
                return time - 1, d_previous_h, d_previous_c, d_previous_output, d_z_all.write(time, d_z)

            zeros = tf.zeros_like(d_last_h)
            _, d_initial_h, d_initial_c, _, d_z = tf.while_loop(
                lambda time, *_: time >= 0, back,
                (steps - 1, d_last_h, d_last_c, zeros, tf.TensorArray(dtype, size=steps)), maximum_iterations=steps)
            d_z = d_z.stack()
            d_kernel = tf.matmul(tf.reshape(previous_h, [-1, units]), tf.reshape(d_z, [-1, 4 * units]),
                                 transpose_a=True)
            return d_z, d_kernel, d_initial_h, d_initial_c

        return (outputs, last_h, last_c), grad

    outputs, last_h, last_c = run(projected, recurrent_kernel, initial_h, initial_c)
    outputs.set_shape(projected.shape[:2].concatenate(initial_h.shape[-1:]))
    return outputs, last_h, last_c


TIME_BUCKET = 8  # at most 7 wasted steps; compilations of a variable-length run <= max length / 8
_compiled = {}


def _bucketed(function, projected, recurrent_kernel, valid, initial_h, initial_c, zero_output_for_mask):
    """``function`` XLA-compiled, on the time axis padded with masked steps to a multiple of
    :data:`TIME_BUCKET` (they leave the state as it was; their outputs are cut off)."""
    import tensorflow as tf

    if function not in _compiled:
        _compiled[function] = tf.function(function, jit_compile=True)
    steps = tf.shape(projected)[0]
    padding = (-steps) % TIME_BUCKET
    outputs, last_h, last_c = _compiled[function](
        tf.pad(projected, [[0, padding], [0, 0], [0, 0]]), recurrent_kernel,
        tf.pad(valid, [[0, padding], [0, 0], [0, 0]]), initial_h, initial_c,
        zero_output_for_mask=zero_output_for_mask)
    outputs = outputs[:steps]
    outputs.set_shape(projected.shape[:2].concatenate(initial_h.shape[-1:]))
    return outputs, last_h, last_c


def lstm_inference(projected, recurrent_kernel, valid, initial_h, initial_c, zero_output_for_mask=True):
    """:func:`lstm_sequence`'s forward loop alone (nothing recorded for a backward pass)."""
    return _forward_loop(projected, recurrent_kernel, valid, initial_h, initial_c, zero_output_for_mask,
                         record=False)[:3]


def compiled_lstm_sequence(projected, recurrent_kernel, valid, initial_h, initial_c, zero_output_for_mask=True):
    """:func:`lstm_sequence` XLA-compiled (forward and backward loop each one kernel); same values."""
    return _bucketed(lstm_sequence, projected, recurrent_kernel, valid, initial_h, initial_c,
                     zero_output_for_mask)


def compiled_lstm_inference(projected, recurrent_kernel, valid, initial_h, initial_c, zero_output_for_mask=True):
    """:func:`lstm_inference` XLA-compiled; same values. Differentiable all the same (a gradient at
    inference is rare: saliency, a frozen model inside another's training): the gradient runs the
    sequence again with :func:`compiled_lstm_sequence`, since TensorFlow cannot differentiate a
    compiled loop from outside (its per-step values do not cross the XLA boundary)."""
    import tensorflow as tf

    @tf.custom_gradient
    def run(projected, recurrent_kernel, initial_h, initial_c):
        result = _bucketed(lstm_inference, projected, recurrent_kernel, valid, initial_h, initial_c,
                           zero_output_for_mask)

        def grad(*upstream):
            inputs = [projected, recurrent_kernel, initial_h, initial_c]
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                again = compiled_lstm_sequence(projected, recurrent_kernel, valid, initial_h, initial_c,
                                               zero_output_for_mask)
            return tape.gradient(list(again), inputs, output_gradients=list(upstream))

        return result, grad

    outputs, last_h, last_c = run(projected, recurrent_kernel, initial_h, initial_c)
    outputs.set_shape(projected.shape[:2].concatenate(initial_h.shape[-1:]))
    return outputs, last_h, last_c
