"""Recurrent building blocks: a stack of bidirectional LSTM layers that honours a Keras mask.

Morrone et al., ICASSP 2019 (arXiv 1811.02480), and the original code
(``enhancement_model.py``, ``tf.contrib.rnn.stack_bidirectional_dynamic_rnn``): every model of the
VL2M family is built from stacks of BLSTM layers in which layer ``k + 1`` reads the concatenated
forward and backward outputs of layer ``k``; sequences are right-padded and the true lengths are
given to the RNN, so padded frames never reach the recurrent state.
"""

from __future__ import annotations

import contextlib

import keras

DROPOUT_PLACEMENTS = ("every_layer", "top")
# StackedBLSTM's inference under XLA on CPU runs both directions of a layer in one loop
# (fused_bidirectional_lstm); False: each direction in its own Keras loop (the benchmarks compare).
FUSE_DIRECTIONS = True
# ProjectedLSTM's training recurrence off GPU: "compiled" (lstm_sequence's hand-written backward pass,
# XLA-compiled in float32), "graph" (the same in the graph), "autodiff" (Keras' loop differentiated by
# TensorFlow); the benchmarks compare them.
TRAINING_RECURRENCES = ("compiled", "graph", "autodiff")
TRAINING_RECURRENCE = "compiled"


# StackedBLSTM's inference in plain graphs on CPU runs each direction's recurrence as its own
# XLA-compiled loop (compiled_lstm_inference); False: Keras' loops.
COMPILE_INFERENCE_LOOPS = True


@contextlib.contextmanager
def per_direction_loops():
    """Within the block, StackedBLSTM traces each direction in its own Keras loop, with no XLA
    (exports: SavedModel graphs that run anywhere TensorFlow runs, and TFLite)."""
    global FUSE_DIRECTIONS, COMPILE_INFERENCE_LOOPS
    previous = FUSE_DIRECTIONS, COMPILE_INFERENCE_LOOPS
    FUSE_DIRECTIONS = COMPILE_INFERENCE_LOOPS = False
    try:
        yield
    finally:
        FUSE_DIRECTIONS, COMPILE_INFERENCE_LOOPS = previous


def _inference_path() -> str | None:
    """``"fused"`` inside an XLA compilation on CPU: the fused loop halves the sequential steps under
    XLA, which runs one op at a time. ``"compiled"`` in a plain graph on CPU: each direction's loop
    one XLA kernel, the two directions on two cores at once (the graph's inter-op threads). ``None``:
    Keras' loops (GPU: cuDNN). Measured: tools/bench/README.md, "PyTorch race"."""
    import tensorflow as tf

    if keras.backend.backend() != "tensorflow" or tf.config.list_logical_devices("GPU"):
        return None
    try:
        from tensorflow.python.ops import control_flow_util

        in_xla = control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())
    except (ImportError, AttributeError):  # a TF without this helper: the per-direction loops
        return None
    if in_xla:
        return "fused" if FUSE_DIRECTIONS else None
    return "compiled" if COMPILE_INFERENCE_LOOPS else None


def _project(sequences, cell, dtype):
    """``x_t W + b`` of every frame in one product: ``[B, T, D]`` -> ``[B, T, 4H]``."""
    import tensorflow as tf

    shape = tf.shape(sequences)
    projected = tf.matmul(tf.reshape(sequences, [-1, shape[-1]]), tf.cast(cell.kernel.value, dtype))
    return tf.reshape(projected + tf.cast(cell.bias.value, dtype), [shape[0], shape[1], 4 * cell.units])


