"""Frame masks from sequence lengths, and the small output layers the enhancement models need.

All layers here are registered (``avse_tf>Name``) so that models using them load with
``keras.models.load_model(path)`` in safe mode (no Lambda layers, no pickled code).
"""

from __future__ import annotations

import keras
from keras import ops


def frame_mask(lengths, max_frames):
    """Boolean ``[B, max_frames]`` right-padding mask: ``mask[b, t] = t < lengths[b]``."""
    lengths = ops.reshape(ops.cast(lengths, "int32"), (-1, 1))
    return ops.arange(max_frames, dtype="int32")[None, :] < lengths


def _mask_like(features, lengths):
    """:func:`frame_mask` for ``features`` ``[B, T, ...]``; also works on symbolic tensors (T unknown)."""
    positions = ops.cumsum(ops.ones_like(features[:, :, 0], dtype="int32"), axis=1)  # 1..T
    return positions <= ops.reshape(ops.cast(lengths, "int32"), (-1, 1))


@keras.saving.register_keras_serializable(package="avse_tf")
class SequenceMask(keras.layers.Layer):
    """``[features [B, T, D], lengths [B]] -> features`` with padded frames zeroed and a Keras mask.

    The mask (``t < lengths[b]``, built like ``tf.sequence_mask``) travels with the output to every
    mask-aware layer downstream (:class:`StackedBLSTM`, Dense, Concatenate, Add, Multiply, and the
    losses, which then average over valid frames only). Zeroing the padded frames as well keeps
    anything that is not mask-aware from seeing whatever values padding happened to hold.

    This is the functional counterpart of the original code's ``sequence_length`` argument to
    ``stack_bidirectional_dynamic_rnn`` and of its ``tf.sequence_mask`` products on outputs and
    losses (Morrone et al. 2019, ``enhancement_model.py``). ``lengths`` may be ``[B]`` or ``[B, 1]``,
    any integer or float dtype.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        features, lengths = inputs
        mask = _mask_like(features, lengths)
        return features * ops.cast(mask, features.dtype)[:, :, None]

    def compute_mask(self, inputs, previous_mask=None):
        features, lengths = inputs
        return _mask_like(features, lengths)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])


@keras.saving.register_keras_serializable(package="avse_tf")
class ScaledSigmoid(keras.layers.Layer):
    """``scale * sigmoid(x)``: the ideal amplitude mask head, in ``[0, scale]``.

    Morrone et al. 2019 (original code, ``prediction = tf.sigmoid(logits) * 10``): the IAM of the
    VL2M_ref and AV concat models is bounded to ``[0, 10]``, the range the oracle IAM is clipped to.
    Mask-aware (passes its input mask through).
    """

    def __init__(self, scale=10.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)
        self.supports_masking = True

    def call(self, inputs):
        return ops.cast(self.scale, inputs.dtype) * ops.sigmoid(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["scale"] = self.scale
        return config
