"""``avse denoising inference``: the seed's ``inference.py`` with its length bugs fixed.

Any audio or video file (its sound track; 16 kHz mono) of any length: the waveform is zero-padded
to ``16000 + k 12800`` samples (at least one 1 s window), cut into 1 s windows every 12800 samples
(the original's ``wav_step_overlap`` of 3200), each window denoised with the student's lips of its
25 video frames (:func:`denoise`), the windows' waveforms cross-faded linearly over their 3200
overlapping samples, and the result cut to the input's own length. The original drops inputs under
about 1.08 s and the tail after its last whole window; here every sample comes back.

A video input gives ``<results_dir>/result.mp4``: its frames (at their own rate) with the denoised
audio, both starting at 0, so in sync; an audio input gives ``<results_dir>/result.wav``.
"""

from __future__ import annotations

import os

import numpy as np

from avse_tf.constants import SAMPLE_RATE
from avse_tf.errors import AudioReadError, UserInputError
from avse_tf.systems.pseudo_visual.denoiser_data import WINDOW_FRAMES
from avse_tf.systems.pseudo_visual.features import SAMPLES_PER_VIDEO_FRAME

WINDOW_SAMPLES = WINDOW_FRAMES * SAMPLES_PER_VIDEO_FRAME  # 16000: 1 s
OVERLAP_SAMPLES = 3200  # the original's wav_step_overlap
HOP_SAMPLES = WINDOW_SAMPLES - OVERLAP_SAMPLES  # 12800: 20 video frames


def window_count(num_samples: int) -> int:
    """1 s windows every 12800 samples needed to cover ``num_samples`` (at least one)."""
    return 1 + max(0, -(-(int(num_samples) - WINDOW_SAMPLES) // HOP_SAMPLES))


def _crossfade_weights() -> np.ndarray:
    ramp = (np.arange(OVERLAP_SAMPLES, dtype=np.float32) + 0.5) / OVERLAP_SAMPLES
    weights = np.ones(WINDOW_SAMPLES, np.float32)
    weights[:OVERLAP_SAMPLES], weights[-OVERLAP_SAMPLES:] = ramp, ramp[::-1]
    return weights


def denoise(model, waveform, batch_size=16, lips=None) -> np.ndarray:
    """The denoised waveform, exactly as long as ``waveform`` (module doc). ``model``: a
    :class:`~.denoiser_training.DenoiserTraining` (its visual stream: the student's lips, or zeros
    for the audio-only denoiser). ``lips``: lower faces ``[F, 48, 96, 3]`` in [0, 1], one per video
    frame of the input, replace that stream (the real-lips denoiser needs them; the evaluation also
    gives the pseudo-lip one the teacher's lips from clean speech); frames past ``F`` repeat the last."""
    import tensorflow as tf

    from avse_tf.systems.pseudo_visual.denoiser_data import features_to_waveform, stft_features
    from avse_tf.systems.pseudo_visual.lipsync import speech_mel_windows

    waveform = np.asarray(waveform, np.float32).ravel()
    if waveform.size == 0 or not np.all(np.isfinite(waveform)):
        raise AudioReadError("the audio is empty or holds NaN or infinite samples; give a file with speech")
    if model.visual == "real" and lips is None:
        raise UserInputError("this denoiser was trained on real lips (--visual real); inference runs the pseudo-lip "
                             "or the audio-only denoiser")
    count = window_count(waveform.size)
    padded = np.zeros(WINDOW_SAMPLES + (count - 1) * HOP_SAMPLES, np.float32)
    padded[:waveform.size] = waveform
    starts = np.arange(count) * HOP_SAMPLES
    segments = np.stack([padded[start:start + WINDOW_SAMPLES] for start in starts])
    frame_index = (starts // SAMPLES_PER_VIDEO_FRAME)[:, None] + np.arange(WINDOW_FRAMES)[None, :]
    if lips is None:
        mel_windows = speech_mel_windows(padded)  # the student's windows over the whole input
    else:
        lips = np.asarray(lips, np.float32)
        lips = lips[np.minimum(np.arange(frame_index.max() + 1), len(lips) - 1)]
    enhanced = []
    for first in range(0, count, int(batch_size)):
        stft = stft_features(segments[first:first + batch_size])
        if lips is None:
            batch = {"noisy_stft": stft, "noisy_mels": tf.constant(mel_windows[frame_index[first:first + batch_size]])}
            features = model(batch, training=False)
        else:
            features = model.denoiser({"stft": stft, "lips": tf.constant(lips[frame_index[first:first + batch_size]])},
                                      training=False)
        enhanced.append(features_to_waveform(features, WINDOW_SAMPLES).numpy())
    enhanced = np.concatenate(enhanced)
    weights = _crossfade_weights()
    total = np.zeros_like(padded)
    norm = np.zeros_like(padded)
    for start, piece in zip(starts, enhanced):
        edge = weights.copy()
        if start == 0:
            edge[:OVERLAP_SAMPLES] = 1.0  # nothing to fade against at the ends
        if start == starts[-1]:
            edge[-OVERLAP_SAMPLES:] = 1.0
        total[start:start + WINDOW_SAMPLES] += edge * piece
        norm[start:start + WINDOW_SAMPLES] += edge
    return (total / norm)[:waveform.size].astype(np.float32)


def inference(student_checkpoint, checkpoint_path, input_path, results_dir="results", batch_size=16) -> dict:
    """Denoise ``input_path`` (module doc); returns the output path, samples and windows. The student:
    ``student_checkpoint`` (the seed's ``--lipsync_student_model_path``) replaces the one saved in
    the denoiser checkpoint when given."""
    from avse_tf.audio.io import load_audio, write_audio
    from avse_tf.media.ffmpeg import media_info
    from avse_tf.systems.pseudo_visual.train_denoiser import load_denoising
    from avse_tf.systems.pseudo_visual.train_student import load_student

    if int(batch_size) < 1:
        raise UserInputError(f"--batch_size must be at least 1, got {batch_size}")
    from avse_tf.systems.pseudo_visual.denoiser_training import DenoiserTraining

    model = load_denoising(checkpoint_path)
    if student_checkpoint and model.visual == "pseudo":
        model = DenoiserTraining(model.denoiser, load_student(student_checkpoint, "--lipsync_student_model_path"),
                                 model.visual)
    waveform = load_audio(input_path, SAMPLE_RATE)
    try:
        enhanced = denoise(model, waveform, batch_size)
    except AudioReadError as error:
        raise AudioReadError(f"--input {input_path}: {error}") from None
    os.makedirs(results_dir, exist_ok=True)
    info = media_info(os.fspath(input_path))
    if info is not None and info.has_video and info.width:
        from avse_tf.video.io import read_video, write_video

        frames, fps = read_video(input_path)
        output = os.path.join(results_dir, "result.mp4")
        write_video(output, frames, fps=fps, audio=enhanced, sample_rate=SAMPLE_RATE)
    else:
        output = os.path.join(results_dir, "result.wav")
        write_audio(output, enhanced, SAMPLE_RATE)
    return {"output": output, "samples": int(enhanced.size), "windows": window_count(enhanced.size)}


__all__ = ["inference", "denoise", "window_count", "WINDOW_SAMPLES", "HOP_SAMPLES", "OVERLAP_SAMPLES"]
