"""Wav2Lip's building blocks in Keras (Rudrabha/Wav2Lip ``models/conv.py``, ``models/syncnet.py``,
``models/wav2lip.py``), shared by the lip-sync expert (:mod:`expert`), the teacher generator
(:mod:`teacher`) and the audio-only student.

* :func:`conv_block` - Wav2Lip's ``Conv2d``: convolution + batch norm, the input added back when
  ``residual`` (same shape), then ReLU (the original applies ReLU after the sum).
* :func:`transposed_block` - Wav2Lip's ``Conv2dTranspose``: transposed convolution + batch norm + ReLU.
* :func:`audio_encoder` - the 16 x 80 mel window -> ``[B, 512]`` (paper width), Wav2Lip's
  ``audio_encoder`` (the same stack in SyncNet and the generator).

Padding is PyTorch's: ``padding`` zeros on every side, then a "valid" convolution, so every
feature map has the original's size (TF's "same" pads stride-2 inputs asymmetrically). Transposed
convolutions with ``padding=1, output_padding=1`` are a "valid" transposed convolution cropped by
one pixel at the start (PyTorch's arithmetic: ``out = 2 in``). Layout NHWC; the mel enters as
``[B, 80, 16, 1]`` (80 mel bins high, 16 frames wide), the original's ``[B, 1, 80, 16]``.

Scaling (for the CPU presets; 1.0 / ``None`` is the paper's network): ``width`` multiplies every
channel count (:func:`channels`); ``max_residual`` caps the residual blocks of each stage (the
original has 1-3 per stage).
"""

from __future__ import annotations

import keras

from avse_tf.systems.pseudo_visual.features import MEL_STEP, NUM_MELS

EMBEDDING_CHANNELS = 512  # the original's embedding width (SyncNet) and bottleneck (generator)

# The audio encoders: (out channels, kernel, stride, padding, residual blocks after it). SyncNet_color
# (``models/syncnet.py``) has two residual blocks after its 256-channel stage, the generator
# (``models/wav2lip.py``) one; the student (the pseudo-visual ``Lipsync_Student``) doubles the
# first four stages' widths and keeps the generator's single block at the end.
AUDIO_STAGES = ((32, 3, 1, 1, 2), (64, 3, (3, 1), 1, 2), (128, 3, 3, 1, 2), (256, 3, (3, 2), 1, 2))
GENERATOR_AUDIO_STAGES = AUDIO_STAGES[:3] + ((256, 3, (3, 2), 1, 1),)
STUDENT_AUDIO_STAGES = ((64, 3, 1, 1, 2), (128, 3, (3, 1), 1, 2), (256, 3, 3, 1, 2), (512, 3, (3, 2), 1, 1))


def channels(count: int, width: float) -> int:
    """``count`` scaled by ``width`` (at least 4 channels)."""
    return max(4, int(round(count * float(width))))


def residuals(count: int, max_residual) -> int:
    return count if max_residual is None else min(count, int(max_residual))


def conv_block(x, filters, kernel, stride=1, padding=0, residual=False, name=None):
    """Wav2Lip's ``Conv2d`` block (module doc)."""
    from keras import layers

    shortcut = x
    if padding:
        x = layers.ZeroPadding2D(padding, name=None if name is None else name + "_pad")(x)
    x = layers.Conv2D(filters, kernel, strides=stride, padding="valid", name=None if name is None else name + "_conv")(x)
    x = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=None if name is None else name + "_bn")(x)
    if residual:
        x = layers.Add(name=None if name is None else name + "_add")([x, shortcut])
    return layers.ReLU(name=None if name is None else name + "_relu")(x)


def transposed_block(x, filters, kernel, stride, padding, output_padding, name=None):
    """Wav2Lip's ``Conv2dTranspose`` block, with PyTorch's output size ``(in - 1) s - 2 p + k + op``
    (``output_padding`` one number or one per axis, as the student's ``(0, 1)``)."""
    from keras import layers

    x = layers.Conv2DTranspose(filters, kernel, strides=stride, padding="valid", name=name + "_tconv")(x)
    # "valid" gives (in - 1) s + k; PyTorch then drops p at the start and p - op at the end.
    extra = output_padding if isinstance(output_padding, (tuple, list)) else (output_padding, output_padding)
    ends = [padding - int(value) for value in extra]
    if padding or any(ends):
        x = layers.Cropping2D(((padding, ends[0]), (padding, ends[1])), name=name + "_crop")(x)
    x = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=name + "_bn")(x)
    return layers.ReLU(name=name + "_relu")(x)


def stage(x, filters, kernel, stride, padding, count, name):
    """One strided block then ``count`` residual 3 x 3 blocks (the original's stage pattern)."""
    x = conv_block(x, filters, kernel, stride, padding, name=f"{name}_0")
    for index in range(count):
        x = conv_block(x, filters, 3, 1, 1, residual=True, name=f"{name}_res{index + 1}")
    return x


def mel_image(mel):
    """``[B, 16, 80]`` (frames, bins; the readers' layout) -> ``[B, 80, 16, 1]`` (the original's image)."""
    from keras import layers

    return layers.Permute((2, 1), name="mel_bins_first")(mel)[..., None]


def audio_encoder(width=1.0, max_residual=None, name="audio_encoder", stages=AUDIO_STAGES) -> keras.Model:
    """Wav2Lip's ``audio_encoder`` as a model: mel ``[B, 16, 80]`` -> ``[B, 512 width]`` (after the
    last block's ReLU, as the original's ``[B, 512, 1, 1]`` flattened). 80 x 16 -> 80 x 16 -> 27 x 16
    -> 9 x 6 -> 3 x 3 -> 1 x 1. ``stages``: SyncNet's (default), :data:`GENERATOR_AUDIO_STAGES` or
    :data:`STUDENT_AUDIO_STAGES`."""
    from keras import layers

    mel = keras.Input((MEL_STEP, NUM_MELS), name="mel")
    x = mel_image(mel)
    for index, (filters, kernel, stride, padding, count) in enumerate(stages):
        x = stage(x, channels(filters, width), kernel, stride, padding, residuals(count, max_residual),
                  f"{name}_s{index}")
    x = conv_block(x, channels(EMBEDDING_CHANNELS, width), 3, 1, 0, name=f"{name}_out0")
    x = conv_block(x, channels(EMBEDDING_CHANNELS, width), 1, 1, 0, name=f"{name}_out1")
    return keras.Model(mel, layers.Flatten(name=f"{name}_flat")(x), name=name)
