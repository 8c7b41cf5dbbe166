"""VCA-GAN's discriminators (fact sheet shared/papers/vcagan_lip2speech.md, "Model"; original code
``src/models/generator.py``: ``Discriminator``, ``sync_Discriminator``).

Mel discriminator, one per scale (``[mel [B, time, F], global [B, T, D]] -> [unconditional [B, 1],
conditional [B, 1]]``): conv 5x5 1 -> 32, then residual blocks with 2x2 average-pool downsampling
(LeakyReLU 0.2, conv 5x5, pool, LeakyReLU, conv 5x5; 1x1-conv shortcut, pooled; sum / sqrt 2),
doubling the channels up to 512: 2 blocks at 20 x T (-> 128 channels), 3 at 40 x 2T (-> 256),
4 at 80 x 4T (-> 512), each ending at 5 rows x T/4 frames. Unconditional head: LeakyReLU, conv
5x5 valid, LeakyReLU, mean over the map, linear -> 1. Conditional head: the time-averaged global
visual feature tiled over the map and concatenated, LeakyReLU, conv 5x5 same, LeakyReLU, conv 5x5
valid, LeakyReLU, mean, linear -> 1. Needs T >= 20 video frames (T/4 >= 5 for the valid conv).

Sync discriminator (``mel [B, 4T, 80] -> audio features [B, T, D]``): conv 3x3 stride 2 -> 128,
BN, PReLU; conv 3x3 stride 2 -> 256, BN, PReLU (-> T x 20); one ResNet basic block (ReLU, as the
original's default); each frame's 20 x 256 map flattened, linear -> D (512). Its InfoNCE loss
against the local visual features is in :mod:`avse_tf.systems.vca_gan.losses`.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from avse_tf.systems.vca_gan.generator import LEAKY_SLOPE
from avse_tf.systems.vca_gan.visual_frontend import channels

DOWNSAMPLING_BLOCKS = {20: 2, 40: 3, 80: 4}  # mel rows -> blocks, each scale ends at 5 rows


@keras.saving.register_keras_serializable(package="avse_tf")
class TimeAveragedCondition(keras.layers.Layer):
    """``[map [B, H, W, C], global [B, T, D]] -> [B, H, W, D]``: the clip's mean global feature on
    every position of the map (the original's ``c.mean(2)`` repeated to 5 x T/4)."""

    def call(self, inputs):
        feature_map, context = inputs
        mean = ops.mean(context, axis=1)[:, None, None, :]
        shape = ops.shape(feature_map)
        return ops.broadcast_to(mean, (shape[0], shape[1], shape[2], context.shape[-1]))

    def compute_output_shape(self, input_shape):
        return (*input_shape[0][:3], input_shape[1][-1])


@keras.saving.register_keras_serializable(package="avse_tf")
class FlattenFrequency(keras.layers.Layer):
    """``[B, time, F, C] -> [B, time, F * C]``: one vector per frame."""

    def call(self, inputs):
        shape = ops.shape(inputs)
        return ops.reshape(inputs, (shape[0], shape[1], inputs.shape[2] * inputs.shape[3]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], input_shape[2] * input_shape[3])


def _downsampling_block(x, filters, name):
    shortcut = x
    if x.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_shortcut")(shortcut)
    shortcut = keras.layers.AveragePooling2D(2, name=f"{name}_shortcut_pool")(shortcut)
    y = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"{name}_act1")(x)
    y = keras.layers.Conv2D(x.shape[-1], 5, padding="same", name=f"{name}_conv1")(y)
    y = keras.layers.AveragePooling2D(2, name=f"{name}_pool")(y)
    y = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"{name}_act2")(y)
    y = keras.layers.Conv2D(filters, 5, padding="same", name=f"{name}_conv2")(y)
    y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return keras.layers.Rescaling(1 / math.sqrt(2), name=f"{name}_unit_variance")(y)


def _head(x, name):
    """LeakyReLU, conv 5x5 valid, LeakyReLU, mean over the map, linear -> one logit."""
    x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"{name}_act2")(x)
    x = keras.layers.Conv2D(x.shape[-1], 5, padding="valid", name=f"{name}_conv_valid")(x)
    x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"{name}_act3")(x)
    x = keras.layers.GlobalAveragePooling2D(name=f"{name}_mean")(x)
    return keras.layers.Dense(1, dtype="float32", name=name)(x)


def mel_discriminator(mel_rows, feature_dim=512, width=1.0, max_channels=512, name=None):
    """One scale's discriminator (module doc) for mels with ``mel_rows`` rows (20, 40 or 80)."""
    if mel_rows not in DOWNSAMPLING_BLOCKS:
        raise ValueError(f"mel_rows must be one of {sorted(DOWNSAMPLING_BLOCKS)}, got {mel_rows}")
    mel = keras.Input((None, mel_rows), name="mel")
    context = keras.Input((None, feature_dim), name="global")
    x = keras.layers.Reshape((-1, mel_rows, 1), name="mel_image")(mel)
    filters = channels(32, width)
    x = keras.layers.Conv2D(filters, 5, padding="same", name="conv_in")(x)
    for index in range(1, DOWNSAMPLING_BLOCKS[mel_rows] + 1):
        filters = min(filters * 2, channels(max_channels, width))
        x = _downsampling_block(x, filters, f"down{index}")
    unconditional = _head(x, "unconditional")
    y = keras.layers.Concatenate(name="with_condition")([x, TimeAveragedCondition(name="condition")([x, context])])
    y = keras.layers.LeakyReLU(LEAKY_SLOPE, name="conditional_act1")(y)
    y = keras.layers.Conv2D(filters, 5, padding="same", name="conditional_conv_same")(y)
    conditional = _head(y, "conditional")
    return keras.Model([mel, context], [unconditional, conditional], name=name or f"mel_discriminator_{mel_rows}")


def sync_discriminator(num_mels=80, feature_dim=512, width=1.0, name="sync_discriminator"):
    """The sync discriminator's audio encoder (module doc): ``mel [B, 4T, 80] -> [B, T, D]``."""
    mel = keras.Input((None, num_mels), name="mel")
    x = keras.layers.Reshape((-1, num_mels, 1), name="mel_image")(mel)
    for index, filters in enumerate((128, 256), start=1):
        x = keras.layers.ZeroPadding2D(1, name=f"conv{index}_pad")(x)
        x = keras.layers.Conv2D(channels(filters, width), 3, strides=2, name=f"conv{index}")(x)
        x = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"conv{index}_bn")(x)
        x = keras.layers.PReLU(shared_axes=[1, 2], name=f"conv{index}_prelu")(x)
    shortcut = x
    for index in (1, 2):
        x = keras.layers.ZeroPadding2D(1, name=f"block_conv{index}_pad")(x)
        x = keras.layers.Conv2D(x.shape[-1], 3, use_bias=False, name=f"block_conv{index}")(x)
        x = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"block_conv{index}_bn")(x)
        if index == 1:
            x = keras.layers.ReLU(name="block_relu1")(x)
    x = keras.layers.ReLU(name="block_relu2")(keras.layers.Add(name="block_add")([x, shortcut]))
    audio = keras.layers.Dense(feature_dim, name="audio_features")(FlattenFrequency(name="flatten_frequency")(x))
    return keras.Model(mel, audio, name=name)


