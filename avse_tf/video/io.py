"""Decode and encode video with ffmpeg (chosen by ``AVSE_FFMPEG``: PATH or imageio-ffmpeg's build).

ffmpeg rather than OpenCV's VideoCapture: the same decoder on every machine, GRID's MPEG-1
``.mpg`` included, and the same binary muxes audio when writing.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from avse_tf.constants import FPS, SAMPLE_RATE
from avse_tf.errors import VideoReadError
from avse_tf.media.ffmpeg import last_line, media_info, passthrough_frames, run_ffmpeg, run_ffmpeg_on_input
from avse_tf.validation import check_frame_count


def _check_file(path: str) -> None:
    if not os.path.exists(path):
        raise VideoReadError(f"video file not found: {path}; check the path")
    if os.path.getsize(path) == 0:
        raise VideoReadError(f"video file is empty (0 bytes): {path}; re-create or re-download it")


def probe(path) -> dict:
    """Width, height, fps and duration of the first video stream (ffmpeg's own header parse)."""
    path = os.fspath(path)
    _check_file(path)
    return _video_fields(path, media_info(path))


def _video_fields(path: str, info) -> dict:
    if info is None or not info.has_video or not info.width:
        reason = "no video stream" if info is not None else "ffmpeg cannot open it"
        raise VideoReadError(f"cannot decode video {path}: {reason}; the file is corrupt or not a video")
    return {"width": info.width, "height": info.height, "fps": info.fps or 25.0, "duration": info.duration}


def read_video(path, grayscale: bool = False, fps: float | None = None):
    """All frames of ``path`` as uint8 ``[T, H, W, 3]`` RGB (or ``[T, H, W]`` gray), and the fps.

    ``fps``: resample to that rate on decoding (ffmpeg's ``fps`` filter: for each output instant the
    frame shown then, duplicating or dropping frames) and return it; None keeps every decoded frame.
    """
    path = os.fspath(path)
    _check_file(path)
    pixel_format = "gray" if grayscale else "rgb24"
    timing = ["-vf", f"fps={float(fps):g}"] if fps else passthrough_frames()
    result, header, errors = run_ffmpeg_on_input(path, ["-map", "0:v:0", *timing, "-f", "rawvideo",
                                                        "-pix_fmt", pixel_format, "-"])
    info = _video_fields(path, header)
    channels = 1 if grayscale else 3
    frame_bytes = info["width"] * info["height"] * channels
    if result.returncode != 0 or len(result.stdout) < frame_bytes:
        raise VideoReadError(f"cannot decode video {path}: {last_line(errors, 'no frames')}; "
                             "the file is corrupt or not a video")
    count = len(result.stdout) // frame_bytes
    check_frame_count(count, info["duration"], fps or info["fps"], path)
    frames = np.frombuffer(result.stdout[: count * frame_bytes], np.uint8)
    shape = (count, info["height"], info["width"]) + (() if grayscale else (3,))
    return frames.reshape(shape), float(fps) if fps else info["fps"]


def write_video(path, frames, fps: float = FPS, audio=None, sample_rate: int = SAMPLE_RATE,
                bitexact: bool = True) -> None:
    """Encode ``[T, H, W, 3]`` uint8 RGB frames (and optional mono float audio) atomically.

    ``.mpg``: MPEG-1 video + MP2 audio (GRID's format); ``.mp4``: H.264 + AAC, yuv420p so every
    player opens it. ``bitexact`` keeps the bytes identical for identical input (single thread,
    no encoder version tags).
    """
    from avse_tf.audio.io import write_audio
    from avse_tf.utils import atomic_path

    frames = np.ascontiguousarray(frames, dtype=np.uint8)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be [T, H, W, 3] uint8, got {frames.shape}")
    count, height, width, _ = frames.shape
    extension = os.path.splitext(os.fspath(path))[1].lower()
    if extension in (".mpg", ".mpeg"):
        video_codec, audio_codec, container = ["-c:v", "mpeg1video", "-q:v", "3"], ["-c:a", "mp2", "-b:a", "128k"], "mpeg"
    else:
        video_codec = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p"]
        audio_codec, container = ["-c:a", "aac", "-b:a", "96k"], "mp4"
    exact = ["-threads", "1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact"] if bitexact else []
    with atomic_path(path) as temporary, tempfile.TemporaryDirectory() as scratch:
        audio_file = os.path.join(scratch, "audio.wav")
        # -xerror: ffmpeg exits 0 after failing to write (a full disk), leaving a truncated file.
        command = ["-v", "error", "-xerror", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "-"]
        if audio is not None:
            write_audio(audio_file, audio, sample_rate)
            command += ["-i", audio_file] + audio_codec
        command += video_codec + exact + ["-f", container, temporary]
        result = run_ffmpeg(command, stdin=frames.tobytes())
        if result.returncode != 0:
            raise RuntimeError(f"ffmpeg failed writing {path}: {result.stderr.decode(errors='replace').strip()}")
