"""VCA-GAN's visual front-end (fact sheet shared/papers/vcagan_lip2speech.md, "Model"; original code
``src/models/visual_front.py`` and ``resnet.py``).

``[video [B, T, S, S, 1], video_length [B]] -> [local [B, T, D], global [B, T, D]]`` (D = 512):

* 3D conv 1 -> 64, kernel 5 x 7 x 7 (time, rows, columns), stride 1 x 2 x 2, padding 2 x 3 x 3
  (explicit zero padding then a valid conv, so the sampling grid is the original's), batch norm,
  per-channel PReLU, max pool 1 x 3 x 3 stride 1 x 2 x 2 (112 -> 56 -> 28). The 3D conv is
  computed as a 2D conv over the 5 frames around each frame stacked as channels
  (:class:`TemporalStack`): the same function and the same 5 x 7 x 7 x 64 weights (kernel
  ``[7, 7, 5, 64]``), because TensorFlow's CPU gradient of ``Conv3D`` is about 100 times slower
  (measured here: front-end forward + backward 12.4 s with Conv3D, 0.23 s this way; width 1/8,
  2 clips of 20 frames);
* per frame, ResNet-18 (2, 2, 2, 2 basic blocks, 64 / 128 / 256 / 512 channels, per-channel PReLU
  in the blocks, 1x1 conv + BN on the strided shortcuts), global average pool (the original's
  ``AvgPool2d(4)`` over the 4 x 4 map), dropout 0.3 -> local features;
* 2-layer bidirectional GRU (512 units per direction, dropout 0.3 between the layers, as torch's
  ``nn.GRU(dropout=0.3)``) + linear 1024 -> 512 -> global context.

Departures: frames beyond ``video_length`` are set to 0 at the input and the GRU is masked by the
clip length (the original runs over the whole padded window; its training windows are full, so this
changes nothing there and makes an output independent of what padding holds); max pooling uses
Keras "same" padding (the original pads one row/column on both sides with -inf: windows here sit
one pixel later). The GRU keeps Keras's defaults (tanh / sigmoid, ``reset_after=True``): the cuDNN
kernel on GPUs, with right-padded masks.
"""

from __future__ import annotations

import keras
from keras import ops

from avse_tf.layers.masking import SequenceMask, frame_mask


def channels(count, width):
    """``count`` x ``width`` rounded, at least 4 (presets shrink every width with one factor)."""
    return max(4, int(round(count * float(width))))


@keras.saving.register_keras_serializable(package="avse_tf")
class ZeroPaddedFrames(keras.layers.Layer):
    """``[video [B, T, ...], lengths [B]] -> video`` with frames ``t >= lengths[b]`` set to 0.

    Consumes any Keras mask (outputs none): the front-end's outputs go to layers that mask by
    ``video_length`` themselves."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs, previous_mask=None):
        return None

    def call(self, inputs):
        video, lengths = inputs
        mask = ops.cast(frame_mask(lengths, ops.shape(video)[1]), video.dtype)
        return video * ops.reshape(mask, (ops.shape(mask)[0], ops.shape(mask)[1]) + (1,) * (len(video.shape) - 2))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])


@keras.saving.register_keras_serializable(package="avse_tf")
class TemporalStack(keras.layers.Layer):
    """``[B, T, H, W, C] -> [B, T, H, W, k x C]``: frames ``t - k//2 .. t + k//2`` (zeros beyond the
    clip) side by side in the channels, so a 2D conv on them is a 3D conv of temporal kernel k
    with "same" temporal padding (channel index = time offset x C + input channel)."""

    def __init__(self, kernel=5, **kwargs):
        super().__init__(**kwargs)
        self.kernel = int(kernel)

    def call(self, inputs):
        half = self.kernel // 2
        padded = ops.pad(inputs, ((0, 0), (half, half), (0, 0), (0, 0), (0, 0)))
        frames = ops.shape(inputs)[1]
        return ops.concatenate([padded[:, offset:offset + frames] for offset in range(self.kernel)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:4], input_shape[4] * self.kernel)

    def get_config(self):
        return {**super().get_config(), "kernel": self.kernel}


@keras.saving.register_keras_serializable(package="avse_tf")
class MergeFrames(keras.layers.Layer):
    """``[B, T, ...] -> [B * T, ...]``: per-frame 2D layers on a clip (one big batch, not a loop)."""

    def call(self, inputs):
        return ops.reshape(inputs, (-1, *ops.shape(inputs)[2:]))  # ops.shape: static sizes where known

    def compute_output_shape(self, input_shape):
        return (None, *input_shape[2:])


@keras.saving.register_keras_serializable(package="avse_tf")
class SplitFrames(keras.layers.Layer):
    """``[per-frame features [B * T, D], clip [B, T, ...]] -> [B, T, D]`` (inverse of MergeFrames)."""

    def call(self, inputs):
        features, clip = inputs
        shape = ops.shape(clip)
        return ops.reshape(features, (shape[0], shape[1], features.shape[-1]))

    def compute_output_shape(self, input_shape):
        return (input_shape[1][0], input_shape[1][1], input_shape[0][-1])


def _conv_bn(x, filters, kernel, stride, name):
    """torch ``Conv2d(padding=kernel // 2, bias=False)`` + BN: explicit padding keeps its grid."""
    if kernel > 1:
        x = keras.layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
    x = keras.layers.Conv2D(filters, kernel, strides=stride, use_bias=False, name=name)(x)
    return keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"{name}_bn")(x)


