"""VCA-GAN's generator, visual context attention and post-net (fact sheet
shared/papers/vcagan_lip2speech.md, "Model"; original code ``src/models/generator.py``).

Layout: time first, channels last. Feature maps are ``[B, time, frequency, C]``; mels are
``[B, time, mels]`` like the records (the original's ``[B, 1, mels, time]`` transposed):
``mel_20`` [B, T, 20], ``mel_40`` [B, 2T, 40], ``mel`` [B, 4T, 80], ``linear`` [B, 4T, 321].

Generator (``[local, global, video_length] -> [mel_20, mel_40, mel]``):

* local features tiled over 20 frequency rows, concatenated with Gaussian noise (128 channels);
* residual blocks (the original's ``GenResBlk``: BN, LeakyReLU 0.2, [nearest x2 upsampling],
  conv 5x5, BN, LeakyReLU, conv 5x5, plus a (1x1-conv) shortcut, sum / sqrt 2): a bottleneck
  512, 256, 256, then three stages of three blocks, 128 (20 x T), 64 (40 x 2T, upsampled in the
  first block), 32 (80 x 4T); each stage's output has a ``to_mel`` head (BN, LeakyReLU, 1x1 conv
  to 1 channel, tanh);
* visual context attention after stages 1 and 2 (:class:`VisualContextAttention`), its output
  concatenated to the stage's and fused by a 5x5 conv back to the stage's width.

Post-net (``mel [B, 4T, 80] -> linear [B, 4T, 321]``): conv1d 80 -> 128 (kernel 7), BN,
LeakyReLU, three 1D residual blocks (128 -> 256, 256, 256; LeakyReLU, conv 5, LeakyReLU, conv 5,
sum / sqrt 2, no normalisation) and a 1x1 conv to 321 bins, linear output (as the original).

Noise: training draws fresh noise each call; inference (``training=False``) uses one fixed draw
(a stateless normal with the layer's ``seed``), so a saved and reloaded model gives identical
outputs. Departure: the original also draws fresh noise at test time.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from avse_tf.layers.masking import frame_mask
from avse_tf.systems.vca_gan.visual_frontend import channels

MEL_ROWS = 20  # frequency rows of stage 1; stages 2 and 3 double them (40, 80)
LEAKY_SLOPE = 0.2


@keras.saving.register_keras_serializable(package="avse_tf")
class TileFrequency(keras.layers.Layer):
    """``[B, T, C] -> [B, T, rows, C]``: the per-frame feature repeated over the frequency rows."""

    def __init__(self, rows=MEL_ROWS, **kwargs):
        super().__init__(**kwargs)
        self.rows = int(rows)

    def call(self, inputs):
        return ops.repeat(ops.expand_dims(inputs, 2), self.rows, axis=2)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.rows, input_shape[2])

    def get_config(self):
        return {**super().get_config(), "rows": self.rows}


@keras.saving.register_keras_serializable(package="avse_tf")
class GeneratorNoise(keras.layers.Layer):
    """``[B, T, ...] -> N(0, 1)`` noise ``[B, T, rows, channels]`` (module doc: fixed in inference)."""

    def __init__(self, channels=128, rows=MEL_ROWS, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.channels, self.rows, self.seed = int(channels), int(rows), int(seed)

    def call(self, inputs, training=None):
        import tensorflow as tf

        shape = tf.stack([tf.shape(inputs)[0], tf.shape(inputs)[1], self.rows, self.channels])
        if training:
            return tf.random.normal(shape, dtype=self.compute_dtype)
        return tf.cast(tf.random.stateless_normal(shape, seed=[self.seed, 0]), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.rows, self.channels)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "rows": self.rows, "seed": self.seed}


@keras.saving.register_keras_serializable(package="avse_tf")
class VisualContextAttention(keras.layers.Layer):
    """``[features [B, T', F, C], context [B, S, D], video_length [B]] -> [B, T', F, C // 2]``.

    The original's ``AVAttention``: queries from the generator's features (each time step's
    F x C map flattened), keys and values from the global visual context (S video frames), all
    projected to ``attention_dim`` (256); scaled dot product, key frames ``s >= video_length``
    masked out, softmax over S; the attended value is projected to F x C / 2 and reshaped (the
    original's ``Linear(256, 20 x 64)`` at both stages: 128 / 2 channels x 20 rows, 64 / 2 x 40).
    """

    def __init__(self, attention_dim=256, **kwargs):
        super().__init__(**kwargs)
        self.attention_dim = int(attention_dim)
        self.query = keras.layers.Dense(self.attention_dim, name="query")
        self.key = keras.layers.Dense(self.attention_dim, name="key")
        self.value = keras.layers.Dense(self.attention_dim, name="value")
        self.out = None

    def build(self, input_shape):
        features_shape, context_shape, _ = input_shape
        rows, width = int(features_shape[2]), int(features_shape[3])
        self.query.build((None, None, rows * width))
        self.key.build(tuple(context_shape))
        self.value.build(tuple(context_shape))
        self.out = keras.layers.Dense(rows * (width // 2), name="out")
        self.out.build((None, None, self.attention_dim))

    def call(self, inputs):
        features, context, lengths = inputs
        shape = ops.shape(features)
        rows, width = features.shape[2], features.shape[3]
        query = self.query(ops.reshape(features, (shape[0], shape[1], rows * width)))  # [B, T', A]
        scores = ops.matmul(query, ops.transpose(self.key(context), (0, 2, 1))) / math.sqrt(self.attention_dim)
        valid = frame_mask(lengths, ops.shape(context)[1])[:, None, :]  # [B, 1, S]
        # A large negative number, not -inf: a clip of length 0 gives a uniform average, not NaN.
        scores = ops.where(valid, ops.cast(scores, "float32"), -1e9)
        weights = ops.cast(ops.softmax(scores, axis=-1), features.dtype)
        attended = self.out(ops.matmul(weights, self.value(context)))  # [B, T', F * C / 2]
        return ops.reshape(attended, (shape[0], shape[1], rows, width // 2))

    def compute_output_shape(self, input_shape):
        shape = input_shape[0]
        return (shape[0], shape[1], shape[2], shape[3] // 2)

    def get_config(self):
        return {**super().get_config(), "attention_dim": self.attention_dim}


def residual_block(x, filters, name, upsample=False):
    """The original's ``GenResBlk`` (module doc), on ``[B, time, frequency, C]``."""
    shortcut = x
    if upsample:
        shortcut = keras.layers.UpSampling2D(2, name=f"{name}_shortcut_up")(shortcut)
    if x.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_shortcut")(shortcut)
    y = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"{name}_bn1")(x)
    y = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"{name}_act1")(y)
    if upsample:
        y = keras.layers.UpSampling2D(2, name=f"{name}_up")(y)
    y = keras.layers.Conv2D(filters, 5, padding="same", name=f"{name}_conv1")(y)
    y = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"{name}_bn2")(y)
    y = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"{name}_act2")(y)
    y = keras.layers.Conv2D(filters, 5, padding="same", name=f"{name}_conv2")(y)
    y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return keras.layers.Rescaling(1 / math.sqrt(2), name=f"{name}_unit_variance")(y)


