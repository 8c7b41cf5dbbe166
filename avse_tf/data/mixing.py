"""Multi-talker mixtures for the enhancement system (the seed's ``mixed_speech_generator``).

Behaviour of the original (Morrone 2019 code, fact sheet): a target utterance plus one interferer
(2-speaker mixture) or two interferers from two different speakers (3-speaker), overlaid at 0 dB
gain (raw sum, no SNR scaling); a shorter interferer is centred, the mixture is cut to the target's
length, and an interferer >= 2 s shorter than the target is rejected. ``num_samples`` base
utterances per speaker, ``num_mix`` mixtures per base utterance, seeded.

Fixed here: the original parsed speaker and file names back out of the mixture's file name, which
broke on names containing underscores; every mixture is recorded instead in ``mixtures.json``
beside the wavs (target, interferers, offsets, gains), and :func:`render_mixture` rebuilds target,
interferer sum and mixture from it. ``snr_db`` is an extension: scale the interferer sum to that
SNR relative to the target (None keeps the original's raw overlay).
"""

from __future__ import annotations

import json
import os

import numpy as np

from avse_tf.audio.io import load_audio, write_audio
from avse_tf.constants import SAMPLE_RATE
from avse_tf.data import grid
from avse_tf.data.preprocess import resolve_speaker_folder
from avse_tf.errors import UserInputError
from avse_tf.utils import atomic_write_text, progress

MANIFEST = "mixtures.json"
MAX_SHORTER_SECONDS = 2.0


def _place(interferer: np.ndarray, length: int) -> tuple:
    """Centre a shorter interferer, or cut a longer one to ``length``; returns (signal, offset)."""
    if interferer.size >= length:
        return interferer[:length], 0
    offset = (length - interferer.size) // 2
    placed = np.zeros(length, np.float32)
    placed[offset:offset + interferer.size] = interferer
    return placed, offset


def render_mixture(entry: dict, sample_rate: int = SAMPLE_RATE):
    """Target, interferer sum and mixture (float32) of one manifest entry."""
    target = load_audio(entry["target"], sample_rate)
    interferers = np.zeros_like(target)
    for interferer in entry["interferers"]:
        placed, _ = _place(load_audio(interferer["path"], sample_rate), target.size)
        interferers += placed
    interferers *= float(entry.get("interferer_gain", 1.0))
    return target, interferers, target + interferers


def generate_mixtures(data_dir, base_speaker_ids, noisy_speaker_ids=None, audio_dir="audio", dest_dir="mix",
                      num_samples=10, num_mix=1, num_mix_speakers=1, snr_db=None, seed=0,
                      sample_rate=SAMPLE_RATE) -> list:
    """Write mixtures to ``<data_dir>/<dest_dir>/s<k>/<base>_with_<spk>_<id>[...].wav`` + manifest."""
    if num_mix_speakers not in (1, 2):
        raise UserInputError(f"--num_mix_speakers must be 1 or 2, got {num_mix_speakers}")
    noisy_speaker_ids = list(noisy_speaker_ids or base_speaker_ids)
    rng = np.random.default_rng(seed)
    utterances = {}
    for speaker in sorted(set(map(grid.speaker_name, list(base_speaker_ids) + noisy_speaker_ids))):
        folder = resolve_speaker_folder(data_dir, speaker, audio_dir)
        files = sorted(name for name in os.listdir(folder) if name.endswith(".wav") and not name.startswith("."))
        if not files:
            raise UserInputError(f"no .wav files in {folder}")
        utterances[speaker] = [os.path.join(folder, name) for name in files]
    durations = {path: _duration(path) for paths in utterances.values() for path in paths}
    destination = os.path.join(data_dir, dest_dir)
    entries = []
    for base in map(grid.speaker_name, base_speaker_ids):
        others = [grid.speaker_name(s) for s in noisy_speaker_ids if grid.speaker_name(s) != base]
        if len(others) < num_mix_speakers:
            raise UserInputError(f"speaker {base} needs {num_mix_speakers} other noisy speakers; got {others or 'none'}")
        chosen = rng.permutation(len(utterances[base]))[:num_samples]
        for index in chosen:
            target = utterances[base][index]
            used = set()
            for _ in range(num_mix):
                interferers = _choose_interferers(rng, others, utterances, durations, durations[target],
                                                  num_mix_speakers, used)
                if interferers is None:
                    continue
                used.add(tuple(sorted(path for _, path in interferers)))
                name = os.path.splitext(os.path.basename(target))[0] + "_with_" + "_".join(
                    f"{speaker}_{os.path.splitext(os.path.basename(path))[0]}" for speaker, path in interferers)
                entries.append({
                    "mixture": os.path.join(destination, base, name + ".wav"),
                    "speaker": base, "utterance": os.path.splitext(os.path.basename(target))[0],
                    "target": target,
                    "interferers": [{"speaker": speaker, "path": path} for speaker, path in interferers],
                    "num_speakers": num_mix_speakers + 1, "snr_db": snr_db, "interferer_gain": 1.0,
                })
    for entry in progress(entries, "mixed_speech_generator"):
        target, interferers, _ = render_mixture(entry, sample_rate)
        if snr_db is not None:
            entry["interferer_gain"] = _gain_for_snr(target, interferers, snr_db)
        target, interferers, mixture = render_mixture(entry, sample_rate)
        write_audio(entry["mixture"], mixture, sample_rate)
    previous = load_manifest(destination, missing_ok=True)
    merged = {entry["mixture"]: entry for entry in previous + entries}
    stored = [_relative_paths(entry, destination) for entry in merged.values()]
    atomic_write_text(os.path.join(destination, MANIFEST),
                      json.dumps({"sample_rate": sample_rate, "mixtures": stored}, indent=1))
    return entries


