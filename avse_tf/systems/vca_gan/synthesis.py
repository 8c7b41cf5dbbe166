"""Waveforms from VCA-GAN's spectrograms (fact sheet shared/papers/vcagan_lip2speech.md, "Outputs";
the original's ``test.py``): Griffin-Lim, 60 iterations, on the post-net's 321-bin linear magnitude
with the ``kim2021`` STFT, then de-emphasis 0.97 (the features were pre-emphasised).

The original runs torchaudio's Griffin-Lim (momentum 0.99, random initial phase); here the shared
fast Griffin-Lim (momentum 0.99, zero initial phase: repeatable). Loudness is not restored (the
features were peak-normalised to 0.9): the waveform is scaled back to peak 0.9, as the reference
audio the metrics compare it with.
"""

from __future__ import annotations

import numpy as np

from avse_tf.systems.vca_gan.features import PEAK, PRE_EMPHASIS, STFT

GRIFFIN_LIM_ITERATIONS = 60
HOP = 160


def linear_to_waveform(linear, iterations: int = GRIFFIN_LIM_ITERATIONS, num_frames=None) -> np.ndarray:
    """``linear`` [frames, 321] or [batch, frames, 321] magnitude -> float32 waveform(s) of
    ``160 x frames`` samples (16 kHz), peak 0.9. ``num_frames`` keeps only the first frames (a
    padded batch's clip length: one int, or one per batch item -> a list of arrays)."""
    import tensorflow as tf

    from avse_tf.audio.features import de_emphasis, griffin_lim

    linear = np.maximum(np.asarray(linear, np.float32), 0.0)
    if linear.ndim == 3 and num_frames is not None and np.ndim(num_frames) == 1:
        return [linear_to_waveform(item[:int(n)], iterations) for item, n in zip(linear, num_frames)]
    if num_frames is not None:
        linear = linear[..., :int(num_frames), :]
    samples = linear.shape[-2] * HOP
    # The centred STFT of n samples has 1 + n // 160 frames; the records keep 4 per video frame
    # (module doc of features.py): the missing last frame repeats the one before.
    linear = np.concatenate([linear, linear[..., -1:, :]], axis=-2)
    waveform = griffin_lim(tf.constant(linear), STFT, num_samples=samples, iterations=int(iterations))
    waveform = np.asarray(de_emphasis(waveform, PRE_EMPHASIS), np.float32)
    peak = np.max(np.abs(waveform), axis=-1, keepdims=True)
    return (waveform * np.where(peak > 0, PEAK / np.maximum(peak, 1e-12), 0.0)).astype(np.float32)


def reference_waveform(waveform) -> np.ndarray:
    """The clip's audio as the features saw it, without pre-emphasis: high-passed (already, in the
    preprocessed flac), peak 0.9. The metrics compare generated speech with this."""
    from avse_tf.audio.filters import peak_normalize

    return np.asarray(peak_normalize(np.asarray(waveform, np.float32), PEAK), np.float32)
