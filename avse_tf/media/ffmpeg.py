"""Which ffmpeg runs, and what it says about a media file's streams.

One setting chooses the binary for every read and write: ``AVSE_FFMPEG``

* unset, empty or ``auto``: the ``ffmpeg`` on PATH if there is one, else imageio-ffmpeg's bundled
  build (so ``pip install .`` works with no system package);
* ``bundled``: imageio-ffmpeg's build, whatever is on PATH;
* ``system``: the ``ffmpeg`` on PATH (an error if there is none);
* anything else: the path of an ffmpeg executable.

Results do not depend on the choice: builds differ in how they honour an MP4 edit list and where an
MPEG-PS audio stream starts, so the readers (``avse_tf.audio.io``, ``avse_tf.video.io``) take the
sample count from the container itself (:mod:`avse_tf.media.mp4`) and align the audio to the first
video frame from the decoded timestamps (:func:`stream_starts`), instead of trusting one build.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import shutil
import subprocess

from avse_tf.errors import FFmpegError

ENVIRONMENT_VARIABLE = "AVSE_FFMPEG"


def _bundled() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_executable() -> str:
    """The ffmpeg binary chosen by ``AVSE_FFMPEG`` (see the module docstring)."""
    choice = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if choice in ("", "auto"):
        return shutil.which("ffmpeg") or _bundled()
    if choice == "bundled":
        return _bundled()
    if choice == "system":
        on_path = shutil.which("ffmpeg")
        if not on_path:
            raise FFmpegError(f"{ENVIRONMENT_VARIABLE}=system but there is no ffmpeg on PATH; install your "
                              f"distribution's ffmpeg, or set {ENVIRONMENT_VARIABLE}=bundled")
        return on_path
    path = os.path.expanduser(choice)
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    raise FFmpegError(f"{ENVIRONMENT_VARIABLE}={choice} is not an executable file; give the path of an ffmpeg "
                      "binary, or one of auto, bundled, system")


def run_ffmpeg(arguments, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """Run the chosen ffmpeg with ``arguments`` (no ``-nostdin`` needed), capturing both outputs."""
    command = [ffmpeg_executable(), "-hide_banner"] + list(arguments)
    if stdin is None:
        command.insert(2, "-nostdin")
    return subprocess.run(command, input=stdin, capture_output=True, check=False)


@functools.lru_cache(maxsize=None)
def _passthrough_option(executable: str) -> tuple[str, ...]:
    # -fps_mode came with ffmpeg 5.1 and -vsync went in 7.0; Ubuntu 22.04 still ships 4.4.
    probe = subprocess.run([executable, "-hide_banner", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                            "nullsrc=s=16x16:d=0.04", "-fps_mode", "passthrough", "-f", "null", "-"],
                           capture_output=True, check=False)
    return ("-fps_mode", "passthrough") if probe.returncode == 0 else ("-vsync", "passthrough")


def passthrough_frames() -> list[str]:
    """Output options that emit every decoded frame once: by default ffmpeg's constant-rate output
    duplicates or drops frames around timestamp gaps (an MPEG-1 file of 41 frames read as 42)."""
    return list(_passthrough_option(ffmpeg_executable()))


def last_line(stderr: bytes, default: str) -> str:
    lines = stderr.decode(errors="replace").strip().splitlines()
    return lines[-1].strip() if lines else default


@dataclasses.dataclass(frozen=True)
class MediaInfo:
    """What ffmpeg's header parse says of the first video and first audio stream."""

    has_video: bool
    has_audio: bool
    width: int = 0
    height: int = 0
    fps: float = 0.0
    audio_rate: int = 0
    duration: float = 0.0


_STREAM = re.compile(r"^\s*Stream #0:\d+\S*: (Video|Audio): (.*)$", re.M)


def media_info(path: str) -> MediaInfo | None:
    """Streams of ``path`` from ffmpeg's header parse; ``None`` when ffmpeg cannot open it."""
    result = run_ffmpeg(["-i", path])  # exits 1 ("no output file"); the header is on stderr
    return parse_media_info(result.stderr.decode(errors="replace"))


