"""Spectral distance: mel-cepstral distortion (MCD) between a reference and an estimate waveform.

Definition used here (Kubichek, "Mel-cepstral distance measure for objective speech quality
assessment", IEEE PACRIM 1993; the per-frame formula of lip-to-speech and TTS papers), with
mel-frequency cepstra from a filterbank rather than SPTK's all-pass warped mel-cepstrum:

* frames of 25 ms every 10 ms (400 / 160 samples at 16 kHz), periodic Hann window, not centred
  (frame ``i`` covers samples ``[160 i, 160 i + 400)``; a final partial frame is dropped), FFT
  length the next power of two (512 at 16 kHz);
* magnitude spectrum -> 40 triangular mel filters, HTK mel scale, 0 Hz to Nyquist, peak 1 (no
  area normalisation) -> natural log of the filter outputs (floor 1e-8);
* orthonormal DCT-II over the 40 log values -> cepstra ``c_0 .. c_39``; ``c_1 .. c_24`` are kept
  (``c_0``, the frame energy, is left out);
* per frame ``(10 / ln 10) * sqrt(2 * sum_k (c_k - c'_k)^2)`` (dB), averaged over all frames
  (no voice-activity selection, no frame dropping).

No dynamic time warping: the signals are compared frame by frame after trimming to the shorter
(lengths within 1 % are trimmed, larger differences refused, as every two-signal metric here:
:mod:`._signals`). No gain normalisation either: a level difference shows in ``c_0`` only, which
is excluded, so MCD ignores overall loudness. NaN / Inf and silent input (peak below -80 dBFS) raise
:class:`~avse_tf.errors.MetricInputError`.
"""

from __future__ import annotations

import numpy as np

from avse_tf.constants import SAMPLE_RATE
from avse_tf.errors import MetricInputError
from avse_tf.metrics._signals import check_rate, require_sound, signal_pair

MCD_WINDOW_SECONDS = 0.025
MCD_HOP_SECONDS = 0.010
MCD_NUM_MELS = 40
MCD_COEFFICIENTS = (1, 24)  # inclusive: c_1 .. c_24
MCD_LOG_FLOOR = 1e-8
MCD_SCALE = 10.0 / np.log(10.0) * np.sqrt(2.0)


def _orthonormal_dct(size: int) -> np.ndarray:
    """``[size, size]`` DCT-II matrix with orthonormal rows (scipy's ``dct(norm="ortho")``)."""
    index = np.arange(size)
    matrix = np.cos(np.pi / size * (index[None, :] + 0.5) * index[:, None]) * np.sqrt(2.0 / size)
    matrix[0] /= np.sqrt(2.0)
    return matrix


def mel_cepstra(signal: np.ndarray, sample_rate: int) -> np.ndarray:
    """``[frames, 24]`` mel cepstra ``c_1 .. c_24`` of a 1-D float waveform (module doc)."""
    from avse_tf.audio.features import mel_filterbank

    window = int(round(MCD_WINDOW_SECONDS * sample_rate))
    hop = int(round(MCD_HOP_SECONDS * sample_rate))
    if signal.size < window:
        raise MetricInputError(f"MCD needs at least {window} samples (25 ms), got {signal.size}")
    fft_length = 1 << (window - 1).bit_length()
    starts = np.arange(0, signal.size - window + 1, hop)
    frames = signal[starts[:, None] + np.arange(window)[None, :]]
    hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(window) / window)  # periodic
    magnitude = np.abs(np.fft.rfft(frames * hann, fft_length, axis=-1))
    filters = np.asarray(mel_filterbank(sample_rate, fft_length, MCD_NUM_MELS, 0.0, sample_rate / 2.0,
                                        htk=True, slaney_norm=False), np.float64)
    log_mel = np.log(np.maximum(magnitude @ filters, MCD_LOG_FLOOR))
    cepstra = log_mel @ _orthonormal_dct(MCD_NUM_MELS).T
    first, last = MCD_COEFFICIENTS
    return cepstra[:, first:last + 1]


def mcd(reference, estimate, sample_rate: int = SAMPLE_RATE) -> float:
    """Mel-cepstral distortion (dB) of ``estimate`` against ``reference``; 0 for identical signals,
    larger is worse. Exact variant: module doc (filterbank MFCC c1..c24, 25/10 ms frames, no DTW)."""
    sample_rate = check_rate(sample_rate)
    reference, estimate = signal_pair(reference, estimate)
    require_sound(reference, "reference", "MCD")
    require_sound(estimate, "estimate", "MCD")
    difference = mel_cepstra(reference, sample_rate) - mel_cepstra(estimate, sample_rate)
    return float(np.mean(MCD_SCALE * np.sqrt(np.sum(difference ** 2, axis=-1))))