def compiled_bidirectional_lstm(inputs, mask, forward_cell, backward_cell):
    """One BLSTM layer for inference in a plain graph: ``[B, T, D]`` -> ``[B, T, 2H]``, equal (up to
    float rounding) to the Keras layers it replaces, as :func:`fused_bidirectional_lstm`. Each
    direction's input projection is one product in the graph; each recurrence is one XLA kernel
    (:func:`avse_tf.layers.lstm_sequence.compiled_lstm_inference`); the two are independent ops,
    which the graph runs on two cores at once (each core then streams one direction's recurrent
    weights)."""
    import tensorflow as tf

    from avse_tf.layers.lstm_sequence import compiled_lstm_inference

    dtype = inputs.dtype
    batch, steps = tf.shape(inputs)[0], tf.shape(inputs)[1]
    lengths = tf.fill([batch], steps) if mask is None else tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
    # The recurrence in float32 under mixed precision too: XLA's CPU products in 16 bits are slower
    valid = tf.transpose(tf.sequence_mask(lengths, steps, dtype=tf.float32))[:, :, None]  # [T, B, 1]
    zeros = tf.zeros([batch, forward_cell.units], tf.float32)
    directions = []
    for cell, sequences in ((forward_cell, inputs),
                            (backward_cell, tf.reverse_sequence(inputs, lengths, seq_axis=1, batch_axis=0))):
        projected = tf.cast(tf.transpose(_project(sequences, cell, dtype), [1, 0, 2]), tf.float32)
        recurrent_kernel = tf.cast(tf.cast(cell.recurrent_kernel.value, dtype), tf.float32)
        outputs, _, _ = compiled_lstm_inference(projected, recurrent_kernel, valid, zeros, zeros)
        directions.append(tf.cast(tf.transpose(outputs, [1, 0, 2]), dtype))
    backward = tf.reverse_sequence(directions[1], lengths, seq_axis=1, batch_axis=0)
    return tf.concat([directions[0], backward], axis=-1)


def fused_bidirectional_lstm(inputs, mask, forward_cell, backward_cell):
    """One BLSTM layer with both directions in one recurrence: ``[B, T, D]`` -> ``[B, T, 2H]``.

    Equal, up to float rounding, to ``keras.layers.Bidirectional`` of two :class:`ProjectedLSTM`
    (``return_sequences``, zero outputs at padded frames) with the same cells' weights: each
    direction's input projection is one product over all frames; the backward direction reads every
    sequence reversed within its length (right-padded ``mask``), so it starts at the last valid
    frame; then every step multiplies both directions' states by their recurrent kernels in one
    batched product ``[2, B, H] x [2, H, 4H]``. A batch-1 forward pass runs half as many loop steps,
    each with one product instead of two; the FLOPs are the same (``tools/bench/pytorch_race.py``
    measures it). Used under XLA on CPU only (``_fused_path_available``); on GPU Keras' cuDNN
    kernel runs both directions already.
    """
    import tensorflow as tf

    dtype = inputs.dtype
    batch, steps = tf.shape(inputs)[0], tf.shape(inputs)[1]
    if mask is None:
        lengths = tf.fill([batch], steps)
    else:
        lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
    units = forward_cell.units

    backward_inputs = tf.reverse_sequence(inputs, lengths, seq_axis=1, batch_axis=0)
    projected = tf.transpose(tf.stack([_project(inputs, forward_cell, dtype),
                                       _project(backward_inputs, backward_cell, dtype)]), [2, 0, 1, 3])  # [T, 2, B, 4H]
    recurrent = tf.cast(tf.stack([forward_cell.recurrent_kernel.value, backward_cell.recurrent_kernel.value]), dtype)
    valid = tf.transpose(tf.sequence_mask(lengths, steps, dtype=dtype))[:, None, :, None]  # [T, 1, B, 1]
    # Per-step reads through TensorArrays: slicing the whole tensor in the loop would make the
    # gradient add a full-size tensor at every step.
    projected = tf.TensorArray(dtype, size=steps).unstack(projected)
    valid = tf.TensorArray(dtype, size=steps).unstack(valid)
    gate, activation = forward_cell.recurrent_activation, forward_cell.activation

    def step(time, state, carry, outputs):
        z = projected.read(time) + tf.matmul(state, recurrent)
        input_gate, forget_gate, candidate, output_gate = tf.split(z, 4, axis=-1)
        new_carry = gate(forget_gate) * carry + gate(input_gate) * activation(candidate)
        new_state = gate(output_gate) * activation(new_carry)
        keep = valid.read(time)  # a padded frame leaves the state as it was and outputs zeros
        outputs = outputs.write(time, new_state * keep)
        return time + 1, keep * new_state + (1 - keep) * state, keep * new_carry + (1 - keep) * carry, outputs

    zeros = tf.zeros([2, batch, units], dtype)
    _, _, _, outputs = tf.while_loop(
        lambda time, *_: time < steps, step,
        (tf.constant(0), zeros, zeros, tf.TensorArray(dtype, size=steps, element_shape=tf.TensorShape([2, None, units]))),
        maximum_iterations=steps)
    outputs = tf.transpose(outputs.stack(), [1, 2, 0, 3])  # [2, B, T, H]
    backward = tf.reverse_sequence(outputs[1], lengths, seq_axis=1, batch_axis=0)
    return tf.concat([outputs[0], backward], axis=-1)


