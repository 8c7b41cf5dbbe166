"""VCA-GAN's audio features (fact sheet shared/papers/vcagan_lip2speech.md, "Inputs"; original code's
GRID dataset), on the shared STFT and mel code.

Per clip: 16 kHz; 7th-order Butterworth 55 Hz high-pass, zero-phase (:func:`avse_tf.audio.filters.highpass`);
peak-normalised to 0.9; pre-emphasis 0.97; clipped to [-1, 1]; STFT ``kim2021`` (periodic Hann 640,
hop 160, FFT 640, centred with reflected ends: :data:`avse_tf.audio.stft.KIM2021`); magnitude ->
``linear`` [frames, 321]; 80 Slaney mels 55-7500 Hz (librosa's filterbank) -> log(max(mel, 1e-5))
-> ``(log - log 1e-5) / (-log 1e-5 / 2) - 1`` = ``mel`` [frames, 80], which maps 1e-5 to -1 and 1 to
+1 (louder bins exceed +1; the original does not clip them and neither do we).

Frames: 4 mel frames per 25 fps video frame (hop 10 ms). The centred STFT gives 1 + n // 160
frames (301 for 3 s); :func:`clip_features` keeps the first ``4 x video frames`` (300), so a record
holds exactly 4 mel frames per video frame. The linear spectrogram is stored unnormalised, as the
original's post-net target.
"""

from __future__ import annotations

import math

import numpy as np

from avse_tf.constants import FPS, SAMPLE_RATE
from avse_tf.validation import require_finite

STFT = "kim2021"
NUM_MELS = 80
MEL_FMIN, MEL_FMAX = 55.0, 7500.0
HIGHPASS_HZ = 55.0
PEAK = 0.9
PRE_EMPHASIS = 0.97
LOG_FLOOR = 1e-5
NUM_LINEAR_BINS = 321
MEL_FRAMES_PER_VIDEO_FRAME = 4  # 16000 / 25 / 160
SAMPLES_PER_VIDEO_FRAME = int(SAMPLE_RATE / FPS)  # 640

_LOG_FLOOR = math.log(LOG_FLOOR)


def scale_log_mel(log_mel):
    """log mel (floor log 1e-5) -> the model's range: log 1e-5 -> -1, 0 -> +1."""
    return (log_mel - _LOG_FLOOR) / (-_LOG_FLOOR / 2) - 1


def unscale_log_mel(scaled):
    """Inverse of :func:`scale_log_mel` (for Griffin-Lim from a predicted mel)."""
    return (scaled + 1) * (-_LOG_FLOOR / 2) + _LOG_FLOOR


def condition_waveform(waveform) -> np.ndarray:
    """Peak 0.9, pre-emphasis 0.97, clipped to [-1, 1]: the STFT's input (after the high-pass)."""
    from avse_tf.audio.features import pre_emphasis
    from avse_tf.audio.filters import peak_normalize

    emphasised = np.asarray(pre_emphasis(peak_normalize(waveform, PEAK), PRE_EMPHASIS))
    return np.clip(emphasised, -1.0, 1.0)


def spectrograms(conditioned) -> tuple:
    """``(mel [frames, 80], linear [frames, 321])`` float32 of a conditioned waveform (module doc)."""
    import tensorflow as tf

    from avse_tf.audio.features import mel_spectrogram
    from avse_tf.audio.stft import stft

    magnitude = tf.abs(stft(tf.constant(conditioned, tf.float32), STFT))
    mel = mel_spectrogram(magnitude, SAMPLE_RATE, NUM_MELS, MEL_FMIN, MEL_FMAX)
    scaled = scale_log_mel(tf.math.log(tf.maximum(mel, LOG_FLOOR)))
    return np.asarray(scaled, np.float32), np.asarray(magnitude, np.float32)


def clip_features(waveform, num_video_frames: int, source: str = "audio") -> dict:
    """Features of one clip's high-passed 16 kHz ``waveform``: ``mel`` and ``linear`` with exactly
    ``4 x num_video_frames`` frames (the waveform is zero-padded or cut to 640 samples per video frame)."""
    waveform = require_finite(np.asarray(waveform, np.float32), f"audio of {source}", axes=("sample",))
    length = int(num_video_frames) * SAMPLES_PER_VIDEO_FRAME
    waveform = np.pad(waveform[:length], (0, max(0, length - waveform.size)))
    mel, linear = spectrograms(condition_waveform(waveform))
    frames = int(num_video_frames) * MEL_FRAMES_PER_VIDEO_FRAME
    return {"mel": mel[:frames], "linear": linear[:frames]}
