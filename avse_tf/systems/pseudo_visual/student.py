"""The audio-only lip generator ("student", Hegde et al. WACV 2021 §3.2; the original's
``lipsync/models.py::Lipsync_Student``): noisy speech in, the lower half of a talking face out.

One video frame's input is its 16-frame window of Wav2Lip mels (:mod:`features`), laid out here as
an image of 80 mel rows x 16 time columns x 1 channel (the original's ``1 x 80 x 16``, channels last).

* Audio encoder, Wav2Lip's (residual 3x3 conv blocks, BN, ReLU) at twice its stage widths: 64, 128,
  256, 512 with strides 1, (3, 1), 3, (3, 2), then a 3x3 "valid" conv and a 1x1 conv to a 1 x 1 x 512
  code (:func:`blocks.audio_encoder` with :data:`blocks.STUDENT_AUDIO_STAGES`).
* Decoder, no face input and no skip connections (that is what makes it audio-only): 1x1 conv,
  transposed convs 3 -> 6 -> 12 -> 24 -> 48 (square), then a transposed conv with stride (1, 2) to
  48 x 96, each followed by residual blocks; widths 512, 512, 512, 256, 128, 64, 32; output block
  3x3 conv 16 + 1x1 conv 3, sigmoid: ``[48, 96, 3]`` in [0, 1], the lower half of a 96 x 96 face.

``width`` scales every channel count (1.0 = the paper's network); the CPU preset only shrinks it.
Padding is PyTorch's throughout (:mod:`blocks`), so every feature map has the original's size.
"""

from __future__ import annotations

import keras

from avse_tf.systems.pseudo_visual.blocks import (
    EMBEDDING_CHANNELS,
    STUDENT_AUDIO_STAGES,
    audio_encoder,
    channels,
    conv_block,
    transposed_block,
)

LOWER_HALF_SHAPE = (48, 96, 3)
# Its decoder's transposed convs: (out channels, stride, padding, output padding, residual blocks);
# 1 -> 3 -> 6 -> 12 -> 24 -> 48 (square), then 48 x 48 -> 48 x 96.
STUDENT_DECODER_STAGES = ((512, 1, 0, 0, 1), (512, 2, 1, 1, 2), (256, 2, 1, 1, 2), (128, 2, 1, 1, 2), (64, 2, 1, 1, 2),
                          (32, (1, 2), 1, (0, 1), 2))


def lipsync_student(width: float = 1.0, name: str = "lipsync_student") -> keras.Model:
    """The student (module doc): ``mels`` ``[B, 16, 80]`` (time, mel) -> lips ``[B, 48, 96, 3]``."""
    from keras import layers

    audio = audio_encoder(width, name="student_audio_encoder", stages=STUDENT_AUDIO_STAGES)
    x = layers.Reshape((1, 1, -1), name="code_map")(audio.output)
    x = conv_block(x, channels(EMBEDDING_CHANNELS, width), 1, 1, 0, name="decoder_in")
    for index, (filters, stride, padding, output_padding, count) in enumerate(STUDENT_DECODER_STAGES):
        x = transposed_block(x, channels(filters, width), 3, stride, padding, output_padding, name=f"decoder_s{index}")
        for block in range(count):
            x = conv_block(x, channels(filters, width), 3, 1, 1, residual=True, name=f"decoder_s{index}_res{block + 1}")
    x = conv_block(x, channels(16, width), 3, 1, 1, name="output_block")
    lips = layers.Conv2D(3, 1, activation="sigmoid", dtype="float32", name="lips")(x)
    return keras.Model(audio.input, lips, name=name)


__all__ = ["lipsync_student", "LOWER_HALF_SHAPE", "STUDENT_DECODER_STAGES"]
