"""Audio-visual offsets per clip, and the audio delayed to undo them (sync correction).

Recordings are often a frame or two out of sync, and the synthetic corpus's camera-like renderer
makes them so on purpose (:mod:`avse_tf.data.synth.camera`, up to 80 ms). A model that learns from
the timing of lips against sound (a SyncNet-style lip-sync expert) learns from such clips a blurred
timing; the usual remedy is to measure each clip's offset (SyncNet) and correct it before
training. ``--av_offsets FILE`` takes those offsets:

* a ``synth_grid.json`` written by ``avse synth-grid`` (each speaker's ``av_offset_ms``, which the
  generator knows exactly); or
* a JSON object ``{"<speaker or folder>/<clip id>": offset_ms}`` (for instance from a SyncNet run).

Convention, the corpus generator's: a positive offset means the video lags the audio, so the audio
is delayed by that much (zeros in front, its end cut); the audio keeps its length.
"""

from __future__ import annotations

import hashlib
import json
import math
import os

import numpy as np

from avse_tf.errors import UserInputError


def load_av_offsets(path) -> dict:
    """``{clip name: offset in seconds}`` from ``path`` (module doc); one-line
    :class:`~avse_tf.errors.UserInputError` for a file that is neither form."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as error:
        raise UserInputError(f"--av_offsets {path}: not a readable JSON file ({error}); give a synth_grid.json "
                             "or a JSON object of clip -> offset in ms") from None
    if isinstance(data, dict) and isinstance(data.get("speakers"), list):  # a synth_grid.json
        offsets = {f"{speaker['name']}/{clip}": value for speaker in data["speakers"]
                   for clip, value in (speaker.get("av_offset_ms") or {}).items()}
        if not offsets:
            raise UserInputError(f"--av_offsets {path}: this corpus records no offsets (made with --video legacy: "
                                 "its clips are in sync); leave --av_offsets out")
    elif isinstance(data, dict):
        offsets = data
    else:
        raise UserInputError(f"--av_offsets {path}: expected a JSON object of clip -> offset in ms")
    result = {}
    for name, value in offsets.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise UserInputError(f"--av_offsets {path}: the offset of {name!r} is {value!r}, not a number of ms")
        result[str(name)] = float(value) / 1000.0
    return result


def offsets_digest(offsets: dict) -> str:
    """A short fingerprint of ``offsets`` (for a run's saved settings: other offsets, other output)."""
    text = json.dumps(sorted(offsets.items()), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def delay_audio(waveform, offset_s: float, sample_rate: int) -> np.ndarray:
    """``waveform`` delayed by ``offset_s`` (rounded to a sample; negative: advanced), same length."""
    waveform = np.asarray(waveform)
    shift = int(round(offset_s * sample_rate))
    if shift == 0:
        return waveform.copy()
    shifted = np.zeros_like(waveform)
    if abs(shift) >= waveform.size:
        return shifted
    if shift > 0:
        shifted[shift:] = waveform[:-shift]
    else:
        shifted[:shift] = waveform[-shift:]
    return shifted


__all__ = ["delay_audio", "load_av_offsets", "offsets_digest"]
