"""``avse lip2speech test``: speech from silent lips on a record split, scored (issue 18; the
original's ``test.py`` with the evaluation the paper reports).

Per test clip: the model's linear spectrogram -> waveform (:mod:`synthesis`: Griffin-Lim 60,
de-emphasis) compared with the clip's own audio (the preprocessed flac, peak 0.9) by STOI, ESTOI,
PESQ narrow-band at 8 kHz (the paper's) and wide-band at 16 kHz, mel-cepstral distortion, and, for
English, the word error rate of PocketSphinx (CMU US-English acoustic model, GRID grammar) against
the clip's words, with the recogniser's floor: its WER on the clean reference audio of the same clips.
Clips shorter than a full segment (padded tails) are scored on their valid frames.

Baseline (:func:`nearest_neighbour_waveforms`): each test clip gets the audio of the training clip
whose lips look most alike: mean per-frame Euclidean distance between the visual front-end's
local features (of a trained model, so the features are the ones the generator reads).
"""

from __future__ import annotations

import csv
import json
import os

import numpy as np

from avse_tf.constants import SAMPLE_RATE
from avse_tf.systems.vca_gan.features import SAMPLES_PER_VIDEO_FRAME

SIGNAL_METRICS = ("stoi", "estoi", "pesq_nb", "pesq_wb", "mcd")
# The paper's GRID constrained-speaker row (fact sheet; as remembered, unverified). WER in %, PESQ nb.
PAPER_GRID_CONSTRAINED = {"stoi": 0.724, "estoi": 0.609, "pesq_nb": 2.008, "wer": 0.1225}


def predicted_clips(model, records, batch_size=8, generate=True):
    """Yield ``{"clip", "frames", "local"}`` per clip of a record set, whole clips (the reader's
    variable mode), with ``"mel"`` and ``"linear"`` (predicted) when ``generate``; ``local``: the
    front-end's per-frame features [T, C]. The front-end runs once per batch; the generator only
    when asked (the nearest-neighbour baseline needs the training clips' features alone)."""
    from avse_tf.systems.vca_gan.pipeline import make_lip2speech_dataset

    for batch in make_lip2speech_dataset(records, batch_size, "variable"):
        lengths = batch["video_length"]
        local, context = model.frontend([batch["video"], lengths], training=False)
        outputs = model.decode(local, context, lengths) if generate else None
        for index in range(int(lengths.shape[0])):
            frames = int(lengths[index])
            clip = {"clip": batch["clip"][index].numpy().decode(), "frames": frames,
                    "local": np.asarray(local[index, :frames])}
            if generate:
                clip.update(linear=np.asarray(outputs["linear"][index, :4 * frames]),
                            mel=np.asarray(outputs["mel"][index, :4 * frames]))
            yield clip


def reference_audio(grid, clip, frames) -> np.ndarray:
    """The segment's preprocessed audio (``<grid>/<clip>/audio/<clip>.flac``), its valid part, peak 0.9."""
    from avse_tf.audio.io import load_audio
    from avse_tf.systems.vca_gan.synthesis import reference_waveform

    waveform = load_audio(os.path.join(grid, clip, "audio", clip + ".flac"), SAMPLE_RATE)
    return reference_waveform(waveform[:frames * SAMPLES_PER_VIDEO_FRAME])


def clip_words(grid, clip):
    """The words of a segment's source clip (GRID id, transcript or .align: the shared reader), or
    None when the segment is not a whole clip or nothing gives its words."""
    from avse_tf.data.corpora.transcripts import TranscriptError, clip_transcript

    features = os.path.join(grid, clip, "features", clip + ".npz")
    with np.load(features) as data:
        source, start = str(data["source"]), int(data["start_frame"])
    if start != 0 or not clip.endswith("_000"):
        return None
    video_dir = os.path.dirname(source)
    speaker_dir = os.path.dirname(video_dir)
    try:
        return clip_transcript(os.path.dirname(speaker_dir), os.path.basename(speaker_dir),
                               os.path.splitext(os.path.basename(source))[0])[0]
    except TranscriptError:
        return None


def score(reference, estimate, words=None) -> dict:
    """One clip's row (module doc); ``words`` None: no WER."""
    from avse_tf.metrics import estoi, mcd, pesq, stoi
    from avse_tf.metrics.recognition import clip_errors

    row = {"stoi": stoi(reference, estimate), "estoi": estoi(reference, estimate),
           "pesq_nb": pesq(reference, estimate, SAMPLE_RATE, "nb"), "pesq_wb": pesq(reference, estimate, SAMPLE_RATE, "wb"),
           "mcd": mcd(reference, estimate)}
    if words is not None:
        errors, length = clip_errors("wer", words, estimate, SAMPLE_RATE)
        row.update({"word_errors": errors, "words": length})
    return row


