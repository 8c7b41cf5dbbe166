"""Wav2Lip's mel features, as the pseudo-visual system's lip-sync models read them (fact sheet
shared/papers/pseudo_visual_denoising.md, "Audio hparams"; the original's ``audio/hparams.py`` and
``audio.py``, taken from Wav2Lip, itself from r9y9's deepvoice3).

Chain (``melspectrogram`` in the original), on the shared STFT and mel code:

1. 16 kHz waveform, pre-emphasis 0.97 (``lfilter([1, -0.97], [1], x)``);
2. magnitude STFT ``wav2lip`` (:data:`avse_tf.audio.stft.WAV2LIP`: periodic Hann 800, hop 200, FFT
   800, centred with reflected ends as librosa 0.7's ``stft``): ``1 + n // 200`` frames, 80 per second;
3. 80 Slaney mels 55-7600 Hz, area-normalised (``librosa.filters.mel``'s default);
4. ``20 log10(max(1e-5, mel)) - 20`` dB (``min_level_db`` -100 -> floor 1e-5, ``ref_level_db`` 20);
5. symmetric normalisation ``clip(8 (dB + 100) / 100 - 4, -4, 4)``: silence at -4.

Windows: video frame ``t`` (25 fps) reads the 16 mel frames (0.2 s) from ``int(80 t / 25)``, as
Wav2Lip's inference and its ``crop_audio_window`` (:func:`window_starts`). Ends: a window that would
run past the last mel frame starts at ``frames - 16`` instead (Wav2Lip's inference takes the last 16
mel frames for the tail, the same); a start before 0 (a negative ``offset``) is clamped to 0; a mel
shorter than 16 frames (a clip under 0.2 s) is padded at the end with -4 (silence) - Wav2Lip fails there.
Wav2Lip's *training* windows are one video frame earlier (``get_segmented_mels`` crops from ``t - 1``);
``offset=-1`` gives those; this library uses ``offset=0`` for training and inference alike so both agree.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from avse_tf.constants import FPS, SAMPLE_RATE

STFT = "wav2lip"
NUM_MELS = 80
MEL_FMIN, MEL_FMAX = 55.0, 7600.0
PRE_EMPHASIS = 0.97
MIN_LEVEL_DB, REF_LEVEL_DB = -100.0, 20.0
MAX_ABS_VALUE = 4.0  # symmetric normalisation to [-4, 4]
MEL_FRAMES_PER_SECOND = 80  # 16000 / 200
MEL_STEP = 16  # mel frames per video frame's window (0.2 s): Wav2Lip's syncnet_mel_step_size
SAMPLES_PER_VIDEO_FRAME = int(SAMPLE_RATE / FPS)  # 640
HOP = 200


def _stft_config(centred: bool):
    from avse_tf.audio.stft import WAV2LIP

    return WAV2LIP if centred else dataclasses.replace(WAV2LIP, name="wav2lip_uncentred", reflect_pad=0)


def wav2lip_mel_tf(waveform, centred: bool = True):
    """``[..., frames, 80]`` float32 mel in [-4, 4] of ``[..., samples]`` 16 kHz waveforms (module doc),
    in TensorFlow ops (usable inside ``tf.data``). ``centred=False``: no reflected ends, so frame ``m``
    reads samples ``[200 m, 200 m + 800)`` - a crop of a reflect-padded clip then gives exactly the
    clip's frames (the student's reader mixes noise into such crops)."""
    import tensorflow as tf

    from avse_tf.audio.features import mel_spectrogram, pre_emphasis
    from avse_tf.audio.stft import stft

    emphasised = pre_emphasis(waveform, PRE_EMPHASIS)
    magnitude = tf.abs(stft(emphasised, _stft_config(centred)))
    mel = mel_spectrogram(magnitude, SAMPLE_RATE, NUM_MELS, MEL_FMIN, MEL_FMAX)
    floor = 10.0 ** (MIN_LEVEL_DB / 20.0)  # 1e-5, the original's exp(min_level_db / 20 ln 10)
    decibels = 20.0 * tf.math.log(tf.maximum(mel, floor)) / np.log(10.0) - REF_LEVEL_DB
    scaled = 2 * MAX_ABS_VALUE * (decibels - MIN_LEVEL_DB) / -MIN_LEVEL_DB - MAX_ABS_VALUE
    return tf.clip_by_value(scaled, -MAX_ABS_VALUE, MAX_ABS_VALUE)


def wav2lip_mel(waveform) -> np.ndarray:
    """``[1 + samples // 200, 80]`` float32: the original's ``audio.melspectrogram(wav).T`` (module doc)."""
    from avse_tf.validation import require_finite

    waveform = require_finite(np.asarray(waveform, np.float32), "audio", axes=("sample",))
    return np.asarray(wav2lip_mel_tf(waveform), np.float32)


def window_starts(num_video_frames: int, num_mel_frames: int, offset: int = 0, fps: float = FPS) -> np.ndarray:
    """``[T]`` int: the first mel frame of each video frame's 16-frame window, ``int(80 (t + offset) / fps)``
    clamped to ``[0, max(0, num_mel_frames - 16)]`` (module doc: the ends)."""
    frames = np.arange(int(num_video_frames)) + int(offset)
    starts = np.floor(MEL_FRAMES_PER_SECOND * frames / float(fps) + 1e-9).astype(np.int64)
    return np.clip(starts, 0, max(0, int(num_mel_frames) - MEL_STEP))


def mel_windows(mel, num_video_frames: int, offset: int = 0) -> np.ndarray:
    """``[T, 16, 80]``: each video frame's mel window (:func:`window_starts`; a mel under 16 frames is
    padded with -4, silence)."""
    mel = np.asarray(mel, np.float32)
    if len(mel) < MEL_STEP:
        mel = np.pad(mel, ((0, MEL_STEP - len(mel)), (0, 0)), constant_values=-MAX_ABS_VALUE)
    starts = window_starts(num_video_frames, len(mel), offset)
    return np.stack([mel[start:start + MEL_STEP] for start in starts]) if len(starts) else \
        np.zeros((0, MEL_STEP, mel.shape[1]), np.float32)


def window_starts_tf(frames, num_mel_frames):
    """:func:`window_starts` (offset 0) in TensorFlow ops, for ``frames`` an int32 tensor of video frames."""
    import tensorflow as tf

    # Exact integer arithmetic: int(80 t / 25) = (16 t) // 5.
    starts = (MEL_FRAMES_PER_SECOND // 5 * frames) // (int(FPS) // 5)
    return tf.clip_by_value(starts, 0, tf.maximum(0, num_mel_frames - MEL_STEP))
