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


def denoise_tensor(model, waveform, lips=None, batch_size=None):
    """:func:`denoise` in TensorFlow ops, ``[S]`` -> ``[S]`` float32 (no input checks): what the
    SavedModel export runs as one graph. ``batch_size`` (eager only): windows per model call."""
    import tensorflow as tf

    from avse_tf.systems.pseudo_visual.denoiser_data import features_to_waveform, stft_features
    from avse_tf.systems.pseudo_visual.features import MEL_STEP, wav2lip_mel_tf, window_starts_tf

    waveform = tf.reshape(tf.cast(waveform, tf.float32), [-1])
    num_samples = tf.shape(waveform)[0]
    count = 1 + tf.maximum(0, (num_samples - WINDOW_SAMPLES + HOP_SAMPLES - 1) // HOP_SAMPLES)
    total = WINDOW_SAMPLES + (count - 1) * HOP_SAMPLES
    padded = tf.pad(waveform, [[0, total - num_samples]])
    segments = tf.signal.frame(padded, WINDOW_SAMPLES, HOP_SAMPLES)  # [count, 16000]
    frame_index = (tf.range(count) * (HOP_SAMPLES // SAMPLES_PER_VIDEO_FRAME))[:, None] + tf.range(WINDOW_FRAMES)
    if lips is None:  # the student's mel windows over the whole (padded) input: >= 1 s, so >= 16 mel frames
        mel = wav2lip_mel_tf(padded)
        starts = window_starts_tf(tf.range(total // SAMPLES_PER_VIDEO_FRAME), tf.shape(mel)[0])
        visual = tf.gather(tf.gather(mel, starts[:, None] + tf.range(MEL_STEP)), frame_index)
    else:
        lips = tf.cast(lips, tf.float32)
        visual = tf.gather(lips, tf.minimum(frame_index, tf.shape(lips)[0] - 1))
    stft = stft_features(segments)

    def run(first, last):
        if lips is None:
            features = model({"noisy_stft": stft[first:last], "noisy_mels": visual[first:last]}, training=False)
        else:
            features = model.denoiser({"stft": stft[first:last], "lips": visual[first:last]}, training=False)
        return features_to_waveform(features, WINDOW_SAMPLES)

    if batch_size is None:
        pieces = run(0, count)
    else:
        pieces = tf.concat([run(first, first + int(batch_size)) for first in range(0, int(count), int(batch_size))], 0)
    # Cross-fade: each sample is the weighted mean of the windows covering it (a sample only one
    # window covers, at either end, is that window's own sample whatever its weight).
    weights = tf.constant(_crossfade_weights())
    summed = tf.signal.overlap_and_add(pieces * weights, HOP_SAMPLES)
    norm = tf.signal.overlap_and_add(tf.tile(weights[None], [count, 1]), HOP_SAMPLES)
    return (summed / norm)[:num_samples]


def checked_waveform(waveform) -> np.ndarray:
    """``waveform`` as 1-D float32; empty or non-finite audio is a one-line :class:`AudioReadError`."""
    waveform = np.asarray(waveform, np.float32).ravel()
    if waveform.size == 0 or not np.all(np.isfinite(waveform)):
        raise AudioReadError("the audio is empty or holds NaN or infinite samples; give a file with speech")
    return waveform


def denoise(model, waveform, batch_size=16, lips=None) -> np.ndarray:
    """The denoised waveform, exactly as long as ``waveform`` (module doc). ``model``: a
    :class:`~.denoiser_training.DenoiserTraining` (its visual stream: the student's lips, or zeros
    for the audio-only denoiser). ``lips``: lower faces ``[F, 48, 96, 3]`` in [0, 1], one per video
    frame of the input, replace that stream (the real-lips denoiser needs them; the evaluation also
    gives the pseudo-lip one the teacher's lips from clean speech); frames past ``F`` repeat the last."""
    waveform = checked_waveform(waveform)
    if model.visual == "real" and lips is None:
        raise UserInputError("this denoiser was trained on real lips (--visual real); inference runs the pseudo-lip "
                             "or the audio-only denoiser")
    if int(batch_size) < 1:
        raise UserInputError(f"--batch_size must be at least 1, got {batch_size}")
    return np.asarray(denoise_tensor(model, waveform, lips, batch_size), np.float32)


def write_result(input_path, enhanced, destination) -> str:
    """The denoised audio of ``input_path``: a video input gives an mp4 (its frames at their own
    rate, the audio from 0: in sync), an audio input a wav. ``destination``: a folder (``result.mp4``
    / ``result.wav`` in it) or an ``.mp4`` / ``.wav`` path. Returns the path written."""
    from avse_tf.audio.io import write_audio
    from avse_tf.media.ffmpeg import media_info

    info = media_info(os.fspath(input_path))
    is_video = info is not None and info.has_video and info.width
    destination = os.fspath(destination)
    if not destination.lower().endswith((".mp4", ".wav")):
        destination = os.path.join(destination, "result.mp4" if is_video else "result.wav")
    if is_video and destination.lower().endswith(".mp4"):
        from avse_tf.video.io import read_video, write_video

        frames, fps = read_video(input_path)
        write_video(destination, frames, fps=fps, audio=enhanced, sample_rate=SAMPLE_RATE)
    else:
        write_audio(destination, enhanced, SAMPLE_RATE)
    return destination


def inference(student_checkpoint, checkpoint_path, input_path, results_dir="results", batch_size=16) -> dict:
    """Denoise ``input_path`` (module doc); returns the output path, samples and windows. The student:
    ``student_checkpoint`` (the seed's ``--lipsync_student_model_path``) replaces the one saved in
    the denoiser checkpoint when given."""
    from avse_tf.audio.io import load_audio
    from avse_tf.systems.pseudo_visual.denoiser_training import DenoiserTraining
    from avse_tf.systems.pseudo_visual.train_denoiser import load_denoising
    from avse_tf.systems.pseudo_visual.train_student import load_student

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
    output = write_result(input_path, enhanced, results_dir)
    return {"output": output, "samples": int(enhanced.size), "windows": window_count(enhanced.size)}


__all__ = ["inference", "write_result", "denoise", "checked_waveform", "denoise_tensor", "window_count", "WINDOW_SAMPLES", "HOP_SAMPLES",
           "OVERLAP_SAMPLES"]
