"""Waveform conditioning before features: zero-phase Butterworth high-pass and peak normalisation.

VCA-GAN (Kim et al. 2021, fact sheet shared/papers/vcagan_lip2speech.md) removes rumble below 55 Hz
with a 7th-order Butterworth high-pass run forwards and backwards (``scipy.signal.filtfilt``, so no
phase shift between the sound and the lips) and scales each clip to a peak of 0.9.
"""

from __future__ import annotations

import numpy as np

from avse_tf.constants import SAMPLE_RATE
from avse_tf.errors import AudioReadError
from avse_tf.validation import require_finite


def highpass(waveform, cutoff: float = 55.0, sample_rate: int = SAMPLE_RATE, order: int = 7) -> np.ndarray:
    """Zero-phase Butterworth high-pass of ``[..., samples]`` (filtfilt, so the effective order doubles)."""
    from scipy import signal

    waveform = require_finite(np.asarray(waveform, np.float64), "waveform to high-pass", axes=("sample",))
    numerator, denominator = signal.butter(int(order), float(cutoff) / (sample_rate / 2), "high")
    # filtfilt's default edge padding needs 3 * (order + 1) samples; shorter clips are too short to filter.
    if waveform.shape[-1] <= 3 * max(len(numerator), len(denominator)):
        raise AudioReadError(f"audio of {waveform.shape[-1]} samples is too short to high-pass at {cutoff:g} Hz; "
                             "give at least a few milliseconds of sound")
    return signal.filtfilt(numerator, denominator, waveform, axis=-1).astype(np.float32)


def peak_normalize(waveform, peak: float = 0.9) -> np.ndarray:
    """``waveform`` scaled so that its largest absolute sample is ``peak``; silence stays silence."""
    waveform = np.asarray(waveform, np.float32)
    largest = float(np.max(np.abs(waveform))) if waveform.size else 0.0
    return waveform if largest == 0.0 else waveform * np.float32(peak / largest)