def summarize(rows) -> dict:
    """Means of the signal metrics; WER pooled over words (``wer`` only when every row has words)."""
    summary = {name: float(np.mean([row[name] for row in rows])) for name in SIGNAL_METRICS}
    if rows and all("words" in row for row in rows):
        summary["wer"] = sum(row["word_errors"] for row in rows) / max(1, sum(row["words"] for row in rows))
    summary["clips"] = len(rows)
    return summary


def nearest_neighbour_waveforms(train_clips, test_clips, grid) -> dict:
    """``{test clip: the waveform of the training clip with the closest lips}`` (module doc), cut or
    zero-padded to the test clip's length."""
    names = [clip["clip"] for clip in train_clips]
    result = {}
    for clip in test_clips:
        distances = []
        for candidate in train_clips:
            frames = min(clip["frames"], candidate["frames"])
            distances.append(float(np.mean(np.linalg.norm(clip["local"][:frames] - candidate["local"][:frames], axis=-1))))
        best = train_clips[int(np.argmin(distances))]
        audio = reference_audio(grid, names[int(np.argmin(distances))], best["frames"])
        length = clip["frames"] * SAMPLES_PER_VIDEO_FRAME
        result[clip["clip"]] = np.pad(audio[:length], (0, max(0, length - audio.size)))
    return result


def test(grid, checkpoint, split="test", batch_size=8, save_mel=False, save_wav=False, output_dir=None,
         griffin_lim_iterations=60, recognize=True, nearest_neighbour=False) -> dict:
    """Score ``checkpoint`` on ``<grid>/tfrecords/<split>`` (module doc). Writes ``<output_dir>/scores.csv``
    (one row per clip), ``summary.json`` and, asked for, ``mel/<clip>.npz`` (``mel``, ``linear``: the
    seed's ``--save_mel``) and ``wav/<clip>.wav``. ``recognize``: WER when the clips' words are known.
    ``nearest_neighbour``: also the baseline (needs the training records). Returns
    ``{"model": summary, "clean": {"wer"}, "nearest_neighbour": summary}``."""
    from avse_tf.audio.io import write_audio
    from avse_tf.records import record_errors
    from avse_tf.systems.vca_gan.synthesis import linear_to_waveform
    from avse_tf.systems.vca_gan.train import split_manifest
    from avse_tf.training.checkpoints import load_model
    from avse_tf.utils import atomic_path, atomic_write_text

    records = split_manifest(grid, split)
    model = checkpoint if not isinstance(checkpoint, str) else load_model(checkpoint, what="VCA-GAN model",
                                                                           flag="--checkpoint", compile=False)
    output_dir = output_dir or os.path.join(grid, "test_results", split)
    os.makedirs(output_dir, exist_ok=True)
    rows, clean_rows, clips = [], [], []
    with record_errors(records):
        for clip in predicted_clips(model, records, batch_size):
            name, frames = clip["clip"], clip["frames"]
            clips.append(clip)
            waveform = linear_to_waveform(clip["linear"], griffin_lim_iterations)
            reference = reference_audio(grid, name, frames)
            words = clip_words(grid, name) if recognize else None
            rows.append({"clip": name, **score(reference, waveform, words)})
            if words is not None:
                from avse_tf.metrics.recognition import clip_errors

                errors, length = clip_errors("wer", words, reference, SAMPLE_RATE)
                clean_rows.append({"word_errors": errors, "words": length})
            if save_mel:
                with atomic_path(os.path.join(output_dir, "mel", name + ".npz")) as temporary:
                    np.savez(temporary, mel=clip["mel"], linear=clip["linear"])
            if save_wav:
                write_audio(os.path.join(output_dir, "wav", name + ".wav"), waveform, SAMPLE_RATE)
    result = {"model": summarize(rows)}
    if clean_rows and len(clean_rows) == len(rows):
        result["clean"] = {"wer": sum(r["word_errors"] for r in clean_rows) / max(1, sum(r["words"] for r in clean_rows))}
    if nearest_neighbour:
        train_clips = list(predicted_clips(model, split_manifest(grid, "training"), batch_size, generate=False))
        neighbours = nearest_neighbour_waveforms(train_clips, clips, grid)
        result["nearest_neighbour"] = summarize([
            score(reference_audio(grid, clip["clip"], clip["frames"]), neighbours[clip["clip"]],
                  clip_words(grid, clip["clip"]) if recognize else None) for clip in clips])
    with atomic_path(os.path.join(output_dir, "scores.csv")) as temporary:
        with open(temporary, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=sorted({key for row in rows for key in row}))
            writer.writeheader()
            writer.writerows(rows)
    atomic_write_text(os.path.join(output_dir, "summary.json"), json.dumps(result, indent=1) + "\n")
    return result
