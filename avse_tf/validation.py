"""Input checks shared by every system: what counts as bad input, and the one line that says so.

Each check either passes its input through, raises a typed :mod:`avse_tf.errors` exception (the
command line prints it as one line and exits 2), or warns with :class:`avse_tf.errors.InputWarning`
(printed as ``avse: warning: ...``) when the input is usable under a stated rule:

* :func:`require_finite` — NaN or Inf in audio, landmarks, features or records (a NaN landmark
  would otherwise flow through normalisation into a full-scale "enhanced" waveform);
* :func:`match_durations` — audio and video of one clip that differ by more than
  :data:`DURATION_TOLERANCE_FRAMES` video frames: an error, or the caller's explicit ``pad`` /
  ``trim`` policy, which warns with what it did;
* :func:`check_frame_count` — fewer frames decoded than the container's header announces
  (a truncated file);
* :func:`warn_several_faces` — frames where the detector saw more than one face; the landmark
  extractor follows the face of its first detection (:mod:`avse_tf.video.landmarks`);
* :func:`check_frame_rate` — a video at another rate than the 25 fps the models were trained on;
* :func:`check_single_face` — more than one face where one speaker is needed (lip-to-speech);
* :func:`check_face_found` — no face in any of the frames the detector looked at;
* :func:`check_sample_rate` — audio recorded below 16 kHz (upsampling cannot add the missing band).

Callers: audio and landmark readers (:mod:`avse_tf.audio.io`, :mod:`avse_tf.video.landmarks`),
video decoding (:mod:`avse_tf.video.io`), the record writer (every float feature of every
system's records) and reader, each system's pipeline and its Python API helpers, and the corpus
check (:mod:`avse_tf.data.corpora.check`, through :func:`problems_of`).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from avse_tf.constants import FPS, SAMPLE_RATE
from avse_tf.errors import (
    DurationMismatchError,
    FrameRateError,
    InputWarning,
    NoFaceError,
    NonFiniteError,
    SeveralFacesError,
    UserInputError,
)

# GRID's own clips differ by up to a frame (74- or 76-frame videos of 3 s wavs); more is a
# different recording or a cut file.
DURATION_TOLERANCE_FRAMES = 2
LENGTH_POLICIES = ("error", "pad", "trim")


def require_finite(values, what: str, remedy: str = "", axes=("frame", "column")) -> np.ndarray:
    """``values`` as an array if every float in it is finite; :class:`NonFiniteError` otherwise.

    ``what`` names the data and its file ("landmarks of face.txt"); the message gives the count and
    the first position (named by ``axes``).
    """
    array = np.asarray(values)
    if array.dtype.kind not in "fc":
        return array
    finite = np.isfinite(array)
    if finite.all():
        return array
    position = tuple(int(index) for index in np.argwhere(~finite)[0])
    value = array[position]
    kind = "NaN" if np.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    names = axes if len(axes) == len(position) else ("index",) * len(position)
    where = ", ".join(f"{name} {index}" for name, index in zip(names, position)) or "its only value"
    bad = int(array.size - finite.sum())
    raise NonFiniteError(f"{what} has {bad} non-finite value{'s' if bad > 1 else ''} (first: {kind} at {where})"
                         + (f"; {remedy}" if remedy else ""))


def _seconds(frames: float, fps: float) -> str:
    return f"{frames / fps:.2f} s"


PAD_OR_TRIM = "or choose --pad (extend the shorter) or --trim (cut the longer)"


def match_durations(waveform, landmarks, sample_rate: int, fps: float, policy: str = "error",
                    audio_source: str = "audio", video_source: str = "video", remedy: str = PAD_OR_TRIM):
    """Audio ``[samples]`` and per-frame video data ``[frames, ...]`` of one clip, made to agree.

    Within :data:`DURATION_TOLERANCE_FRAMES` they pass unchanged (the models resample the video to
    the spectrogram's frames). Beyond it, ``policy``: ``error`` raises
    :class:`DurationMismatchError`; ``trim`` cuts the longer one to the shorter; ``pad`` extends
    the shorter one (audio with silence, video by repeating its last frame). Both warn with what
    they did. Returns ``(waveform, landmarks)``. ``remedy`` ends the error message.
    """
    if policy not in LENGTH_POLICIES:
        raise UserInputError(f"unknown length policy {policy!r}; choose one of {', '.join(LENGTH_POLICIES)}")
    waveform = np.asarray(waveform)
    landmarks = np.asarray(landmarks)
    audio_frames = waveform.size / sample_rate * fps
    video_frames = len(landmarks)
    if abs(audio_frames - video_frames) <= DURATION_TOLERANCE_FRAMES:
        return waveform, landmarks
    audio_text = f"{audio_source} lasts {waveform.size / sample_rate:.2f} s"
    video_text = f"{video_source} has {video_frames} video frames ({_seconds(video_frames, fps)} at {fps:g} fps)"
    if policy == "error":
        raise DurationMismatchError(
            f"{audio_text} but {video_text}: they differ by more than {DURATION_TOLERANCE_FRAMES} frames; give "
            f"the audio and video of the same recording, {remedy}")
    audio_longer = audio_frames > video_frames
    if policy == "trim":
        if audio_longer:
            waveform = waveform[: round(video_frames / fps * sample_rate)]
            done = f"trimmed the audio to {_seconds(video_frames, fps)}"
        else:
            landmarks = landmarks[: max(1, math.ceil(audio_frames - 1e-9))]
            done = f"trimmed the video to {len(landmarks)} frames"
    elif audio_longer:
        extra = math.ceil(audio_frames - 1e-9) - video_frames
        landmarks = np.concatenate([landmarks, np.repeat(landmarks[-1:], extra, axis=0)])
        done = f"padded the video to {len(landmarks)} frames by repeating its last frame"
    else:
        missing = round(video_frames / fps * sample_rate) - waveform.size
        waveform = np.concatenate([waveform, np.zeros(missing, waveform.dtype)])
        done = f"padded the audio with {missing / sample_rate:.2f} s of silence"
    warnings.warn(InputWarning(f"{audio_text} but {video_text}: {done} (--{policy})"), stacklevel=2)
    return waveform, landmarks


def check_frame_count(found: int, duration: float, fps: float, source: str) -> None:
    """Warn when fewer frames were decoded than the container's duration x frame rate announces.

    Containers that record their length (MP4, MKV, AVI) reveal a truncated file this way; MPEG
    program streams (GRID's .mpg) estimate their duration from the last timestamp present, so a
    cut .mpg looks like a short clip and is caught by :func:`match_durations` against its audio.
    """
    if not (duration and fps):
        return
    announced = round(duration * fps)
    if found < announced - DURATION_TOLERANCE_FRAMES:
        warnings.warn(InputWarning(
            f"{source}: decoded {found} frames ({_seconds(found, fps)}) but its container announces {announced} "
            f"({duration:.2f} s at {fps:g} fps): the file is probably truncated; re-encode or re-download it"),
            stacklevel=2)


def frame_ranges(frames) -> str:
    """``[0, 1, 2, 8, 16, 17]`` as ``"0-2, 8, 16-17"``."""
    frames = sorted(int(frame) for frame in frames)
    ranges, start = [], None
    for index, frame in enumerate(frames):
        if start is None:
            start = frame
        if index + 1 == len(frames) or frames[index + 1] != frame + 1:
            ranges.append(str(start) if start == frame else f"{start}-{frame}")
            start = None
    return ", ".join(ranges)


def warn_several_faces(face_counts, source: str) -> None:
    """Warn, naming the frames, when the detector found more than one face (``face_counts[t]`` is
    the number found at frame ``t``, 0 where it did not run)."""
    counts = np.asarray(face_counts)
    several = np.flatnonzero(counts > 1)
    if several.size:
        warnings.warn(InputWarning(
            f"{source}: {int(counts.max())} faces seen in frame{'s' if several.size > 1 else ''} "
            f"{frame_ranges(several)} (of the {int((counts > 0).sum())} frames where the detector ran); followed "
            "the largest face of the first detection and, at each re-detection, the face nearest to it"),
            stacklevel=2)


def check_frame_rate(fps: float, source: str, expected: float = FPS) -> None:
    """:class:`FrameRateError` unless ``fps`` is ``expected`` (within 0.01): every model here was
    trained on GRID's 25 fps video, and its visual features are per frame, so another rate feeds
    them motion at the wrong speed."""
    if abs(float(fps) - float(expected)) > 0.01:
        raise FrameRateError(
            f"{source} runs at {fps:g} fps but the models are trained on GRID's {expected:g} fps video; "
            f"re-encode it at {expected:g} fps (ffmpeg -i IN -r {expected:g} OUT)")


def check_single_face(face_counts, source: str) -> None:
    """:class:`SeveralFacesError` when the detector saw more than one face in any frame it looked at:
    a mouth crop of a clip with several people may follow someone who is not speaking."""
    counts = np.asarray(face_counts)
    several = np.flatnonzero(counts > 1)
    if several.size:
        raise SeveralFacesError(
            f"{source}: {int(counts.max())} faces seen in frame{'s' if several.size > 1 else ''} {frame_ranges(several)}; "
            "lip-to-speech needs one speaker per clip: crop the clip to the speaker or leave it out")


def check_face_found(face_counts, source: str) -> None:
    """:class:`NoFaceError` when the detector found no face in any of the frames it looked at
    (``face_counts[i]``: faces found in the i-th of them)."""
    counts = np.asarray(face_counts)
    if counts.size and not (counts > 0).any():
        raise NoFaceError(f"no face found in {source} (looked at {counts.size} frame{'s' if counts.size > 1 else ''}); "
                          "the face must be frontal and at least ~80 pixels wide, or leave this clip out")


def check_sample_rate(rate: int, source: str, minimum: int = SAMPLE_RATE) -> None:
    """Warn when audio was recorded below ``minimum`` Hz: it is usable after upsampling, but the band
    above its Nyquist frequency stays empty, unlike the speech the models were trained on."""
    if rate < minimum:
        warnings.warn(InputWarning(
            f"{source} is sampled at {rate} Hz, below the {minimum} Hz the models use: it will be upsampled and "
            f"have nothing above {rate / 2000:g} kHz; use a recording at {minimum} Hz or more if there is one"),
            stacklevel=2)


def problems_of(check, *args, **kwargs):
    """Run ``check(*args, **kwargs)`` (a check above, or a reader that uses them) and return
    ``(result, problems)`` instead of raising or warning: ``problems`` lists ``("error", message)``
    for a :class:`UserInputError` (``result`` is then None) and ``("warning", message)`` for each
    :class:`InputWarning`. For reports over a whole corpus, where one bad clip must not stop the rest."""
    problems = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InputWarning)
        try:
            result = check(*args, **kwargs)
        except UserInputError as error:
            result = None
            problems.append(("error", str(error)))
    problems[:0] = [("warning", str(item.message)) for item in caught if issubclass(item.category, InputWarning)]
    return result, problems