# "-v level+info" prefixes each line with its level, after the component's "[name @ 0x...] " if any
_LEVEL = re.compile(r"^(?:\[[^\]]*\] )?\[(trace|debug|verbose|info|warning|error|fatal|panic)\] ?")


def run_ffmpeg_on_input(path: str,
                        output_arguments) -> tuple[subprocess.CompletedProcess, MediaInfo | None, bytes]:
    """One ffmpeg run reading ``path`` into ``output_arguments``, with the input's header parse.

    Saves :func:`media_info`'s separate run: a distribution's ffmpeg takes 0.06 s (idle machine) to
    0.3 s (busy) just to start, comparable to decoding a GRID clip. Returns the process result, the
    :class:`MediaInfo` of the input (None if ffmpeg cannot open it) and the error lines alone (what
    ``-v error`` would print).
    """
    result = run_ffmpeg(["-v", "level+info", "-nostats", "-i", path, *output_arguments])
    header, errors, in_header = [], [], True
    for line in result.stderr.decode(errors="replace").splitlines():
        level = _LEVEL.match(line)
        body = line[level.end():] if level else line
        if body.startswith(("Stream mapping:", "Output #")):
            in_header = False  # the output's streams follow: not the input's
        if in_header:
            header.append(body)
        if level and level.group(1) in ("error", "fatal", "panic"):
            errors.append(body)
    return result, parse_media_info("\n".join(header)), "\n".join(errors).encode()


def parse_media_info(text: str) -> MediaInfo | None:
    """:class:`MediaInfo` from ffmpeg's header text (``Input #0 ...``); None without any stream."""
    streams = _STREAM.findall(text)
    if not streams:
        return None
    video = next((details for kind, details in streams if kind == "Video"), None)
    audio = next((details for kind, details in streams if kind == "Audio"), None)
    fields = {"has_video": video is not None, "has_audio": audio is not None}
    if video is not None:
        size = re.search(r"\b(\d{1,5})x(\d{1,5})\b", video)
        rate = re.search(r"([\d.]+)(k?) fps", video) or re.search(r"([\d.]+)(k?) tbr", video)
        if size:
            fields.update(width=int(size.group(1)), height=int(size.group(2)))
        if rate:
            fields["fps"] = float(rate.group(1)) * (1000 if rate.group(2) else 1)
    if audio is not None:
        hertz = re.search(r"(\d+) Hz", audio)
        fields["audio_rate"] = int(hertz.group(1)) if hertz else 0
    duration = re.search(r"Duration: (\d+):(\d+):([\d.]+)", text)
    if duration:
        hours, minutes, seconds = duration.groups()
        fields["duration"] = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return MediaInfo(**fields)


_FIRST_PTS = re.compile(r"Parsed_(a?)showinfo_\d+ @ \S+\] n:\s*0 pts:\s*-?\d+\s+pts_time:(-?[\d.e+-]+)")


def stream_starts(path: str) -> tuple[float, float] | None:
    """Presentation times (s) of the first decoded video frame and the first decoded audio sample.

    An MPEG-1/2 program stream stores the MP2 encoder's delay as an earlier audio start (481 samples
    at 16 kHz for ffmpeg's encoder): decoded audio sample 0 plays that long before the first video
    frame. Every build reports the same times, so aligning on them gives the same audio everywhere.
    ``None`` if ffmpeg does not report both.
    """
    starts = []
    # One stream per call (two filter graphs in one call log from two threads, and their lines
    # interleave); -copyts keeps the file's own timestamps, which a one-stream call would rebase.
    for stream, filters in (("0:v:0", ["-vf", "trim=end_frame=1,showinfo"]),
                            ("0:a:0", ["-af", "atrim=end_sample=1,ashowinfo"])):
        result = run_ffmpeg(["-copyts", "-i", path, "-map", stream, *filters, "-f", "null", "-"])
        found = _FIRST_PTS.search(result.stderr.decode(errors="replace"))
        if result.returncode != 0 or not found:
            return None
        starts.append(float(found.group(2)))
    return starts[0], starts[1]
