"""Read any audio file (or a video's sound track) as mono float32 at a requested rate.

wav / flac / ogg / mp3 go through libsndfile (soundfile); anything libsndfile cannot open (video
containers, m4a, ...) is decoded by ffmpeg, chosen by ``AVSE_FFMPEG`` (:mod:`avse_tf.media`): the one
on PATH, or the binary that imageio-ffmpeg ships, so no system package is needed; the samples are the
same with either. Resampling is libsoxr's "HQ" recipe (:func:`resample`).
"""

from __future__ import annotations

import io
import math
import os
from fractions import Fraction

import numpy as np
import soundfile

from avse_tf.constants import SAMPLE_RATE
from avse_tf.errors import AudioReadError
from avse_tf.media.ffmpeg import last_line
from avse_tf.validation import require_finite

VIDEO_EXTENSIONS = (".mpg", ".mpeg", ".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4a", ".aac")


def resample(waveform: np.ndarray, source_rate: float, target_rate: float) -> np.ndarray:
    """``waveform`` resampled along the last axis as float32; a no-op when the rates match.

    libsoxr's "HQ" recipe (python-soxr), which is what ``librosa.resample`` runs by default
    (``res_type="soxr_hq"``; the tests check the two agree), called directly so that reading a
    file does not import librosa's numba stack (about 1 s). Flat to 0.9 x the new Nyquist and
    aliasing below -130 dB, where scipy's ``resample_poly`` (used before) let tones just past
    Nyquist fold back at -8 to -23 dB. Linear phase, no delay. The length is
    ``ceil(n * target / source)`` as ``resample_poly`` and librosa give (soxr itself rounds).
    """
    if float(source_rate) == float(target_rate):
        return waveform
    import soxr

    waveform = np.asarray(waveform)
    dtype = np.float64 if waveform.dtype == np.float64 else np.float32
    frames = np.ascontiguousarray(waveform.reshape(-1, waveform.shape[-1]).T, dtype=dtype)  # soxr: [time, channel]
    output = soxr.resample(frames, float(source_rate), float(target_rate), "HQ").T
    ratio = Fraction(target_rate).limit_denominator(10**6) / Fraction(source_rate).limit_denominator(10**6)
    length = -(-waveform.shape[-1] * ratio.numerator // ratio.denominator)
    output = output[:, :length]
    if output.shape[1] < length:
        output = np.pad(output, [(0, 0), (0, length - output.shape[1])])
    return output.reshape(*waveform.shape[:-1], length).astype(np.float32)


def _decode_with_ffmpeg(path: str, sample_rate: int) -> np.ndarray:
    """Decode the first audio stream, trimmed to the container's declared length and, in a video,
    aligned so that sample 0 plays with the first frame: the same samples from any ffmpeg build."""
    from avse_tf.media import audio_sample_count, stream_starts
    from avse_tf.media.ffmpeg import run_ffmpeg_on_input

    result, info, errors = run_ffmpeg_on_input(path, ["-map", "0:a:0", "-ac", "1", "-ar", str(int(sample_rate)),
                                                      "-f", "f32le", "-"])
    if info is None or not info.has_audio:
        reason = "no audio stream" if info is not None else "ffmpeg cannot open it"
        raise AudioReadError(
            f"cannot read audio from {path}: {reason}; give a wav/flac/ogg/mp3 file or a video with a sound track"
        )
    if result.returncode != 0 or not result.stdout:
        raise AudioReadError(
            f"cannot read audio from {path}: {last_line(errors, 'no audio decoded')}; "
            "give a wav/flac/ogg/mp3 file or a video with a sound track"
        )
    waveform = np.frombuffer(result.stdout, dtype="<f4").astype(np.float32)
    declared = audio_sample_count(path)
    if declared is not None:  # an MP4 edit list: drop the AAC padding a build did not
        count, rate = declared
        waveform = waveform[: round(count * sample_rate / rate)]
    starts = stream_starts(path) if info.has_video else None
    if starts is not None:
        shift = round(float(starts[0] - starts[1]) * sample_rate)
        waveform = waveform[shift:] if shift >= 0 else np.concatenate([np.zeros(-shift, np.float32), waveform])
    return waveform


def _wav_shortfall(path: str) -> int:
    """Bytes missing from a RIFF/WAVE file's data chunk (0 when complete or not a wav).

    libsndfile quietly reads a truncated wav as a shorter one; a truncated download must be
    reported instead, so the declared data-chunk size is checked against the file size.
    """
    import struct

    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        header = handle.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return 0
        position = 12
        while position + 8 <= size:
            handle.seek(position)
            chunk_id, chunk_size = struct.unpack("<4sI", handle.read(8))
            if chunk_id == b"data":
                if chunk_size in (0, 0xFFFFFFFF):  # streamed wav: size left unknown on purpose
                    return 0
                return max(0, position + 8 + chunk_size - size)
            position += 8 + chunk_size + (chunk_size & 1)
    return 0


def load_audio(path: str | os.PathLike, sample_rate: int | None = SAMPLE_RATE) -> np.ndarray:
    """Read ``path`` as a mono float32 waveform at ``sample_rate`` (None keeps the file's rate).

    Multi-channel audio is averaged to mono. Raises :class:`AudioReadError` with the file name for
    a missing, empty, truncated or undecodable file.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise AudioReadError(f"audio file not found: {path}; check the path")
    if os.path.getsize(path) == 0:
        raise AudioReadError(f"audio file is empty (0 bytes): {path}; re-create or re-download it")
    if path.lower().endswith(VIDEO_EXTENSIONS):
        if sample_rate is None:
            sample_rate = SAMPLE_RATE
        return _decode_with_ffmpeg(path, sample_rate)
    try:
        info = soundfile.info(path)
        waveform, file_rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as error:
        # Not a format libsndfile knows: ffmpeg may still decode it.
        try:
            return _decode_with_ffmpeg(path, sample_rate or SAMPLE_RATE)
        except AudioReadError:
            raise AudioReadError(
                f"cannot read audio file {path}: {error}; the file is corrupt or not audio"
            ) from None
    if waveform.shape[0] == 0:
        raise AudioReadError(f"audio file has no samples: {path}; re-create it")
    missing = _wav_shortfall(path) if info.format == "WAV" else 0
    if missing:
        raise AudioReadError(
            f"audio file is truncated: {path} lacks {missing} bytes of the data its header announces; "
            "re-create or re-download it"
        )
    mono = waveform.mean(axis=1).astype(np.float32)
    # A float wav can hold NaN / Inf, which every later step would spread over the whole clip.
    require_finite(mono, f"audio file {path}", "re-create it (a float wav holds NaN or Inf samples)",
                   axes=("sample",))
    if sample_rate is None:
        return mono
    return resample(mono, file_rate, sample_rate)


def write_audio(path: str | os.PathLike, waveform: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write a mono float waveform as 16-bit PCM wav, atomically (temp file + rename).

    Values are clipped to [-1, 1): the same clipping a 16-bit file would apply, made explicit.
    """
    from avse_tf.utils import atomic_path

    waveform = np.clip(np.asarray(waveform, dtype=np.float32), -1.0, 1.0 - 1.0 / 32768)
    file_format = os.path.splitext(os.fspath(path))[1].lstrip(".").upper() or "WAV"
    buffer = io.BytesIO()  # encoded in memory: libsndfile reports a full disk as a bare "System error."
    soundfile.write(buffer, waveform, int(sample_rate), subtype="PCM_16", format=file_format)
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        handle.write(buffer.getbuffer())


def duration_frames(num_samples: int, sample_rate: int, fps: float) -> int:
    """Number of video frames at ``fps`` that cover ``num_samples`` audio samples."""
    return math.ceil(num_samples * fps / sample_rate - 1e-9)
