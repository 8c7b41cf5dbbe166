"""Losses over right-padded sequences that count valid frames only.

Normalisation used throughout (functions and Keras losses alike)::

    loss = sum_{b, t} w[b, t] * mean_f l(b, t, f)  /  sum_{b, t} w[b, t]

with ``w`` the frame mask (1 for valid frames, 0 for padding) and ``l`` the per-bin loss: the mean
over frequency bins and over the valid frames of the whole batch, every valid frame weighing the
same (a clip of 300 frames counts 3 times a clip of 100, as in a sum). The original code summed
instead (Morrone et al. 2019, ``enhancement_model.py``: VL2M ``reduce_sum`` of the masked sigmoid
cross-entropy; the IAM models ``tf.nn.l2_loss`` = half the sum of squared errors over every bin and
frame of the batch, with the mask output zeroed at padded frames). We use means so that neither the
learning rate nor the weight of the L2 regulariser depends on batch size, clip length or the number
of bins. With Adam, the optimiser the paper uses, a constant rescaling of the loss leaves the
updates essentially unchanged, so the paper's learning rates still apply; an ``sgd``/``momentum``
learning rate taken from the original would have to be scaled by the number of summed terms.

Keras integration: :class:`MaskedSigmoidCrossEntropy` and :class:`MaskedL2` return one value per
frame (``[B, T]``, the mean over bins) and reduce with ``"mean_with_sample_weight"``, so Keras
divides by the sum of the weights, not by ``B * T``. The frame mask reaches them either as
``sample_weight`` ``[B, T]`` (``model.fit(x, y, sample_weight=...)`` or a dataset yielding
``(inputs, targets, frame_masks)``) or as the Keras mask the enhancement models attach to their
outputs (built from ``sequence_length``); when both are present they are multiplied, which for 0/1
masks changes nothing. Under a ``tf.distribute`` strategy each replica normalises by its own valid
frames and Keras averages the replicas.
"""

from __future__ import annotations

import keras
from keras import ops

IAM_MAX = 10.0


def _masked_frame_mean(per_frame, frame_mask):
    """Mean of ``per_frame`` ``[B, T]`` over the frames where ``frame_mask`` is 1 (0 if none)."""
    if frame_mask is None:
        return ops.mean(per_frame)
    weights = ops.cast(frame_mask, per_frame.dtype)
    return ops.divide_no_nan(ops.sum(per_frame * weights), ops.sum(weights))


def masked_sigmoid_cross_entropy(tbm, logits, frame_mask=None):
    """Sigmoid cross-entropy of ``logits`` against the target binary mask, over valid frames.

    ``tbm``, ``logits``: ``[B, T, F]``; ``frame_mask``: ``[B, T]`` (1 valid, 0 padding; ``None``:
    every frame). Returns the scalar mean over the ``F`` bins and the valid frames (see module doc).
    VL2M's training loss (Morrone et al. 2019; the original summed instead of averaging).
    """
    logits = ops.convert_to_tensor(logits)
    tbm = ops.cast(tbm, logits.dtype)
    per_frame = ops.mean(ops.binary_crossentropy(tbm, logits, from_logits=True), axis=-1)
    return _masked_frame_mean(per_frame, frame_mask)


def masked_l2(target_spectrogram, estimate, frame_mask=None):
    """Mean squared error between spectrograms ``[B, T, F]`` over the bins and the valid frames.

    The IAM models' loss ``|S_target|^0.3 - IAM * |S_mix|^0.3`` (``estimate`` = the model's
    ``enhanced_spectrogram``) and the no-mask baseline's (``estimate`` = its direct regression).
    The original used ``tf.nn.l2_loss`` (half the sum) for the IAM models and a plain mean over every
    frame, padding included, for ``av_concat_spec``.
    """
    estimate = ops.convert_to_tensor(estimate)
    target = ops.cast(target_spectrogram, estimate.dtype)
    per_frame = ops.mean(ops.square(estimate - target), axis=-1)
    return _masked_frame_mean(per_frame, frame_mask)


def oracle_iam(target_magnitude_pl, mixture_magnitude_pl, max_value=IAM_MAX):
    """Oracle ideal amplitude mask ``clip(|T|^0.3 / |M|^0.3, 0, max_value)`` on power-law magnitudes.

    Both inputs are already compressed (``|S|^0.3``). Bins where the mixture is 0 give 0 if the
    target is 0 there too and ``max_value`` otherwise (no division by zero, no NaN). Morrone et al.
    2019, original ``get_oracle_iam``: the IAM models' target is bounded to ``[0, 10]``.
    """
    target = ops.convert_to_tensor(target_magnitude_pl)
    mixture = ops.cast(mixture_magnitude_pl, target.dtype)
    safe = ops.where(mixture > 0, mixture, ops.ones_like(mixture))
    ratio = ops.where(mixture > 0, target / safe, ops.where(target > 0, ops.cast(max_value, target.dtype), 0.0))
    return ops.clip(ratio, 0.0, max_value)


@keras.saving.register_keras_serializable(package="avse_tf")
class MaskedSigmoidCrossEntropy(keras.losses.Loss):
    """Keras loss: ``y_true`` = TBM ``[B, T, F]``, ``y_pred`` = logits, frame mask as sample weight.

    ``call`` gives the per-frame mean over bins ``[B, T]``; the ``"mean_with_sample_weight"``
    reduction divides the weighted sum by the number of valid frames (sum of the weights), so the
    value equals :func:`masked_sigmoid_cross_entropy` with the same mask.
    """

    def __init__(self, name="masked_sigmoid_cross_entropy", reduction="mean_with_sample_weight", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        return ops.mean(ops.binary_crossentropy(y_true, y_pred, from_logits=True), axis=-1)


@keras.saving.register_keras_serializable(package="avse_tf")
class MaskedL2(keras.losses.Loss):
    """Keras loss: mean squared error over bins, averaged over valid frames (sample weight / mask).

    ``y_true`` = target power-law spectrogram ``[B, T, F]``, ``y_pred`` = the estimate; equals
    :func:`masked_l2` with the same frame mask.
    """

    def __init__(self, name="masked_l2", reduction="mean_with_sample_weight", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        return ops.mean(ops.square(y_pred - y_true), axis=-1)


LOSSES = {"tbm_bce": MaskedSigmoidCrossEntropy, "iam_l2": MaskedL2, "spec_l2": MaskedL2}


def get_loss(name):
    """The Keras loss for a model spec's loss key: ``tbm_bce``, ``iam_l2`` or ``spec_l2``."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
    return LOSSES[name](name=name)


__all__ = ["masked_sigmoid_cross_entropy", "masked_l2", "oracle_iam", "MaskedSigmoidCrossEntropy", "MaskedL2",
           "get_loss", "LOSSES", "IAM_MAX"]
