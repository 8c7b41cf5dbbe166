"""Gaps for speech inpainting (Morrone et al., ICASSP 2021, §3.1 and the original ``gap_generator``).

A gap is a run of whole STFT frames (all 257 bins) that is missing. Gaps are stored as
``(start_frame, num_frames)`` pairs on the ``morrone2021`` frame grid (hop 192 samples = 12 ms,
250 frames per 3 s clip); :func:`gap_mask` turns them into a ``[frames]`` 0/1 mask (1 = missing).

* Training / validation (:func:`training_gaps`, fact sheet "Gaps"): 1-8 gaps per clip, total
  duration drawn from N(900 ms, 300 ms), every gap at least 3 frames (36 ms), the total capped
  at 80 % of the clip; random, non-overlapping positions.
* Test (:func:`single_gap`): one gap of 100, 200, 400, 800 or 1600 ms at a random position;
  durations are rounded to whole frames (8, 17, 33, 67, 133 frames = 96, 204, 396, 804, 1596 ms).

Every draw takes a :class:`numpy.random.Generator` seeded from ``(seed, set, utterance)``
(:func:`gap_rng`), so the gaps of an utterance do not depend on which other utterances exist or
in which order they are processed; the record writer also stores them in ``gaps.json`` beside the
records, so every model of a run sees the same gaps.

User gaps in seconds (:func:`frames_for_interval`) cover every frame whose analysis window
overlaps the interval, so nothing of the gap leaks into the frames kept as reliable.
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from avse_tf.constants import SAMPLE_RATE
from avse_tf.errors import UserInputError

FRAME_MS = 12.0  # morrone2021 hop: 192 samples at 16 kHz
MIN_GAP_FRAMES = 3  # 36 ms
MAX_GAPS = 8
TOTAL_MEAN_MS = 900.0
TOTAL_STD_MS = 300.0
MAX_FRACTION = 0.8
TEST_GAP_MS = (100, 200, 400, 800, 1600)


def gap_rng(seed: int, set_name: str, utterance: str, copy: int = 0) -> np.random.Generator:
    """Generator for one utterance's gaps: depends on the seed, the set, the utterance id and copy only."""
    key = zlib.crc32(f"{set_name}/{utterance}/{copy}".encode())
    return np.random.default_rng([int(seed), key])


def ms_to_frames(milliseconds: float, frame_ms: float = FRAME_MS) -> int:
    return max(1, int(round(milliseconds / frame_ms)))