@keras.saving.register_keras_serializable(package="avse_tf")
class ProjectedLSTM(keras.layers.LSTM):
    """``keras.layers.LSTM`` (same weights, options and masking) that, off GPU, multiplies the
    inputs of all frames by the input kernel in one matrix product before the recurrence.

    Keras' generic loop computes ``x_t W + h_{t-1} U + b`` inside every step, so the input
    projection runs as ``T`` small products in sequence. Here ``X W + b`` is one ``[B*T, D] x
    [D, 4H]`` product (near the machine's matrix-multiply peak) and each step only adds
    ``h_{t-1} U``; the results are the same up to float rounding. Measured (one thread, CPU time,
    a 500 -> 250 layer): batch 1 over 302 frames 14.2 -> 9.2 ms under XLA and 27.8 -> 18.0 ms in a
    graph; a training step (forward + backward) at batch 64 over 101 frames 454 -> 405 ms
    (``tools/bench`` measures the models). On GPU (cuDNN), with dropout or ``unroll``, it is
    exactly ``keras.layers.LSTM``.
    """

    def inner_loop(self, sequences, initial_state, mask, training=False):
        import tensorflow as tf
        from keras import ops
        from keras.src import backend as keras_backend
        from keras.src import tree

        cell = self.cell
        if (keras.backend.backend() != "tensorflow" or tf.config.list_logical_devices("GPU") or cell.dropout
                or cell.recurrent_dropout or self.unroll):
            return super().inner_loop(sequences, initial_state, mask, training=training)
        if tree.is_nested(mask):
            mask = mask[0]
        shape = ops.shape(sequences)
        projected = ops.matmul(ops.reshape(sequences, (-1, shape[-1])), cell.kernel)
        if cell.use_bias:
            projected = projected + cell.bias
        projected = ops.reshape(projected, (shape[0], shape[1], 4 * cell.units))
        recurrent_kernel = cell.recurrent_kernel
        if training and self.return_sequences and TRAINING_RECURRENCE != "autodiff":
            return self._trained_loop(projected, ops.cast(recurrent_kernel, projected.dtype), initial_state, mask)

        def step(projected_t, states):
            h_previous, c_previous = states
            z = projected_t + ops.matmul(h_previous, recurrent_kernel)
            c, o = cell._compute_carry_and_output_fused(ops.split(z, 4, axis=-1), c_previous)
            h = o * cell.activation(c)
            return h, [h, c]

        return keras_backend.rnn(step, projected, list(initial_state), go_backwards=self.go_backwards, mask=mask,
                                 unroll=False, input_length=sequences.shape[1],
                                 zero_output_for_mask=self.zero_output_for_mask,
                                 return_all_outputs=self.return_sequences)

    def _trained_loop(self, projected, recurrent_kernel, initial_state, mask):
        """The recurrence with the hand-written backward pass (:func:`lstm_sequence`), in training:
        same outputs and states as ``keras.backend.rnn`` (reversed time when ``go_backwards``, as
        Keras returns it), fewer ops per step in the gradient. Measured: ``tools/bench/README.md``."""
        import tensorflow as tf

        from avse_tf.layers.lstm_sequence import compiled_lstm_sequence, lstm_sequence

        sequence = tf.transpose(projected, [1, 0, 2])
        if mask is None:
            valid = tf.ones(tf.concat([tf.shape(sequence)[:2], [1]], 0), sequence.dtype)
        else:
            valid = tf.transpose(tf.cast(mask, sequence.dtype))[:, :, None]
        if self.go_backwards:
            sequence, valid = tf.reverse(sequence, [0]), tf.reverse(valid, [0])
        initial_h, initial_c = (tf.cast(state, sequence.dtype) for state in initial_state)
        # XLA in float32 only: under mixed precision the graph's 16-bit loop was faster than XLA's
        # (its CPU products in 16 bits are slow) and than XLA in float32 (measured, README)
        compiled = TRAINING_RECURRENCE == "compiled" and sequence.dtype == tf.float32
        run = compiled_lstm_sequence if compiled else lstm_sequence
        outputs, last_h, last_c = run(sequence, recurrent_kernel, valid, initial_h, initial_c,
                                      zero_output_for_mask=self.zero_output_for_mask)
        outputs = tf.transpose(outputs, [1, 0, 2])
        return outputs[:, -1], outputs, [last_h, last_c]


