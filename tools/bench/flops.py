"""Analytical FLOP counts of one example's forward pass (2 FLOPs per multiply-add).

Counted (the matrix products, which are all but a few per cent of the work):

* LSTM (each direction of each layer): ``T * 2 * 4H * (D + H)`` for ``T`` frames, input size ``D``,
  ``H`` units (the four gates' input and recurrent products);
* GRU (each direction): ``T * 2 * 3H * (D + H)`` (the three gates' products);
* Dense on ``[B, T, D]`` (or ``[B, D]``): ``positions * 2 * D * units``;
* Conv1D: ``2 * k * C_in * C_out * L_out``;
* Conv2D: ``2 * kh * kw * C_in * C_out * H_out * W_out``;
* Conv2DTranspose: ``2 * kh * kw * C_in * C_out * H_in * W_in`` (every input pixel scatters a
  ``kh x kw x C_out`` patch).

An unknown time axis counts as ``T`` frames: a layer that runs at a multiple of the frame rate
(VCA-GAN's generator and post-net at 4 mel frames per video frame) is under-counted, so a peak
fraction from it is a lower bound.

Not counted: biases, gate nonlinearities and products, batch norm, pooling, losses, optimizer
updates (elementwise; for a 250-unit LSTM the cell's elementwise work is ~0.3 % of its products).

A training step is counted as 3x the forward pass: the backward pass of a product layer is two
products of the forward's size (gradient with respect to the input and to the weights). This is the
usual convention; it slightly over-counts the first layer, whose input gradient is not needed.

The TF profiler on the concrete function graph is no alternative for the recurrent models: it
counts the body of the LSTM's ``while`` loop once instead of ``T`` times. For the convolutional
Speech2Vid generator the analytical count is checked against it (:func:`profiler_forward_flops`).
"""

from __future__ import annotations

import math


def _layers(model):
    return model._flatten_layers(include_self=False, recursive=True)


def _known(shape, steps):
    return [steps if value is None else int(value) for value in shape]


def _never_called(layer) -> bool:
    """A layer a model holds but whose graph never runs it (no output shape): no work to count."""
    try:
        layer.output
    except (AttributeError, ValueError):
        return True
    return False


def forward_flops(model, steps: int | None = None) -> dict:
    """``{"total": FLOPs, "by_kind": {...}}`` of one example (``steps`` frames for sequence models)."""
    import keras

    by_kind = {"lstm": 0, "gru": 0, "dense": 0, "conv": 0, "conv_transpose": 0}
    for layer in _layers(model):
        if isinstance(layer, keras.layers.LSTM):
            if steps is None:
                raise ValueError(f"{model.name}: give the number of frames for its LSTMs")
            inputs, units = int(layer.cell.kernel.shape[0]), int(layer.cell.units)
            by_kind["lstm"] += steps * 2 * 4 * units * (inputs + units)
        elif isinstance(layer, keras.layers.GRU):
            if steps is None:
                raise ValueError(f"{model.name}: give the number of frames for its GRUs")
            inputs, units = int(layer.cell.kernel.shape[0]), int(layer.cell.units)
            by_kind["gru"] += steps * 2 * 3 * units * (inputs + units)
        elif isinstance(layer, keras.layers.Conv1D):
            kernel, channels, filters = (int(value) for value in layer.kernel.shape)
            if _never_called(layer):
                continue
            (length,) = _known(layer.output.shape[1:2], steps)
            by_kind["conv"] += 2 * kernel * channels * filters * length
        elif isinstance(layer, keras.layers.Dense):
            if _never_called(layer):
                continue
            fan_in, units = (int(value) for value in layer.kernel.shape)
            positions = math.prod(_known(layer.output.shape[1:-1], steps))
            by_kind["dense"] += positions * 2 * fan_in * units
        elif isinstance(layer, keras.layers.Conv2DTranspose):
            kh, kw, filters, channels = (int(value) for value in layer.kernel.shape)
            height, width = _known(layer.input.shape[1:3], steps)
            by_kind["conv_transpose"] += 2 * kh * kw * channels * filters * height * width
        elif isinstance(layer, keras.layers.Conv2D):
            if _never_called(layer):
                continue
            kh, kw, channels, filters = (int(value) for value in layer.kernel.shape)
            height, width = _known(layer.output.shape[1:3], steps)
            by_kind["conv"] += 2 * kh * kw * channels * filters * height * width
    return {"total": int(sum(by_kind.values())), "by_kind": {k: int(v) for k, v in by_kind.items() if v}}


def profiler_forward_flops(model, example) -> int | None:
    """TensorFlow's own count (``tf.compat.v1.profiler``, float operations) of the forward graph of
    ``model`` on ``example`` (a dict of arrays with a batch of 1); ``None`` if it cannot count."""
    import tensorflow as tf

    try:
        specs = {name: tf.TensorSpec(value.shape, value.dtype) for name, value in example.items()}
        concrete = tf.function(lambda inputs: model(inputs, training=False)).get_concrete_function(specs)
        from tensorflow.python.framework.convert_to_constants import (
            convert_variables_to_constants_v2,
        )

        graph = convert_variables_to_constants_v2(concrete).graph
        options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        options["output"] = "none"
        profile = tf.compat.v1.profiler.profile(graph=graph, options=options)
        return int(profile.total_float_ops)
    except Exception:  # the profiler is a diagnostic here, never a failure
        return None