def training_gaps(num_frames: int, rng: np.random.Generator, frame_ms: float = FRAME_MS,
                  max_gaps: int = MAX_GAPS, total_mean_ms: float = TOTAL_MEAN_MS,
                  total_std_ms: float = TOTAL_STD_MS, min_frames: int = MIN_GAP_FRAMES,
                  max_fraction: float = MAX_FRACTION) -> list:
    """Training/validation gaps of one clip: sorted, non-overlapping ``(start, length)`` frame pairs.

    The number of gaps is uniform in 1..``max_gaps``; the total length ~ N(900, 300) ms, clipped to
    [``count * min_frames``, ``max_fraction * num_frames``]; it is split among the gaps by a
    uniform random partition (each gap >= ``min_frames``); the free frames are then split at random
    between the gaps, so positions are uniform and gaps never touch.
    """
    if num_frames < min_frames + 2:
        raise UserInputError(f"a clip of {num_frames} frames is too short for a {min_frames}-frame gap")
    capacity = int(max_fraction * num_frames)
    count = int(rng.integers(1, max_gaps + 1))
    count = max(1, min(count, capacity // min_frames, (num_frames - 1) // (min_frames + 1)))
    total = int(round(rng.normal(total_mean_ms, total_std_ms) / frame_ms))
    total = int(np.clip(total, count * min_frames, capacity))
    # Lengths: min_frames each plus a random partition of the rest.
    extra = total - count * min_frames
    cuts = np.sort(rng.integers(0, extra + 1, size=count - 1))
    lengths = np.diff(np.concatenate([[0], cuts, [extra]])) + min_frames
    # Free frames: count + 1 slots (before, between, after); the inner ones get at least 1 frame.
    free = num_frames - total - (count - 1)
    cuts = np.sort(rng.integers(0, free + 1, size=count))
    slots = np.diff(np.concatenate([[0], cuts, [free]]))
    gaps, position = [], 0
    for index, length in enumerate(lengths):
        position += int(slots[index]) + (1 if index else 0)
        gaps.append((position, int(length)))
        position += int(length)
    return gaps


def single_gap(num_frames: int, gap_ms: float, rng: np.random.Generator, frame_ms: float = FRAME_MS) -> list:
    """One gap of ``gap_ms`` (rounded to frames) at a uniformly random position inside the clip."""
    length = ms_to_frames(gap_ms, frame_ms)
    if length >= num_frames:
        raise UserInputError(f"a {gap_ms:g} ms gap ({length} frames) does not fit in a clip of {num_frames} frames")
    start = int(rng.integers(0, num_frames - length + 1))
    return [(start, length)]


def gap_mask(gaps, num_frames: int) -> np.ndarray:
    """``[num_frames]`` float32 mask, 1 inside the gaps (clipped to the clip)."""
    mask = np.zeros(num_frames, np.float32)
    for start, length in gaps:
        mask[max(0, int(start)):max(0, min(num_frames, int(start) + int(length)))] = 1.0
    return mask


def mask_to_gaps(mask) -> list:
    """Inverse of :func:`gap_mask`: the ``(start, length)`` runs of ones."""
    mask = np.asarray(mask).reshape(-1) > 0.5
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    changes = np.flatnonzero(np.diff(padded))
    return [(int(start), int(end - start)) for start, end in zip(changes[::2], changes[1::2])]


def frames_for_interval(start_s: float, end_s: float, num_frames: int, sample_rate: int = SAMPLE_RATE,
                        frame_length: int = 384, frame_step: int = 192) -> tuple:
    """``(first, last + 1)`` frames whose window ``[t*step, t*step + length)`` overlaps ``[start, end)`` s."""
    first_sample, end_sample = start_s * sample_rate, end_s * sample_rate
    first = max(0, int(math.floor((first_sample - frame_length) / frame_step)) + 1)
    last = min(num_frames, int(math.ceil(end_sample / frame_step)))
    return first, last


def parse_gap_spec(text: str) -> list:
    """``"1.2:1.6,2.0:2.3"`` -> ``[(1.2, 1.6), (2.0, 2.3)]`` (seconds); raises a one-line error."""
    intervals = []
    for part in (item.strip() for item in str(text).split(",")):
        if not part:
            continue
        try:
            start, end = (float(value) for value in part.split(":"))
        except ValueError:
            raise UserInputError(f"bad gap {part!r} in --gaps; write START:END in seconds, e.g. 1.2:1.6,2.0:2.3") from None
        if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end <= start:
            raise UserInputError(f"bad gap {part!r} in --gaps: need 0 <= START < END (seconds)")
        intervals.append((start, end))
    if not intervals:
        raise UserInputError("--gaps is empty; write START:END in seconds, e.g. 1.2:1.6")
    return intervals


def detect_silent_gaps(waveform, sample_rate: int = SAMPLE_RATE, min_seconds: float = 0.02,
                       threshold: float = 1e-6) -> list:
    """Runs of digital silence (``|x| <= threshold``) of at least ``min_seconds``, as ``(start, end)`` s.

    A recorded signal is never exactly zero for 20 ms (room noise, dither); a dropped packet or an
    edited-out stretch is.
    """
    silent = np.abs(np.asarray(waveform, np.float32)) <= threshold
    padded = np.concatenate([[False], silent, [False]]).astype(np.int8)
    changes = np.flatnonzero(np.diff(padded))
    minimum = int(round(min_seconds * sample_rate))
    return [(start / sample_rate, end / sample_rate) for start, end in zip(changes[::2], changes[1::2])
            if end - start >= minimum]


def intervals_to_frame_mask(intervals, num_samples: int, num_frames: int, sample_rate: int = SAMPLE_RATE,
                            frame_length: int = 384, frame_step: int = 192, source: str = "input") -> np.ndarray:
    """Frame mask of user gaps in seconds, with clear errors for gaps outside or covering the clip."""
    duration = num_samples / sample_rate
    mask = np.zeros(num_frames, np.float32)
    for start, end in intervals:
        if start >= duration:
            raise UserInputError(f"gap {start:g}:{end:g} s starts after the end of {source} ({duration:.3f} s); "
                                 "give gaps inside the clip")
        end = min(end, duration)
        first, last = frames_for_interval(start, end, num_frames, sample_rate, frame_length, frame_step)
        mask[first:last] = 1.0
    if mask.all():
        raise UserInputError(f"the gaps cover the whole of {source} ({duration:.3f} s): there is no reliable audio "
                             "context to inpaint from; give shorter gaps")
    return mask


__all__ = ["FRAME_MS", "TEST_GAP_MS", "gap_rng", "ms_to_frames", "training_gaps", "single_gap", "gap_mask",
           "mask_to_gaps", "frames_for_interval", "parse_gap_spec", "detect_silent_gaps",
           "intervals_to_frame_mask"]
