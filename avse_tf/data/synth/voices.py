"""Synthetic speakers' voices, and a speaker-identification check of how distinct they are.

``voices="distinct"`` (:func:`speaker_voice`) gives every synthetic speaker a voice no other one
has: its own espeak-ng variant while they last, then the same variants again with another
vocal-tract-length warp (the corpus plays espeak's output ``warp`` times faster and has espeak
speak ``warp`` times slower, so formants and f0 scale by ``warp`` and the rate is kept), with
pitch and rate spread over the legacy ranges.

The check (:func:`speaker_id_accuracy`, ``python -m avse_tf.data.synth.voices DIR``) describes
each utterance by the mean and standard deviation of its MFCCs over the speech frames and labels
it with the nearest speaker centroid, leave-one-out: a corpus whose speakers share voices scores
low (the legacy synth-grid voices: 10 speakers, 6 utterances each, about half right).

This module imports nothing heavy at import time (the CLI reads its constants for ``--help``).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

# voices="distinct": variants whose espeak-ng voice file states the sex (the legacy lists in
# corpus.py put "steph", a female variant, among the men), robotic / whispering / Klatt left out.
DISTINCT_MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "Andy", "Lee", "Denis", "Marco",
                          "travis", "victor")
DISTINCT_FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5", "anika", "belinda", "linda", "aunty", "Annie",
                            "Alicia", "Andrea", "steph", "steph2")
# Vocal-tract-length warp factors: every frequency (formants and f0) is scaled by the factor.
WARP_FACTORS = (0.89, 0.945, 1.0, 1.055, 1.11)
VOICE_MODES = ("legacy", "distinct")
# Speakers alternate in sex, so the smaller list sets how far the voices stay distinct.
DISTINCT_VOICES = 2 * min(len(DISTINCT_MALE_VARIANTS), len(DISTINCT_FEMALE_VARIANTS)) * len(WARP_FACTORS)


def speaker_voice(seed: int, index: int, espeak_voice: str = "en-us"):
    """``(espeak voice, warp factor, pitch, rate)`` of speaker ``index`` with ``voices="distinct"``.

    ``espeak_voice``: the language's espeak-ng voice the variant is applied to (``en-us``,
    ``cmn``, ``es``: :mod:`avse_tf.data.synth.languages`); variants, warps, pitches and rates do
    not depend on it, so speaker k's voice differs from the others' the same way in every language.

    Speakers alternate in sex; the k-th speaker of a sex (k = (index - 1) // 2) takes the
    variants of that sex in a seed-shuffled order, cycling, and variant position p in cycle c
    takes warp factor ``WARP_FACTORS[(p + c + shift) % 5]``, so the (variant, warp) pair is unique for
    the first :data:`DISTINCT_VOICES` speakers (the first 5 cycles). Pitch and rate are spread
    the same way: speakers sharing a variant get pitches and rates on different grid steps.
    Depends only on ``(seed, index)``, so a corpus made in parts (``first_speaker``) gets the
    same voices as one made at once.
    """
    if index > DISTINCT_VOICES:
        raise ValueError(f"voices='distinct' makes {DISTINCT_VOICES} distinct voices (speakers s1..s"
                         f"{DISTINCT_VOICES}); speaker {index} would repeat one")
    female = bool(index % 2 == 0)
    variants = DISTINCT_FEMALE_VARIANTS if female else DISTINCT_MALE_VARIANTS
    order = np.random.default_rng([seed, 15, int(female)]).permutation(len(variants))
    k = (index - 1) // 2
    cycle, position = divmod(k, len(variants))
    shift = 2 * int(female)  # so that s1 and s2 differ in warp, pitch and rate too
    warp = WARP_FACTORS[(position + cycle + shift) % len(WARP_FACTORS)]
    # Pitch 35..69 and rate 115..144 words/min (the legacy ranges): steps coprime with the range
    # spread one cycle's speakers over it; the cycle term moves speakers sharing a variant apart.
    pitch = 35 + (12 * position + 5 * cycle + 8 * shift) % 35
    rate = 115 + (11 * position + 7 * cycle + 4 * shift) % 30
    return espeak_voice + "+" + variants[int(order[position])], warp, int(pitch), int(rate)


def utterance_embedding(waveform, sample_rate: int, floor_db: float = 40.0) -> np.ndarray:
    """Mean and standard deviation of the 13 HTK MFCCs (c0 kept) over the frames whose energy is
    within ``floor_db`` of the loudest one (the speech; leading and trailing silence left out)."""
    from avse_tf.audio.features import mfcc_htk

    waveform = np.asarray(waveform, np.float32)
    cepstra = np.asarray(mfcc_htk(waveform, sample_rate))
    frame_length, step = round(0.025 * sample_rate), round(0.010 * sample_rate)
    padded = np.concatenate([waveform, np.zeros(frame_length, np.float32)])
    energy = np.array([np.sum(padded[t * step: t * step + frame_length] ** 2) for t in range(len(cepstra))])
    level = 10 * np.log10(np.maximum(energy, 1e-20))
    speech = cepstra[level >= level.max() - floor_db]
    return np.concatenate([speech.mean(axis=0), speech.std(axis=0)])


def speaker_id_predictions(embeddings, labels) -> list:
    """Leave-one-out nearest-centroid labels: each utterance gets the speaker whose mean embedding
    (its own utterance left out) is nearest, after standardising every dimension over all
    utterances. Speakers need at least 2 utterances."""
    embeddings = np.asarray(embeddings, np.float64)
    labels = np.asarray(labels)
    speakers = sorted(set(labels.tolist()))
    if len(speakers) < 2 or min(int(np.sum(labels == s)) for s in speakers) < 2:
        raise ValueError("need at least 2 speakers with at least 2 utterances each")
    features = (embeddings - embeddings.mean(axis=0)) / np.maximum(embeddings.std(axis=0), 1e-12)
    sums = {s: features[labels == s].sum(axis=0) for s in speakers}
    counts = {s: int(np.sum(labels == s)) for s in speakers}
    predictions = []
    for feature, label in zip(features, labels):
        distances = []
        for speaker in speakers:
            if speaker == label:
                centroid = (sums[speaker] - feature) / (counts[speaker] - 1)
            else:
                centroid = sums[speaker] / counts[speaker]
            distances.append(float(np.sum((feature - centroid) ** 2)))
        predictions.append(speakers[int(np.argmin(distances))])
    return predictions


def speaker_id_accuracy(embeddings, labels) -> float:
    """Fraction of utterances :func:`speaker_id_predictions` labels with their own speaker."""
    predictions = speaker_id_predictions(embeddings, labels)
    return float(np.mean([predicted == label for predicted, label in zip(predictions, labels)]))


def corpus_speaker_id(root, speakers=None, utterances: int | None = None) -> dict:
    """The check on a GRID-layout corpus (``root/s<k>/audio/<id>.wav``): ``accuracy``, ``speakers``,
    ``confusions`` ({speaker: [speakers its misidentified utterances went to]}), ``utterances``
    (per speaker, the first ``utterances`` in sorted order; default all). Audio is
    read at 16 kHz."""
    from avse_tf.audio.io import load_audio
    from avse_tf.constants import SAMPLE_RATE
    from avse_tf.data import grid

    speakers = list(speakers) if speakers else grid.list_speakers(str(root))
    embeddings, labels = [], []
    for speaker in speakers:
        ids = grid.list_utterances(str(root), speaker)[:utterances]
        for utterance_id in ids:
            path = os.path.join(str(root), speaker, "audio", f"{utterance_id}.wav")
            embeddings.append(utterance_embedding(load_audio(path, SAMPLE_RATE), SAMPLE_RATE))
            labels.append(speaker)
    predictions = speaker_id_predictions(embeddings, labels)
    confusions: dict = {}
    for predicted, label in zip(predictions, labels):
        if predicted != label:
            confusions.setdefault(label, []).append(predicted)
    return {"accuracy": float(np.mean([p == t for p, t in zip(predictions, labels)])), "speakers": len(speakers),
            "utterances": len(labels), "confusions": confusions}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m avse_tf.data.synth.voices",
        description="Speaker-ID check: per-utterance MFCC mean+std, nearest speaker centroid, leave-one-out.")
    parser.add_argument("corpus", help="GRID-layout corpus folder (s<k>/audio/<id>.wav)")
    parser.add_argument("--speakers", nargs="*", default=None, help="speaker folders (default: all)")
    parser.add_argument("--utterances", type=int, default=None, help="utterances per speaker (default: all)")
    args = parser.parse_args(argv)
    result = corpus_speaker_id(args.corpus, args.speakers, args.utterances)
    print(f"speaker-ID accuracy {100 * result['accuracy']:.1f} % ({result['speakers']} speakers, "
          f"{result['utterances']} utterances, leave-one-out nearest centroid)")
    for speaker, predicted in sorted(result["confusions"].items()):
        print(f"  {speaker} taken for {' '.join(predicted)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
