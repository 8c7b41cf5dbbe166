"""Corpus-level feature extraction shared by the systems (the seeds' ``*_preprocessing`` steps).

Every step walks speakers, writes one output per input atomically and skips outputs that exist,
so a killed run started again finishes the rest and loses nothing.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from avse_tf.constants import SAMPLE_RATE
from avse_tf.data import grid
from avse_tf.errors import UserInputError

log = logging.getLogger(__name__)


def resolve_speaker_folder(data_dir, speaker, subdir) -> str:
    """Folder holding one speaker's files for ``subdir``.

    The seeds use two layouts: GRID's ``<data_dir>/s<k>/<subdir>`` (audio, video) and the mixture
    sets' ``<data_dir>/<subdir>/s<k>`` (``mix/TRAINING_SET/s1``). Both are accepted, GRID's first.
    """
    name = grid.speaker_name(speaker)
    candidates = [os.path.join(data_dir, name, subdir), os.path.join(data_dir, subdir, name)]
    for candidate in candidates:
        if os.path.isdir(candidate):
            return candidate
    if not os.path.isdir(data_dir):
        raise UserInputError(f"data folder not found: {data_dir}; check --data_dir")
    raise UserInputError(f"unknown speaker {name}: neither {candidates[0]} nor {candidates[1]} exists; "
                         f"speakers in {data_dir}: {', '.join(grid.list_speakers(data_dir)) or 'none'}")


def output_folder(data_dir, speaker, source_folder, dest_dir, subdir) -> str:
    """Where one speaker's outputs go.

    None: beside the inputs (the seed keeps spectrogram .npy next to the wavs). An absolute
    ``dest_dir``: ``<dest_dir>/s<k>``. A relative one follows the input layout:
    ``<data_dir>/s<k>/<dest_dir>`` for GRID's, ``<data_dir>/<dest_dir>/s<k>`` for the mixtures'.
    """
    name = grid.speaker_name(speaker)
    if dest_dir is None:
        return source_folder
    if os.path.isabs(dest_dir):
        return os.path.join(dest_dir, name)
    if os.path.normpath(source_folder) == os.path.normpath(os.path.join(data_dir, name, subdir)):
        return os.path.join(data_dir, name, dest_dir)
    return os.path.join(data_dir, dest_dir, name)


def _fit_length(waveform, length, source):
    if length is None or waveform.size == length:
        return waveform
    log.warning("%s has %d samples, not %d: %s", source, waveform.size, length,
                "zero-padded" if waveform.size < length else "trimmed")
    if waveform.size < length:
        return np.pad(waveform, (0, length - waveform.size))
    return waveform[:length]


def compute_spectrograms(data_dir, speaker_ids, audio_dir="audio", dest_dir=None, sample_rate=SAMPLE_RATE,
                         max_wav_length=None, stft_config="morrone2019", feature="power_law",
                         show_progress=True) -> list:
    """Spectrogram features ``[frames, 257]`` of every wav, saved as ``<id>.npy`` (float32).

    ``feature``: ``power_law`` (|S|^0.3, Morrone 2019), ``log`` (log(|S| + 1e-6), Morrone 2021) or
    ``magnitude``. Clips are padded/trimmed to ``max_wav_length`` samples when given (warning).
    """
    from avse_tf.audio import features, stft
    from avse_tf.audio.io import load_audio
    from avse_tf.utils import atomic_save_npy, progress

    transforms = {"power_law": features.power_law, "log": features.log_magnitude, "magnitude": lambda m: m}
    if feature not in transforms:
        raise UserInputError(f"unknown spectrogram feature {feature!r}; choose one of {', '.join(transforms)}")
    jobs = []
    for speaker in speaker_ids:
        source = resolve_speaker_folder(data_dir, speaker, audio_dir)
        target = output_folder(data_dir, speaker, source, dest_dir, audio_dir)
        for name in sorted(os.listdir(source)):
            if name.lower().endswith((".wav", ".flac")) and not name.startswith("."):  # .tmp-*: a killed write
                jobs.append((os.path.join(source, name), os.path.join(target, os.path.splitext(name)[0] + ".npy")))
    if not jobs:
        raise UserInputError(f"no .wav files for speakers {' '.join(map(str, speaker_ids))} under {data_dir}")
    written = []
    for wav_path, npy_path in progress(jobs, "audio_preprocessing", disable=None if show_progress else True):
        if os.path.exists(npy_path):
            continue
        waveform = _fit_length(load_audio(wav_path, sample_rate), max_wav_length, wav_path)
        magnitude = np.abs(stft.stft(waveform, stft_config).numpy())
        atomic_save_npy(npy_path, np.asarray(transforms[feature](magnitude), np.float32))
        written.append(npy_path)
    return written


def extract_landmarks(data_dir, speaker_ids, video_dir="video", dest_dir="landmarks", shape_predictor=None,
                      ext="mpg", skip_bad=False, show_progress=True) -> list:
    """68-point landmarks of every ``*.<ext>`` video, saved as the original's ``<id>.txt`` (T x 136).

    A video without a face stops the run with its name (exit code 2 on the command line), or with
    ``skip_bad`` is reported and skipped.
    """
    from avse_tf.utils import progress
    from avse_tf.video.landmarks import LandmarkExtractor

    extension = "." + ext.lstrip(".")
    jobs = []
    for speaker in speaker_ids:
        source = resolve_speaker_folder(data_dir, speaker, video_dir)
        target = output_folder(data_dir, speaker, source, dest_dir, video_dir)
        for name in sorted(os.listdir(source)):
            if name.lower().endswith(extension.lower()) and not name.startswith("."):
                jobs.append((os.path.join(source, name), os.path.join(target, name[: -len(extension)] + ".txt")))
    if not jobs:
        raise UserInputError(f"no *{extension} videos for speakers {' '.join(map(str, speaker_ids))} under {data_dir}; "
                             "check --video_dir and --ext")
    extractor = LandmarkExtractor(shape_predictor)
    written = []
    for video_path, txt_path in progress(jobs, "video_preprocessing", disable=None if show_progress else True):
        if os.path.exists(txt_path):
            continue
        try:
            write_landmarks(extractor, video_path, txt_path)
        except UserInputError as error:
            if not skip_bad:
                raise
            log.warning("skipped: %s", error)
            continue
        written.append(txt_path)
    return written


def write_landmarks(extractor, video_path, txt_path, audio_path=None) -> int:
    """The landmarks of one video to ``txt_path`` (the original's T x 136 text, atomically); returns
    its frame count. The per-clip step of ``video_preprocessing`` and of ``avse preprocess enhancement``.

    With ``audio_path`` (the clip's wav), a video whose frames do not last as long as its audio (a
    truncated file decodes to fewer frames without any error) raises
    :class:`~avse_tf.errors.DurationMismatchError` before anything is written."""
    from avse_tf.video.landmarks import save_landmarks_txt

    track = extractor.extract_file(video_path)
    if audio_path is not None:
        from avse_tf.audio.io import load_audio
        from avse_tf.constants import FPS
        from avse_tf.validation import match_durations

        match_durations(load_audio(audio_path, SAMPLE_RATE), track.points, SAMPLE_RATE, FPS, "error",
                        os.fspath(audio_path), os.fspath(video_path), "or replace the video if it is truncated")
    save_landmarks_txt(txt_path, track.points)
    return len(track.points)
