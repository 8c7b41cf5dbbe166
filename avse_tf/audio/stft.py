"""STFT / inverse STFT with exactly the papers' settings, in TensorFlow ops (graph- and GPU-safe).

Frame counts follow the original code (fact sheets in shared/papers):

* Morrone et al. 2019 (VL2M family): 400-sample periodic Hann window (25 ms), hop 160 (10 ms),
  FFT 512 -> 257 bins; 256 zeros prepended and the end zero-padded (``pad_end``), so a
  48000-sample GRID clip gives ceil((48000 + 256) / 160) = 302 frames.
* Morrone et al. 2021 (inpainting): 384-sample periodic Hann (24 ms), hop 192 (12 ms), FFT 512,
  ``pad_end`` -> ceil(48000 / 192) = 250 frames.
* Kim et al. 2021 (VCA-GAN lip-to-speech): 640-sample periodic Hann (40 ms), hop 160 (10 ms), FFT
  640 -> 321 bins, centred frames: 320 samples reflected at each end (the original's Tacotron STFT,
  as ``librosa.stft(center=True, pad_mode="reflect")``), so 48000 samples give 1 + 48000 // 160 = 301.
* Hegde et al. 2021 (pseudo-visual denoiser): 400-sample periodic Hann (25 ms), hop 160, FFT 512,
  centred as librosa 0.7's ``stft(n_fft=512, win_length=400)``: 200 samples reflected at each end
  and the window placed 56 samples into its 512-sample frame (librosa centres a shorter window in
  the FFT frame, a linear phase ``exp(-2 pi i k 56 / 512)`` that ``window_offset`` reproduces), so
  16000 samples give 1 + 16000 // 160 = 101 frames (the original drops the last).
* Wav2Lip (Prajwal et al. 2020; the lip-sync mels of Hegde et al. 2021): 800-sample periodic Hann
  (50 ms), hop 200 (12.5 ms, 80 frames per second), FFT 800 -> 401 bins, centred as librosa 0.7's
  default (400 samples reflected at each end), so 48000 samples give 1 + 48000 // 200 = 241.

The inverse divides the overlap-added, re-windowed frames by the overlap-added squared window
(the least-squares inverse of Griffin & Lim 1984), so it is exact wherever that sum is non-zero,
including near the edges where ``tf.signal.inverse_stft_window_fn`` (steady-state normalisation)
is not. With the 2021 settings the very first samples are seen only through the near-zero start
of the Hann window and cannot be recovered; ``reliable_samples`` says from where reconstruction
is exact.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf

from avse_tf.constants import SAMPLE_RATE


@dataclasses.dataclass(frozen=True)
class StftConfig:
    """One paper's STFT: window/hop/FFT sizes in samples at ``sample_rate``."""

    name: str
    sample_rate: int
    frame_length: int
    frame_step: int
    fft_length: int
    pad_start: int = 0  # zeros prepended before framing (the 2019 code prepends 256)
    pad_end: bool = True
    reflect_pad: int = 0  # samples mirrored at both ends (centred frames, librosa's center=True)
    window_offset: int = 0  # where the window starts inside the FFT frame (librosa centres a short one)
    citation: str = ""

    @property
    def num_bins(self) -> int:
        return self.fft_length // 2 + 1

    def num_frames(self, num_samples: int) -> int:
        """Frames for a clip of ``num_samples`` samples (302 for 48000 in the 2019 settings)."""
        padded = num_samples + self.pad_start + 2 * self.reflect_pad
        if self.pad_end:
            return int(math.ceil(padded / self.frame_step))
        return max(0, 1 + (padded - self.frame_length) // self.frame_step)

    def window(self, dtype=tf.float32) -> tf.Tensor:
        return tf.signal.hann_window(self.frame_length, periodic=True, dtype=dtype)

    def reliable_samples(self) -> int:
        """First sample index from which the inverse is numerically exact (window sum >= 1e-2)."""
        window = np.hanning(self.frame_length + 1)[:-1] ** 2
        total = np.zeros(self.frame_length * 2)
        for start in range(0, self.frame_length * 2, self.frame_step):
            end = min(start + self.frame_length, total.size)
            total[start:end] += window[: end - start]
        first = int(np.argmax(total >= 1e-2 * total.max()))
        return max(0, first - self.pad_start)


MORRONE2019 = StftConfig(
    name="morrone2019", sample_rate=SAMPLE_RATE, frame_length=400, frame_step=160, fft_length=512,
    pad_start=256, pad_end=True,
    citation="Morrone et al., ICASSP 2019, arXiv 1811.02480; original code dr-pato/audio_visual_speech_enhancement",
)
MORRONE2021 = StftConfig(
    name="morrone2021", sample_rate=SAMPLE_RATE, frame_length=384, frame_step=192, fft_length=512,
    pad_start=0, pad_end=True,
    citation="Morrone et al., ICASSP 2021, arXiv 2010.04556; original code dr-pato/audio-visual-speech-inpainting",
)
KIM2021 = StftConfig(
    name="kim2021", sample_rate=SAMPLE_RATE, frame_length=640, frame_step=160, fft_length=640,
    pad_start=0, pad_end=False, reflect_pad=320,
    citation="Kim, Hong, Ro, NeurIPS 2021 (VCA-GAN); original code ms-dot-k/Visual-Context-Attentional-GAN",
)
HEGDE2021 = StftConfig(
    name="hegde2021", sample_rate=SAMPLE_RATE, frame_length=400, frame_step=160, fft_length=512,
    pad_start=0, pad_end=False, reflect_pad=200, window_offset=56,
    citation="Hegde et al., WACV 2021, arXiv 2012.10852 (denoiser STFT)",
)
WAV2LIP = StftConfig(
    name="wav2lip", sample_rate=SAMPLE_RATE, frame_length=800, frame_step=200, fft_length=800,
    pad_start=0, pad_end=False, reflect_pad=400,
    citation="Prajwal et al., ACM MM 2020 (Wav2Lip), audio.py / hparams.py; used by Hegde et al., WACV 2021",
)
CONFIGS = {config.name: config for config in (MORRONE2019, MORRONE2021, KIM2021, HEGDE2021, WAV2LIP)}


def get_config(name_or_config) -> StftConfig:
    if isinstance(name_or_config, StftConfig):
        return name_or_config
    try:
        return CONFIGS[name_or_config]
    except KeyError:
        raise ValueError(f"unknown STFT settings {name_or_config!r}; choose one of {sorted(CONFIGS)}") from None


def stft(waveform, config="morrone2019") -> tf.Tensor:
    """Complex STFT ``[..., frames, bins]`` of ``[..., samples]`` float waveforms."""
    config = get_config(config)
    waveform = tf.convert_to_tensor(waveform)
    if not waveform.dtype.is_floating:
        waveform = tf.cast(waveform, tf.float32)
    if config.pad_start:
        rank = waveform.shape.rank
        waveform = tf.pad(waveform, [[0, 0]] * (rank - 1) + [[config.pad_start, 0]])
    if config.reflect_pad:
        rank = waveform.shape.rank
        waveform = tf.pad(waveform, [[0, 0]] * (rank - 1) + [[config.reflect_pad] * 2], mode="REFLECT")
    spectrogram = tf.signal.stft(
        waveform,
        frame_length=config.frame_length,
        frame_step=config.frame_step,
        fft_length=config.fft_length,
        window_fn=lambda length, dtype: tf.signal.hann_window(length, periodic=True, dtype=dtype),
        pad_end=config.pad_end,
    )
    return spectrogram * _window_shift(config, spectrogram.dtype) if config.window_offset else spectrogram


def _window_shift(config, dtype, sign=-1.0) -> tf.Tensor:
    """``exp(sign 2 pi i k offset / fft_length)`` per bin: the phase of a window ``offset`` samples
    into its FFT frame (sign -1), or its removal (+1)."""
    bins = np.arange(config.num_bins)
    shift = np.exp(sign * 2j * np.pi * bins * config.window_offset / config.fft_length)
    return tf.constant(shift.astype(np.complex128 if dtype == tf.complex128 else np.complex64))


def istft(spectrogram, config="morrone2019", num_samples=None) -> tf.Tensor:
    """Least-squares inverse of :func:`stft`; trims the prepended zeros and, if given, to ``num_samples``."""
    config = get_config(config)
    spectrogram = tf.convert_to_tensor(spectrogram)
    real_dtype = spectrogram.dtype.real_dtype
    if config.window_offset:
        spectrogram = spectrogram * _window_shift(config, spectrogram.dtype, sign=1.0)
    frames = tf.signal.irfft(spectrogram, fft_length=[config.fft_length])[..., : config.frame_length]
    window = config.window(real_dtype)
    signal = tf.signal.overlap_and_add(frames * window, config.frame_step)
    num_frames = tf.shape(spectrogram)[-2]
    window_sum = tf.signal.overlap_and_add(
        tf.tile(tf.square(window)[tf.newaxis, :], [num_frames, 1]), config.frame_step
    )
    # Where no window covers a sample (only the very edges) leave it unscaled rather than divide by ~0.
    tiny = tf.constant(1e-8, real_dtype)
    signal = signal / tf.where(window_sum > tiny, window_sum, tf.ones_like(window_sum))
    signal = signal[..., config.pad_start + config.reflect_pad:]
    if num_samples is not None:
        signal = signal[..., :num_samples]
    return signal


def magnitude_phase(spectrogram):
    """Split a complex spectrogram into magnitude and phase (radians)."""
    return tf.abs(spectrogram), tf.math.angle(spectrogram)


def from_magnitude_phase(magnitude, phase) -> tf.Tensor:
    """Complex spectrogram from magnitude and phase, e.g. an enhanced magnitude with the mixture phase."""
    magnitude = tf.convert_to_tensor(magnitude)
    phase = tf.cast(phase, magnitude.dtype)
    return tf.complex(magnitude * tf.cos(phase), magnitude * tf.sin(phase))