def _basic_block(x, filters, stride, name):
    """ResNet basic block with per-channel PReLU (the original's ``relu_type='prelu'``)."""
    shortcut = x
    y = _conv_bn(x, filters, 3, stride, f"{name}_conv1")
    y = keras.layers.PReLU(shared_axes=[1, 2], name=f"{name}_prelu1")(y)
    y = _conv_bn(y, filters, 3, 1, f"{name}_conv2")
    if stride != 1 or x.shape[-1] != filters:
        shortcut = _conv_bn(x, filters, 1, stride, f"{name}_down")
    y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return keras.layers.PReLU(shared_axes=[1, 2], name=f"{name}_prelu2")(y)


def resnet18(frame, width=1.0, blocks=(2, 2, 2, 2)):
    """Per-frame ResNet-18 trunk on ``[N, 28, 28, 64w]`` -> ``[N, 512w]`` (stages 64/128/256/512)."""
    x = frame
    for stage, count in enumerate(blocks):
        filters = channels(64 * 2 ** stage, width)
        for index in range(int(count)):
            stride = 2 if stage > 0 and index == 0 else 1
            x = _basic_block(x, filters, stride, f"resnet_s{stage + 1}b{index + 1}")
    return keras.layers.GlobalAveragePooling2D(name="resnet_pool")(x)


def visual_frontend(crop_size=112, width=1.0, resnet_blocks=(2, 2, 2, 2), gru_units=512, gru_layers=2,
                    dropout=0.3, name="visual_frontend"):
    """The front-end as a functional model (module doc); ``D = 512 x width`` features per frame."""
    video = keras.Input((None, crop_size, crop_size, 1), name="video")
    lengths = keras.Input((), dtype="int32", name="video_length")
    x = ZeroPaddedFrames(name="zero_padded_frames")([video, lengths])
    # The 5 x 7 x 7 3D conv as a 7 x 7 2D conv over 5 stacked frames (identical maps; module doc).
    x = MergeFrames(name="merge_frames")(TemporalStack(5, name="stem_temporal_stack")(x))
    x = keras.layers.ZeroPadding2D(3, name="stem_pad")(x)
    x = keras.layers.Conv2D(channels(64, width), 7, strides=2, use_bias=False, name="stem_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name="stem_bn")(x)
    x = keras.layers.PReLU(shared_axes=[1, 2], name="stem_prelu")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    features = SplitFrames(name="split_frames")([resnet18(x, width, resnet_blocks), video])
    local = keras.layers.Dropout(dropout, name="local_features")(features)
    feature_dim = local.shape[-1]
    # SequenceMask zeroes padded frames and hands the GRUs a right-padded mask (cuDNN-compatible).
    context = SequenceMask(name="context_mask")([local, lengths])
    for layer in range(int(gru_layers)):
        if layer:
            context = keras.layers.Dropout(dropout, name=f"context_dropout{layer}")(context)
        context = keras.layers.Bidirectional(
            keras.layers.GRU(channels(gru_units, width), return_sequences=True, reset_after=True),
            name=f"context_bigru{layer + 1}")(context)
    context = keras.layers.Dense(feature_dim, name="global_projection")(context)
    global_context = ZeroPaddedFrames(name="global_context")([context, lengths])
    return keras.Model([video, lengths], [local, global_context], name=name)
