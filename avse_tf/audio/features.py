"""Spectral features shared by every system, in TensorFlow ops so they can live inside a graph.

* :func:`power_law` — |S|^0.3 (Morrone 2019, after Wilson et al.'s power-law compression).
* :func:`log_magnitude` — log(|S| + 1e-6) (Morrone 2021).
* :func:`pre_emphasis` — first-order pre-emphasis filter (MFCC, VCA-GAN's 0.97).
* :func:`mel_spectrogram` — mel filterbank on the magnitude (Slaney or HTK mel scale).
* :func:`mfcc_htk` — HTK-style MFCC as Speech2Vid uses them (python_speech_features conventions:
  pre-emphasis 0.97, 25 ms / 10 ms Hamming frames, 512-point power spectrum / NFFT, 40 HTK
  triangular filters 300-3700 Hz, log, orthonormal DCT-II, 13 cepstra, sinusoidal lifter 22).
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from avse_tf.constants import SAMPLE_RATE

LOG_EPSILON = 1e-6  # Morrone 2021: log(|X| + 1e-6)
POWER_LAW_EXPONENT = 0.3  # Morrone 2019


def power_law(magnitude, exponent: float = POWER_LAW_EXPONENT) -> tf.Tensor:
    """|S|^p compression; exact inverse is :func:`inverse_power_law`."""
    return tf.pow(tf.convert_to_tensor(magnitude), exponent)


def inverse_power_law(compressed, exponent: float = POWER_LAW_EXPONENT) -> tf.Tensor:
    return tf.pow(tf.nn.relu(tf.convert_to_tensor(compressed)), 1.0 / exponent)


def log_magnitude(magnitude, epsilon: float = LOG_EPSILON) -> tf.Tensor:
    return tf.math.log(tf.convert_to_tensor(magnitude) + epsilon)


def inverse_log_magnitude(log_mag, epsilon: float = LOG_EPSILON) -> tf.Tensor:
    return tf.nn.relu(tf.exp(tf.convert_to_tensor(log_mag)) - epsilon)


def pre_emphasis(waveform, coefficient: float = 0.97) -> tf.Tensor:
    """``y[n] = x[n] - a x[n-1]`` along the last axis (``y[0] = x[0]``, scipy's ``lfilter([1, -a], [1], x)``)."""
    waveform = tf.convert_to_tensor(waveform, tf.float32)
    return tf.concat([waveform[..., :1], waveform[..., 1:] - coefficient * waveform[..., :-1]], axis=-1)


def de_emphasis(waveform, coefficient: float = 0.97) -> tf.Tensor:
    """Inverse of :func:`pre_emphasis`: ``y[n] = x[n] + a y[n-1]`` along the last axis (scipy's
    ``lfilter([1], [1, -a], x)``).

    Run as a causal convolution with the recursion's impulse response ``a^k``, cut where ``a^k`` falls
    below 1e-7 (530 taps for 0.97): a relative error under 1e-6, and one graph op instead of a
    sequential scan over 48000 samples (which took seconds per clip).
    """
    waveform = tf.convert_to_tensor(waveform, tf.float32)
    coefficient = float(coefficient)
    if coefficient == 0.0:
        return waveform
    if not 0.0 < abs(coefficient) < 1.0:
        raise ValueError(f"de-emphasis needs 0 < |coefficient| < 1, got {coefficient}")
    taps = int(np.ceil(np.log(1e-7) / np.log(abs(coefficient))))
    response = (coefficient ** np.arange(taps))[::-1].astype(np.float32)  # conv1d correlates: reversed
    shape = tf.shape(waveform)
    signals = tf.reshape(waveform, [-1, shape[-1], 1])
    padded = tf.pad(signals, [[0, 0], [taps - 1, 0], [0, 0]])
    restored = tf.nn.conv1d(padded, tf.constant(response)[:, None, None], stride=1, padding="VALID")
    return tf.reshape(restored, shape)


def hz_to_mel(frequency, htk: bool = True):
    frequency = np.asarray(frequency, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + frequency / 700.0)
    # Slaney: linear below 1 kHz, logarithmic above (librosa's default).
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(frequency >= min_log_hz,
                    min_log_mel + np.log(np.maximum(frequency, 1e-10) / min_log_hz) / logstep,
                    frequency / f_sp)


def mel_to_hz(mel, htk: bool = True):
    mel = np.asarray(mel, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)


@functools.lru_cache(maxsize=32)
def mel_filterbank(sample_rate: int, fft_length: int, num_mels: int, fmin: float, fmax: float,
                   htk: bool = False, slaney_norm: bool = True) -> np.ndarray:
    """Triangular mel filters ``[fft_length // 2 + 1, num_mels]`` (float32, read-only).

    ``htk=False, slaney_norm=True`` equals librosa.filters.mel's default (Slaney scale, area
    normalised), which the VCA-GAN and Wav2Lip mels use.
    """
    bins = fft_length // 2 + 1
    fft_freqs = np.linspace(0, sample_rate / 2, bins)
    mel_points = mel_to_hz(np.linspace(hz_to_mel(fmin, htk), hz_to_mel(fmax, htk), num_mels + 2), htk)
    lower, centre, upper = mel_points[:-2, None], mel_points[1:-1, None], mel_points[2:, None]
    rising = (fft_freqs[None, :] - lower) / np.maximum(centre - lower, 1e-10)
    falling = (upper - fft_freqs[None, :]) / np.maximum(upper - centre, 1e-10)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    if slaney_norm:
        weights *= (2.0 / (upper - lower))
    matrix = weights.T.astype(np.float32)
    matrix.setflags(write=False)
    return matrix


def mel_spectrogram(magnitude, sample_rate: int, num_mels: int = 80, fmin: float = 0.0,
                    fmax: float | None = None, htk: bool = False) -> tf.Tensor:
    """Mel spectrogram ``[..., frames, num_mels]`` of a magnitude (or power) spectrogram."""
    magnitude = tf.convert_to_tensor(magnitude)
    fft_length = (int(magnitude.shape[-1]) - 1) * 2
    matrix = mel_filterbank(sample_rate, fft_length, num_mels, float(fmin),
                            float(fmax or sample_rate / 2), htk, not htk)
    return tf.tensordot(magnitude, tf.constant(matrix, magnitude.dtype), axes=1)


@functools.lru_cache(maxsize=8)
def _dct_matrix(num_filters: int, num_ceps: int) -> np.ndarray:
    """Orthonormal DCT-II matrix ``[num_filters, num_ceps]`` (scipy.fft.dct(norm='ortho'))."""
    n = np.arange(num_filters)[:, None]
    k = np.arange(num_ceps)[None, :]
    matrix = np.cos(np.pi * k * (2 * n + 1) / (2 * num_filters)) * np.sqrt(2.0 / num_filters)
    matrix[:, 0] /= np.sqrt(2.0)
    return matrix.astype(np.float32)


def mfcc_htk(waveform, sample_rate: int = SAMPLE_RATE, window_seconds: float = 0.025,
             step_seconds: float = 0.010, num_filters: int = 40, num_ceps: int = 13,
             fft_length: int = 512, low_freq: float = 300.0, high_freq: float = 3700.0,
             preemphasis: float = 0.97, lifter: int = 22) -> tf.Tensor:
    """HTK-style MFCC ``[..., frames, num_ceps]`` at 100 frames/s (Speech2Vid, Chung et al. 2017 §3.1).

    Frames are not centred: frame ``t`` covers samples ``[t*step, t*step + window)``; the last
    partial frame is zero-padded. c0 is kept here; Speech2Vid drops it when it builds its 12x35
    windows.
    """
    waveform = tf.convert_to_tensor(waveform, tf.float32)
    emphasised = pre_emphasis(waveform, preemphasis)
    frame_length = int(round(window_seconds * sample_rate))
    frame_step = int(round(step_seconds * sample_rate))
    frames = tf.signal.frame(emphasised, frame_length, frame_step, pad_end=True)
    frames = frames * tf.signal.hamming_window(frame_length, periodic=False)
    power = tf.square(tf.abs(tf.signal.rfft(frames, [fft_length]))) / fft_length
    filters = mel_filterbank(sample_rate, fft_length, num_filters, low_freq, high_freq, True, False)
    energies = tf.tensordot(power, tf.constant(filters), axes=1)
    log_energies = tf.math.log(tf.maximum(energies, np.finfo(np.float32).tiny))
    cepstra = tf.tensordot(log_energies, tf.constant(_dct_matrix(num_filters, num_ceps)), axes=1)
    if lifter > 0:
        lift = 1.0 + (lifter / 2.0) * np.sin(np.pi * np.arange(num_ceps) / lifter)
        cepstra = cepstra * tf.constant(lift.astype(np.float32))
    return cepstra


def griffin_lim(magnitude, config="morrone2019", num_samples=None, iterations: int = 32,
                initial_phase=None, momentum: float = 0.99) -> tf.Tensor:
    """Waveform whose STFT magnitude approximates ``magnitude`` (fast Griffin-Lim, Perraudin 2013).

    ``initial_phase`` (e.g. the corrupted signal's phase) speeds convergence; zero phase otherwise.
    The iterations run in one ``tf.while_loop``: inside a ``tf.function`` the graph holds one
    iteration, not ``iterations`` unrolled copies (60 unrolled took 18 s to trace), and
    ``num_samples`` may be a tensor (any clip length through one traced graph).
    """
    from avse_tf.audio.stft import from_magnitude_phase, get_config, istft, stft

    config = get_config(config)
    magnitude = tf.convert_to_tensor(magnitude, tf.float32)
    phase = tf.zeros_like(magnitude) if initial_phase is None else tf.convert_to_tensor(initial_phase, tf.float32)
    estimate = from_magnitude_phase(magnitude, phase)
    if num_samples is None:
        num_samples = int(magnitude.shape[-2]) * config.frame_step - config.pad_start
    momentum = tf.constant(momentum, tf.complex64)

    def step(index, estimate, previous):
        rebuilt = stft(istft(estimate, config, num_samples), config)
        accelerated = rebuilt + momentum * (rebuilt - previous)
        return index + 1, from_magnitude_phase(magnitude, tf.math.angle(accelerated)), rebuilt

    _, estimate, _ = tf.while_loop(lambda index, *_: index < int(iterations), step,
                                   (tf.constant(0), estimate, estimate))
    return istft(estimate, config, num_samples)
