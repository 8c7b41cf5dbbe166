"""The pseudo-visual denoiser (Hegde et al., WACV 2021 §3.3; the original's ``models.py`` ``Model``):
noisy speech and the student's lips in, the clean spectrogram's magnitude and phase out.

Inputs (NHWC / time-major, the original's channel-first tensors transposed):

* ``stft`` ``[B, T, 514]``: the noisy STFT (512-point FFT, 257 bins) as normalised magnitude dB
  (257) then normalised phase (257), both in [0, 1]; 100 frames per second (hop 160);
* ``lips`` ``[B, T / 4, 48, 96, 3]``: the student's lower faces at 25 fps, in [0, 1].

Network: audio encoder of 7 Conv1d blocks (k 3; 514 -> 600, 5 residual, 600); a face encoder per
lip frame (Conv2d blocks 3 -> 32 (5 x 5, stride (1, 2)) -> 64 -> 128 -> 256 -> 512, stride 2, one
residual block each, 3 x 3 stride 3 to 1 x 1, 1 x 1 conv: 512 per frame); a time upsampler
(nearest x 2 + Conv1d block, twice: 25 -> 100 frames); the concatenation (600 + 512 = 1112) through
Conv1d 1024, 14 residual Conv1d blocks and a 1 x 1 Conv1d to 514; output ``sigmoid(decoder +
stft)``, the mask added to the noisy input as the original does. Blocks are the original's (conv +
batch norm, the input added when residual, ReLU); Conv1d pads 1 on each side (PyTorch's default
there), so every stage keeps T.

Any T that is four times the lip frames works (the original trains on 1 s: 100 and 25). Scaling for
the CPU preset: ``width`` multiplies every hidden channel count (the 514 in and out stay),
``audio_residual`` / ``decoder_residual`` set the residual blocks (paper 5 and 14).
"""

from __future__ import annotations

import keras

from avse_tf.systems.pseudo_visual.blocks import channels, conv_block

STFT_CHANNELS = 514  # 257 magnitude + 257 phase bins
LIP_SHAPE = (48, 96, 3)
FRAMES_PER_LIP = 4  # 100 STFT frames per second / 25 video frames per second
# Face encoder stages: (out channels, kernel, stride, padding); each followed by one residual block.
FACE_STAGES = ((32, 5, (1, 2), 2), (64, 3, 2, 1), (128, 3, 2, 1), (256, 3, 2, 1), (512, 3, 2, 1))


def conv1d_block(x, filters, kernel=3, residual=False, name=None):
    """The original's ``Conv1d`` block: convolution (padding ``kernel // 2``) + batch norm, the input
    added when ``residual``, ReLU."""
    from keras import layers

    shortcut = x
    x = layers.Conv1D(filters, kernel, padding="same", name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"{name}_bn")(x)
    if residual:
        x = layers.Add(name=f"{name}_add")([x, shortcut])
    return layers.ReLU(name=f"{name}_relu")(x)


@keras.saving.register_keras_serializable(package="avse_tf")
class PerFrame(keras.layers.Layer):
    """Applies a per-frame model to ``[B, T, ...]`` as one batch of ``B * T`` frames and returns
    ``[B, T, features]``. ``keras.layers.TimeDistributed`` does the same but took 27 s to trace its
    gradient here (against 1 s for this reshape), on every training start."""

    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        self.model = model

    def build(self, input_shape):
        self.model.build((None, *input_shape[2:]))
        self.built = True

    def call(self, frames, training=None):
        shape = keras.ops.shape(frames)
        merged = keras.ops.reshape(frames, (-1, *frames.shape[2:]))
        features = self.model(merged, training=training)
        return keras.ops.reshape(features, (shape[0], shape[1], features.shape[-1]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.model.output_shape[-1])

    def get_config(self):
        return {**super().get_config(), "model": keras.saving.serialize_keras_object(self.model)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        model = keras.saving.deserialize_keras_object(config.pop("model"))
        return cls(model, **config)


def lip_encoder(width=1.0, name="lip_encoder") -> keras.Model:
    """One lower face ``[48, 96, 3]`` -> ``[512 width]`` (48 x 96 -> 48 x 48 -> 24 -> 12 -> 6 -> 3 -> 1)."""
    from keras import layers

    lips = keras.Input(LIP_SHAPE, name="lip_frame")
    x = lips
    for index, (filters, kernel, stride, padding) in enumerate(FACE_STAGES):
        x = conv_block(x, channels(filters, width), kernel, stride, padding, name=f"{name}_s{index}")
        x = conv_block(x, channels(filters, width), 3, 1, 1, residual=True, name=f"{name}_s{index}_res")
    x = conv_block(x, channels(512, width), 3, 3, 1, name=f"{name}_out0")
    x = conv_block(x, channels(512, width), 1, 1, 0, name=f"{name}_out1")
    return keras.Model(lips, layers.Flatten(name=f"{name}_flat")(x), name=name)


def pseudo_visual_denoiser(width=1.0, audio_residual=5, decoder_residual=14, name="pseudo_visual_denoiser"):
    """Build the denoiser (module doc): ``{"stft": [B, T, 514], "lips": [B, T / 4, 48, 96, 3]} ->
    [B, T, 514]`` in (0, 1)."""
    from keras import layers

    stft = keras.Input((None, STFT_CHANNELS), name="stft")
    lips = keras.Input((None, *LIP_SHAPE), name="lips")

    audio = conv1d_block(stft, channels(600, width), name="audio_in")
    for index in range(int(audio_residual)):
        audio = conv1d_block(audio, channels(600, width), residual=True, name=f"audio_res{index + 1}")
    audio = conv1d_block(audio, channels(600, width), name="audio_out")

    visual = PerFrame(lip_encoder(width), name="lip_frames")(lips)
    for index in range(2):  # 25 -> 50 -> 100 frames
        visual = layers.UpSampling1D(2, name=f"time_up{index + 1}")(visual)
        visual = conv1d_block(visual, channels(512, width), name=f"time_up{index + 1}")

    x = layers.Concatenate(name="audio_visual")([audio, visual])
    x = conv1d_block(x, channels(1024, width), name="decoder_in")
    for index in range(int(decoder_residual)):
        x = conv1d_block(x, channels(1024, width), residual=True, name=f"decoder_res{index + 1}")
    mask = layers.Conv1D(STFT_CHANNELS, 1, name="decoder_out")(x)
    logits = layers.Add(name="mask_plus_input")([mask, stft])
    output = layers.Activation("sigmoid", dtype="float32", name="enhanced_stft")(logits)
    return keras.Model({"stft": stft, "lips": lips}, output, name=name)


__all__ = ["pseudo_visual_denoiser", "lip_encoder", "PerFrame", "conv1d_block", "STFT_CHANNELS", "LIP_SHAPE", "FRAMES_PER_LIP"]
