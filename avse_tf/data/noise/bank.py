"""Write the noise bank to a folder, and list the noise clips of a bank or of a user's folder.

``write_noise_bank(out_dir)`` writes ``out_dir/<split>/<kind>/<kind>_<index>.wav`` (16-bit PCM,
16 kHz mono) for every kind of :mod:`~avse_tf.data.noise.registry` and ``out_dir/noise_bank.json``:
for each clip its path (relative), kind, split, role, seed and duration, plus each room's geometry
and RT60 for the impulse responses. Clip ``i`` of a kind comes from
``numpy.random.default_rng([seed, crc32(kind), i])`` and every file is written atomically, so the
same seed gives the same bytes, a missing clip is made again alone, and an interrupted run started
again finishes the rest (existing clips are kept, not re-made).

``noise_clips(root)`` is what ``--noise_data_root`` reads: the clips of a bank of the given split,
or, for any other folder, every wav / flac below it (VGGSound-style, as Hegde et al.'s
``--noise_data_root``), checked readable first so that a bad file stops the run at once, named.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

from avse_tf.audio.io import write_audio
from avse_tf.constants import SAMPLE_RATE
from avse_tf.data.noise.registry import ADDITIVE, KINDS, TRAIN, get_kind
from avse_tf.errors import NoiseDataError, UserInputError
from avse_tf.utils import atomic_write_text, progress

MANIFEST = "noise_bank.json"
FORMAT = "avse_tf noise bank 1"
AUDIO_EXTENSIONS = (".wav", ".flac")


def plan_noise_bank(seconds_per_kind: float = 60.0, clip_seconds: float = 10.0, seed: int = 0,
                    kinds=None) -> list:
    """The clips a bank holds (no audio made): per kind, ``ceil(seconds_per_kind / clip_seconds)``
    clips of ``clip_seconds`` (the last one shorter to make up ``seconds_per_kind``); impulse
    responses: as many rooms, each lasting its RT60."""
    if seconds_per_kind <= 0 or clip_seconds <= 0:
        raise UserInputError(f"noise bank durations must be positive (got {seconds_per_kind} s per kind, "
                             f"{clip_seconds} s per clip)")
    count = math.ceil(round(seconds_per_kind / clip_seconds, 6))
    clips = []
    for name in kinds or KINDS:
        kind = get_kind(name)
        for index in range(count):
            seconds = min(clip_seconds, seconds_per_kind - index * clip_seconds)
            clips.append({"path": f"{kind.split}/{kind.name}/{kind.name}_{index:03d}.wav", "kind": kind.name,
                          "split": kind.split, "role": kind.role, "seed": [int(seed), kind.seed_key(), index],
                          "seconds": round(seconds, 6)})
    return clips


def write_noise_bank(out_dir, seconds_per_kind: float = 60.0, clip_seconds: float = 10.0, seed: int = 0,
                     kinds=None, sample_rate: int = SAMPLE_RATE) -> dict:
    """Write the bank (wavs + ``noise_bank.json``) into ``out_dir``; returns the manifest.

    Resumable and deterministic (module docstring). ``kinds``: a subset of the registry's names.
    """
    import soundfile

    out_dir = os.fspath(out_dir)
    clips = plan_noise_bank(seconds_per_kind, clip_seconds, seed, kinds)
    for clip in progress(clips, "noise-bank", unit="clip"):
        kind = get_kind(clip["kind"])
        path = os.path.join(out_dir, clip["path"])
        if kind.describe is not None:
            clip.update(kind.describe(np.random.default_rng(clip["seed"])))
        if not os.path.exists(path):
            waveform = kind.generate(np.random.default_rng(clip["seed"]), clip["seconds"], sample_rate)
            write_audio(path, waveform, sample_rate)
        if kind.role != ADDITIVE:  # an impulse response lasts its room's RT60, not the clip length
            clip["seconds"] = round(soundfile.info(path).frames / sample_rate, 6)
    manifest = {"format": FORMAT, "sample_rate": int(sample_rate), "seed": int(seed),
                "seconds_per_kind": seconds_per_kind, "clip_seconds": clip_seconds,
                "kinds": {name: {"split": KINDS[name].split, "role": KINDS[name].role,
                                 "imitates": KINDS[name].imitates} for name in dict.fromkeys(c["kind"] for c in clips)},
                "clips": clips}
    atomic_write_text(os.path.join(out_dir, MANIFEST), json.dumps(manifest, indent=1) + "\n")
    return manifest


def load_bank_manifest(bank_dir) -> dict:
    path = os.path.join(os.fspath(bank_dir), MANIFEST)
    try:
        with open(path, encoding="utf-8") as handle:
            manifest = json.load(handle)
        manifest["clips"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise NoiseDataError(f"noise bank manifest {path} cannot be read ({error}); write the bank again "
                             "with avse noise-bank") from None
    return manifest


def _check_readable(path: str) -> None:
    import soundfile

    try:
        frames = soundfile.info(path).frames
    except (soundfile.LibsndfileError, RuntimeError, OSError) as error:
        raise NoiseDataError(f"noise file {path} cannot be read ({' '.join(str(error).split())}); "
                             "remove or replace it") from None
    if frames == 0:
        raise NoiseDataError(f"noise file {path} holds no samples; remove or replace it")


def noise_clips(noise_data_root, split: str = TRAIN, role: str = ADDITIVE) -> list:
    """Paths (sorted) of the noise clips under ``noise_data_root``.

    A noise bank (``noise_bank.json`` in the folder): its clips of ``split`` and ``role``
    (``impulse_response`` for the rooms). Any other folder: every ``.wav`` / ``.flac`` below it,
    recursively (a user's own noise, e.g. VGGSound; ``split`` and ``role`` do not apply), each
    checked readable. Raises :class:`~avse_tf.errors.NoiseDataError` for a missing or empty folder
    (naming it) or an unreadable file (naming the file).
    """
    root = os.path.abspath(os.fspath(noise_data_root))
    if not os.path.isdir(root):
        raise NoiseDataError(f"noise folder {root} does not exist or is not a folder; give a folder of noise "
                             "wav/flac files or one written by avse noise-bank")
    if os.path.exists(os.path.join(root, MANIFEST)):
        clips = [os.path.join(root, clip["path"]) for clip in load_bank_manifest(root)["clips"]
                 if clip["split"] == split and clip["role"] == role]
        missing = [path for path in clips if not os.path.exists(path)]
        if missing:
            raise NoiseDataError(f"noise bank {root} lacks {len(missing)} of its clips (first: {missing[0]}); "
                                 "run avse noise-bank on it again to finish it")
    else:
        clips = [os.path.join(folder, name) for folder, _, names in os.walk(root) for name in names
                 if name.lower().endswith(AUDIO_EXTENSIONS) and not name.startswith(".")]
    if not clips:
        what = f"no {split} {role} clips" if os.path.exists(os.path.join(root, MANIFEST)) else "no .wav or .flac files"
        raise NoiseDataError(f"noise folder {root} holds {what}; give a folder of noise wav/flac files or one "
                             "written by avse noise-bank")
    clips.sort()
    for path in clips:
        _check_readable(path)
    return clips