def _relative_paths(entry, folder):
    """Paths stored relative to the manifest's folder, so a corpus can be moved or mounted elsewhere."""
    entry = json.loads(json.dumps(entry))
    entry["mixture"] = os.path.relpath(entry["mixture"], folder)
    entry["target"] = os.path.relpath(entry["target"], folder)
    for interferer in entry["interferers"]:
        interferer["path"] = os.path.relpath(interferer["path"], folder)
    return entry


def _absolute_paths(entry, folder):
    entry["mixture"] = os.path.normpath(os.path.join(folder, entry["mixture"]))
    entry["target"] = os.path.normpath(os.path.join(folder, entry["target"]))
    for interferer in entry["interferers"]:
        interferer["path"] = os.path.normpath(os.path.join(folder, interferer["path"]))
    return entry


def _duration(path):
    import soundfile

    try:
        info = soundfile.info(path)
    except RuntimeError as error:
        raise UserInputError(f"cannot read audio file {path}: {error}") from None
    return info.frames / info.samplerate


def _choose_interferers(rng, others, utterances, durations, target_seconds, count, used, attempts=50):
    """Interferers from ``count`` different speakers, not a combination this target already has."""
    for _ in range(attempts):
        speakers = rng.choice(others, size=count, replace=False)
        picked = [(str(speaker), utterances[speaker][int(rng.integers(len(utterances[speaker])))]) for speaker in speakers]
        if tuple(sorted(path for _, path in picked)) in used:
            continue
        if all(target_seconds - durations[path] < MAX_SHORTER_SECONDS for _, path in picked):
            return picked
    return None


def _gain_for_snr(target, interferers, snr_db):
    """The shared SNR gain (:func:`avse_tf.data.noise.mixing.snr_gain`); the manifests keep their
    conventions for silent inputs: unit gain for a silent interferer sum, 0 for a silent target."""
    from avse_tf.data.noise.mixing import snr_gain

    target_power = float(np.mean(target ** 2))
    interferer_power = float(np.mean(interferers ** 2))
    if interferer_power <= 0:
        return 1.0
    if target_power <= 0:
        return 0.0
    return snr_gain(target_power, interferer_power, snr_db)


def load_manifest(mix_dir, missing_ok=False) -> list:
    """Entries of ``<mix_dir>/mixtures.json``."""
    path = os.path.join(mix_dir, MANIFEST)
    if not os.path.exists(path):
        if missing_ok:
            return []
        raise UserInputError(f"no mixture manifest {path}; run mixed_speech_generator with --dest_dir {mix_dir}")
    with open(path, encoding="utf-8") as handle:
        try:
            return [_absolute_paths(entry, mix_dir) for entry in json.load(handle)["mixtures"]]
        except (json.JSONDecodeError, KeyError) as error:
            raise UserInputError(f"mixture manifest {path} is damaged ({error}); re-run mixed_speech_generator") from None