def _to_mel(x, name):
    """BN, LeakyReLU, 1x1 conv to one channel, tanh -> ``[B, time, frequency]`` in [-1, 1]."""
    x = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"{name}_bn")(x)
    x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"{name}_act")(x)
    x = keras.layers.Conv2D(1, 1, activation="tanh", dtype="float32", name=f"{name}_conv")(x)
    return keras.layers.Reshape((-1, x.shape[2]), dtype="float32", name=name)(x)


def generator(feature_dim=512, width=1.0, noise_channels=128, blocks_per_stage=3, attention_dim=256, noise_seed=0,
              name="generator"):
    """The generator as a functional model (module doc); ``width`` scales every channel count."""
    local = keras.Input((None, feature_dim), name="local")
    context = keras.Input((None, feature_dim), name="global")
    lengths = keras.Input((), dtype="int32", name="video_length")
    x = keras.layers.Concatenate(name="features_and_noise")([
        TileFrequency(MEL_ROWS, name="tile_frequency")(local),
        GeneratorNoise(channels(noise_channels, width), MEL_ROWS, noise_seed, name="noise")(local)])
    for index, filters in enumerate((512, 256, 256), start=1):
        x = residual_block(x, channels(filters, width), f"bottleneck{index}")
    mels = []
    for stage, filters in enumerate((128, 64, 32), start=1):
        for index in range(1, int(blocks_per_stage) + 1):
            x = residual_block(x, channels(filters, width), f"stage{stage}_block{index}",
                               upsample=stage > 1 and index == 1)
        mels.append(_to_mel(x, ("mel_20", "mel_40", "mel")[stage - 1]))
        if stage < 3:
            attended = VisualContextAttention(channels(attention_dim, width), name=f"attention{stage}")(
                [x, context, lengths])
            x = keras.layers.Concatenate(name=f"attention{stage}_concat")([x, attended])
            x = keras.layers.Conv2D(channels(filters, width), 5, padding="same", name=f"attention{stage}_fuse")(x)
    return keras.Model([local, context, lengths], mels, name=name)


def _residual_block_1d(x, filters, name):
    """The original's ``ResBlk1D`` without normalisation (post-net)."""
    shortcut = x
    if x.shape[-1] != filters:
        shortcut = keras.layers.Conv1D(filters, 1, use_bias=False, name=f"{name}_shortcut")(x)
    y = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"{name}_act1")(x)
    y = keras.layers.Conv1D(x.shape[-1], 5, padding="same", name=f"{name}_conv1")(y)
    y = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"{name}_act2")(y)
    y = keras.layers.Conv1D(filters, 5, padding="same", name=f"{name}_conv2")(y)
    y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return keras.layers.Rescaling(1 / math.sqrt(2), name=f"{name}_unit_variance")(y)


def postnet(num_mels=80, num_bins=321, width=1.0, num_blocks=3, name="postnet"):
    """The post-net as a functional model: ``mel [B, 4T, 80] -> linear [B, 4T, 321]`` (module doc)."""
    mel = keras.Input((None, num_mels), name="mel")
    x = keras.layers.Conv1D(channels(128, width), 7, padding="same", name="postnet_conv_in")(mel)
    x = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name="postnet_bn")(x)
    x = keras.layers.LeakyReLU(LEAKY_SLOPE, name="postnet_act")(x)
    for index in range(1, int(num_blocks) + 1):
        x = _residual_block_1d(x, channels(256, width), f"postnet_block{index}")
    linear = keras.layers.Conv1D(num_bins, 1, use_bias=False, dtype="float32", name="linear")(x)
    return keras.Model(mel, linear, name=name)
