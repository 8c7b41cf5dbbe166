"""``avse denoising lipsync``: lips from (noisy) speech alone, the seed's ``lipsync/inference.py``.

Any audio or video file (its sound track) -> 16 kHz mono -> Wav2Lip mel -> one 16-frame window per
25 fps video frame (:func:`features.mel_windows`, the original's ``int(80 t / fps)`` starts, the
last window clamped to the end) -> the student -> ``[T, 48, 96, 3]`` lower faces. The video has
``ceil(samples / 640)`` frames, so it covers the whole input (the original's loop makes one frame
more than the audio has when the length is a multiple of 640, and its AVI is re-muxed with the
audio). Writes ``<results_dir>/<output_fname>_voice.mp4``: the lips with the input audio.
"""

from __future__ import annotations

import math
import os

import numpy as np

from avse_tf.constants import SAMPLE_RATE
from avse_tf.errors import AudioReadError, UserInputError
from avse_tf.systems.pseudo_visual.features import SAMPLES_PER_VIDEO_FRAME, mel_windows, wav2lip_mel


def speech_mel_windows(waveform) -> np.ndarray:
    """``[T, 16, 80]``: one mel window per 25 fps video frame of ``waveform`` (16 kHz)."""
    waveform = np.asarray(waveform, np.float32).ravel()
    if waveform.size == 0:
        raise AudioReadError("the audio is empty; give a file with speech")
    if not np.all(np.isfinite(waveform)):
        raise AudioReadError("the audio holds NaN or infinite samples; repair the file")
    frames = max(1, math.ceil(waveform.size / SAMPLES_PER_VIDEO_FRAME))
    return mel_windows(wav2lip_mel(waveform), frames)


def student_lips(student, mel_window_batch, batch_size=128) -> np.ndarray:
    """The student's lower faces ``[T, 48, 96, 3]`` float32 in [0, 1] for ``[T, 16, 80]`` windows."""
    windows = np.asarray(mel_window_batch, np.float32)
    outputs = [np.asarray(student(windows[start:start + batch_size], training=False))
               for start in range(0, len(windows), int(batch_size))]
    return np.concatenate(outputs).astype(np.float32)


def lipsync(checkpoint_path, audio, results_dir="results", output_fname="result", batch_size=128) -> dict:
    """Write ``<results_dir>/<output_fname>_voice.mp4`` (module doc); returns its path and frame count."""
    from avse_tf.audio.io import load_audio
    from avse_tf.systems.pseudo_visual.train_student import load_student
    from avse_tf.video.io import write_video

    if int(batch_size) < 1:
        raise UserInputError(f"--batch_size must be at least 1, got {batch_size}")
    waveform = load_audio(audio, SAMPLE_RATE)
    try:
        windows = speech_mel_windows(waveform)
    except AudioReadError as error:
        raise AudioReadError(f"--audio {audio}: {error}") from None
    student = load_student(checkpoint_path)
    lips = student_lips(student, windows, batch_size)
    os.makedirs(results_dir, exist_ok=True)
    output = os.path.join(results_dir, f"{output_fname}_voice.mp4")
    write_video(output, (lips * 255 + 0.5).astype(np.uint8), audio=waveform, sample_rate=SAMPLE_RATE)
    return {"video": output, "frames": int(len(lips)), "seconds": waveform.size / SAMPLE_RATE}


__all__ = ["lipsync", "speech_mel_windows", "student_lips"]