@keras.saving.register_keras_serializable(package="avse_tf")
class StackedBLSTM(keras.layers.Layer):
    """``num_layers`` bidirectional LSTM layers (``return_sequences``), outputs ``[B, T, 2 * units]``.

    Args:
        units: LSTM units per direction (the paper: 250).
        num_layers: number of stacked BLSTM layers.
        dropout: dropout *rate* (fraction of activations dropped) on BLSTM outputs. The original
            command line took a keep-probability (``--dropout 1`` = no dropout): rate = 1 - keep.
        dropout_placement: ``"every_layer"`` (default): dropout after each BLSTM layer's output;
            ``"top"``: once, on the output of the whole stack, which is what the original code did
            (``tf.nn.dropout`` on the ``stack_bidirectional_dynamic_rnn`` output, before the linear
            layer). The model builders of :mod:`avse_tf.systems.landmark_enhancement.model` use ``"top"``.
        regularization: L2 weight ``lambda`` on the LSTM kernels and recurrent kernels
            (Keras convention: adds ``lambda * sum(w**2)``; biases are not regularised).
        init_scale: kernels and recurrent kernels start uniform in ``[-init_scale, init_scale]``
            (the original: ``tf.random_uniform_initializer(-0.1, 0.1)`` on the LSTM weights).

    Masking: the layer supports Keras masks and passes its input mask to every LSTM; the output
    carries the same mask. Masked (padded) frames do not update the recurrent state, the backward
    direction starts at each sequence's last valid frame, and the outputs at padded frames are zero.
    Masks must be right-padding masks (``[1, 1, 1, 0, 0]``), as :class:`avse_tf.layers.SequenceMask`
    builds from sequence lengths: that is the only kind cuDNN accepts.

    Loops on CPU (same values, up to float rounding, as the Keras layers they replace; each measured
    against PyTorch in ``tools/bench/README.md``): training runs :meth:`ProjectedLSTM._trained_loop`
    (hand-written backward pass, XLA-compiled in float32); inference in a plain graph or eagerly runs
    :func:`compiled_bidirectional_lstm`, and inside an XLA compilation :func:`fused_bidirectional_lstm`;
    within :func:`per_direction_loops` (exports) Keras' own loops. On GPU: cuDNN.

    Departure from the original: standard LSTM cells (tanh/sigmoid, bias, no peepholes) instead of
    ``LSTMCell(use_peepholes=True)``. Keras has no peephole LSTM with a fused kernel, and the
    standard cell with ``recurrent_dropout=0``, ``unroll=False`` and ``use_bias=True`` keeps the
    cuDNN kernel eligible on GPU (Keras picks it automatically, also with right-padded masks), which
    is an order of magnitude faster than a Python-level peephole cell. The forget-gate bias starts
    at 1 (``unit_forget_bias``), matching TF1's ``LSTMCell(forget_bias=1.0)`` at initialisation.
    """

    def __init__(self, units, num_layers=1, dropout=0.0, dropout_placement="every_layer", regularization=0.0,
                 init_scale=0.1, **kwargs):
        super().__init__(**kwargs)
        if int(units) < 1 or int(num_layers) < 1:
            raise ValueError(f"units and num_layers must be >= 1, got units={units}, num_layers={num_layers}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout is a drop rate in [0, 1), got {dropout} (the original's keep-probability "
                             "p corresponds to dropout = 1 - p)")
        if dropout_placement not in DROPOUT_PLACEMENTS:
            raise ValueError(f"dropout_placement must be one of {DROPOUT_PLACEMENTS}, got {dropout_placement!r}")
        self.units = int(units)
        self.num_layers = int(num_layers)
        self.dropout = float(dropout)
        self.dropout_placement = dropout_placement
        self.regularization = float(regularization)
        self.init_scale = float(init_scale)
        self.supports_masking = True

        def regularizer():
            return keras.regularizers.L2(self.regularization) if self.regularization else None

        def uniform():
            return keras.initializers.RandomUniform(-self.init_scale, self.init_scale)

        self.blstms = []
        for index in range(self.num_layers):
            cell_options = dict(
                units=self.units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                kernel_initializer=uniform(), recurrent_initializer=uniform(), bias_initializer="zeros",
                unit_forget_bias=True, kernel_regularizer=regularizer(), recurrent_regularizer=regularizer(),
                dropout=0.0, recurrent_dropout=0.0, return_sequences=True, unroll=False, use_cudnn="auto",
                dtype=self.dtype_policy)
            self.blstms.append(keras.layers.Bidirectional(
                ProjectedLSTM(name=f"lstm_{index}", **cell_options),
                backward_layer=ProjectedLSTM(name=f"lstm_backward_{index}", go_backwards=True, **cell_options),
                merge_mode="concat", name=f"blstm_{index}", dtype=self.dtype_policy))
        count = self.num_layers if dropout_placement == "every_layer" else 1
        self.dropouts = [keras.layers.Dropout(self.dropout, name=f"dropout_{index}", dtype=self.dtype_policy)
                         for index in range(count)] if self.dropout else []

    def build(self, input_shape):
        shape = tuple(input_shape)
        for blstm in self.blstms:
            blstm.build(shape)
            shape = shape[:-1] + (2 * self.units,)
        for dropout in self.dropouts:
            dropout.build(shape)
        self.built = True

    def call(self, inputs, mask=None, training=None):
        outputs = inputs
        path = None if training else _inference_path()
        for index, blstm in enumerate(self.blstms):
            if path == "fused":
                outputs = fused_bidirectional_lstm(outputs, mask, blstm.forward_layer.cell, blstm.backward_layer.cell)
            elif path == "compiled":
                outputs = compiled_bidirectional_lstm(outputs, mask, blstm.forward_layer.cell,
                                                      blstm.backward_layer.cell)
            else:
                outputs = blstm(outputs, mask=mask, training=training)
            if self.dropouts and self.dropout_placement == "every_layer":
                outputs = self.dropouts[index](outputs, training=training)
        if self.dropouts and self.dropout_placement == "top":
            outputs = self.dropouts[0](outputs, training=training)
        return outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1] + (2 * self.units,)

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, num_layers=self.num_layers, dropout=self.dropout,
                      dropout_placement=self.dropout_placement, regularization=self.regularization,
                      init_scale=self.init_scale)
        return config
