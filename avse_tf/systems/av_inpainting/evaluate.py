"""Reconstruction of the gaps and testing of an inpainting model on a record set."""

from __future__ import annotations

import logging
import os

import numpy as np

from avse_tf.constants import NORM_FILE, SAMPLE_RATE
from avse_tf.errors import UserInputError
from avse_tf.systems.av_inpainting.phone_recognizer import recognise
from avse_tf.systems.av_inpainting.pipeline import STFT, model_batch, records_manifest, require_phone_labels
from avse_tf.training.checkpoints import load_model

log = logging.getLogger(__name__)


def inpaint_magnitude(predicted_log, magnitude, gap, stats) -> np.ndarray:
    """Linear magnitude ``[T, F]``: the input's in reliable frames, the model's (de-normalised log)
    in the gap."""
    from avse_tf.audio.features import inverse_log_magnitude

    mean, std = stats["spectrogram"]
    estimate = inverse_log_magnitude(np.asarray(predicted_log, np.float32) * std + mean).numpy()
    return np.where(np.asarray(gap).reshape(-1, 1) > 0.5, estimate, magnitude).astype(np.float32)


def gapped_waveform(magnitude, phase, gap, num_samples) -> np.ndarray:
    """The unprocessed signal: gap frames zeroed (silence in the gap), least-squares iSTFT."""
    from avse_tf.audio.stft import from_magnitude_phase, istft

    kept = np.where(np.asarray(gap).reshape(-1, 1) > 0.5, 0.0, magnitude).astype(np.float32)
    return istft(from_magnitude_phase(kept, phase), STFT, num_samples).numpy()


def save_figure(path, gapped, inpainted, reference=None) -> None:
    """PNG with the gapped, inpainted and (if given) reference log spectrograms stacked (top to bottom)."""
    from avse_tf.plots import save_array_png

    arrays = [gapped, inpainted] + ([reference] if reference is not None else [])
    low = float(min(np.min(a) for a in arrays[1:]))
    high = float(max(np.max(a) for a in arrays))
    save_array_png(path, arrays, low, high)


def _decode(value):
    value = value.numpy() if hasattr(value, "numpy") else value
    return value.decode() if isinstance(value, bytes) else str(value)


def _load_inpainting_model(checkpoint):
    from avse_tf.systems.av_inpainting.model import INPAINTING_MODELS

    model = load_model(checkpoint) if isinstance(checkpoint, str) else checkpoint
    if getattr(model, "architecture", model.name) not in INPAINTING_MODELS:
        raise UserInputError(f"{checkpoint} holds {model.name!r}, not an inpainting model ({', '.join(INPAINTING_MODELS)})")
    return model


def _predicted_batches(manifest, model, batch_size, zero_video=False):
    """``(batch, inputs, targets, predicted spectrograms)`` of every batch of a record set.

    ``zero_video``: an ablation, not in the original: the video features are replaced by zeros
    (the training mean of the normalised landmark motion), to measure how much the model uses them."""
    from avse_tf.records import make_dataset
    from avse_tf.systems.av_inpainting.model import MODEL_SPECS

    if zero_video and not MODEL_SPECS[model.architecture]["video"]:
        raise UserInputError(f"{model.architecture} has no video input; zero_video applies to the AV models")
    for batch in make_dataset(manifest, batch_size=batch_size):
        inputs, targets, _ = model_batch(batch, model.architecture)
        if zero_video:
            inputs["video_features"] = np.zeros_like(inputs["video_features"])
        yield batch, inputs, targets, model.predict_on_batch(inputs)["inpainted_spectrogram"]


def clip_gap_l1(clean_norm, predicted, gap) -> dict:
    """The paper's L1 of one clip: mean absolute error over the gap's frames (all bins) of the
    normalised log spectrogram, of the unprocessed input (zeros in the gap) and of the inpainted
    one; ``{"gap_ms", "l1_unprocessed", "l1_inpainted"}``. ``clean_norm``, ``predicted``:
    ``[T, F]``; ``gap``: ``[T]`` (1 = missing frame)."""
    from avse_tf.data.gaps import FRAME_MS
    from avse_tf.metrics import l1

    gap = np.asarray(gap).reshape(-1)
    inside = gap[:, None] > 0.5
    return {"gap_ms": float(gap.sum() * FRAME_MS),
            "l1_unprocessed": l1(clean_norm, np.zeros_like(clean_norm), inside),
            "l1_inpainted": l1(clean_norm, predicted, inside)}


def gap_l1(test_records, checkpoint, batch_size=8, zero_video=False) -> list:
    """Per clip of a record set, the gap L1 of a model (:func:`clip_gap_l1`) without reconstructing
    waveforms: rows ``{"speaker", "utterance", "gap_ms", "l1_unprocessed", "l1_inpainted"}`` in
    record order. ``checkpoint``: a path or a loaded model; ``zero_video``: see :func:`test`."""
    from avse_tf.records import record_errors

    model = _load_inpainting_model(checkpoint)
    manifest = records_manifest(test_records)
    rows = []
    with record_errors(manifest):
        for batch, inputs, targets, predictions in _predicted_batches(manifest, model, batch_size, zero_video):
            for index in range(int(inputs["sequence_length"].shape[0])):
                frames = int(inputs["sequence_length"][index])
                rows.append({"speaker": _decode(batch["speaker"][index]),
                             "utterance": _decode(batch["utterance"][index]),
                             **clip_gap_l1(np.asarray(targets["inpainted_spectrogram"][index, :frames]),
                                           np.asarray(predictions[index, :frames]),
                                           np.asarray(inputs["gap_mask"][index, :frames, 0]))})
    if not rows:
        raise UserInputError(f"no examples in {test_records}")
    return rows


def test(test_records, checkpoint, output_dir, recognizer=None, phase="auto", oracle_phase=False, batch_size=8,
         write_wavs=True, num_figures=2, beam_width=1, stats_path=None, griffin_lim_iterations=100,
         zero_video=False, recognition=("per", "wer")):
    """Inpaint every example of a record set and score it; returns ``(rows, summary)``.

    Per example: gap L1 on the normalised log spectrogram, STOI, PESQ (narrow band, P.862.1 MOS-LQO)
    of the inpainted and of the unprocessed (gapped) signal; the ``recognition`` measures (``per``,
    ``wer``, ``wer_free``: PocketSphinx, :mod:`avse_tf.metrics.recognition`, against the clip's
    transcript) of both and of the clean signal (the recogniser's floor); and with ``recognizer``
    (the project's phone recogniser, :func:`train_recognizer`, an optional extra) its phone edit
    counts, as ``per_blstm_*``, decoded with :func:`recognise` (``beam_width`` 1: the frame
    classifier's decoding). ``summary`` holds the means (error rates pooled over the set: total
    edits / total reference length). Writes
    ``metrics_<model>.csv`` and, with ``write_wavs``, ``<speaker>/<utterance>.wav`` plus
    ``num_figures`` figures (gapped / inpainted / reference spectrograms). ``zero_video`` (AV
    models only): an ablation, not in the original: the video features are replaced by zeros.
    """
    import csv

    from avse_tf.audio.io import write_audio
    from avse_tf.audio.phase import reconstruct_waveform
    from avse_tf.audio.stft import magnitude_phase, stft
    from avse_tf.data.normalization import load_stats
    from avse_tf.metrics import edit_distance, stoi
    from avse_tf.data.corpora.transcripts import clip_transcript
    from avse_tf.metrics.recognition import recognition_row
    from avse_tf.records import record_errors
    from avse_tf.utils import atomic_path

    model = _load_inpainting_model(checkpoint)
    model_name = model.architecture
    manifest = records_manifest(test_records)
    stats = load_stats(stats_path or os.path.join(os.path.dirname(os.path.dirname(manifest)), NORM_FILE))
    recognizer = load_model(recognizer) if isinstance(recognizer, str) else recognizer
    if recognizer is not None:  # PER compares with the records' phone labels
        require_phone_labels(test_records, "PER with the phone recogniser", every_clip=True)
    method = "oracle" if oracle_phase else phase
    rows = []
    with record_errors(manifest):
        for batch, inputs, targets, predictions in _predicted_batches(manifest, model, batch_size, zero_video):
            inpainted_waves, gapped_waves, clean_waves, references = [], [], [], []
            for index in range(int(inputs["sequence_length"].shape[0])):
                frames = int(inputs["sequence_length"][index])
                gap = np.asarray(inputs["gap_mask"][index, :frames, 0])
                clean_norm = np.asarray(targets["inpainted_spectrogram"][index, :frames])
                predicted = np.asarray(predictions[index, :frames])
                clean = np.asarray(batch["clean_wav"][index], np.float32).reshape(-1)[: int(batch["num_samples"][index])]
                speaker, utterance = _decode(batch["speaker"][index]), _decode(batch["utterance"][index])
                references.append([int(p) for p in np.asarray(batch["phones"][index])[: int(batch["num_phones"][index])]])
                magnitude, true_phase = (value.numpy()[:frames] for value in magnitude_phase(stft(clean, STFT)))
                estimate = inpaint_magnitude(predicted, magnitude, gap, stats)
                inpainted = reconstruct_waveform(estimate, true_phase, gap, method, STFT, clean.size,
                                                 oracle_phase=true_phase, iterations=griffin_lim_iterations)
                gapped = gapped_waveform(magnitude, true_phase, gap, clean.size)
                row = {"model": model_name, "speaker": speaker, "utterance": utterance,
                       **clip_gap_l1(clean_norm, predicted, gap),
                       "stoi_unprocessed": stoi(clean, gapped, SAMPLE_RATE),
                       "stoi_inpainted": stoi(clean, inpainted, SAMPLE_RATE),
                       "pesq_unprocessed": _safe_pesq(clean, gapped), "pesq_inpainted": _safe_pesq(clean, inpainted)}
                if recognition:
                    corpus = os.path.dirname(os.path.dirname(os.path.dirname(_decode(batch["audio_path"][index]))))
                    words, _ = clip_transcript(corpus, speaker, utterance)
                    row.update(recognition_row(recognition, words, {
                        "unprocessed": gapped, "inpainted": inpainted, "clean": clean}, SAMPLE_RATE))
                rows.append(row)
                inpainted_waves.append(inpainted)
                gapped_waves.append(gapped)
                clean_waves.append(clean)
                if write_wavs:
                    write_audio(os.path.join(output_dir, speaker, utterance + ".wav"), inpainted, SAMPLE_RATE)
                    if len(rows) <= num_figures:
                        mean, std = stats["spectrogram"]
                        save_figure(os.path.join(output_dir, speaker, utterance + ".png"),
                                    np.where(gap[:, None] > 0.5, np.log(1e-6), clean_norm * std + mean),
                                    predicted * std + mean, clean_norm * std + mean)
            if recognizer is not None:
                heard = {name: recognise(recognizer, signals, beam_width) for name, signals in
                         (("inpainted", inpainted_waves), ("unprocessed", gapped_waves), ("clean", clean_waves))}
                for offset, phones in enumerate(references):
                    row = rows[len(rows) - len(references) + offset]
                    row["blstm_phones"] = len(phones)
                    for name, hypotheses in heard.items():
                        row[f"blstm_phone_errors_{name}"] = edit_distance(phones, hypotheses[offset])
    if not rows:
        raise UserInputError(f"no examples in {test_records}")
    os.makedirs(output_dir, exist_ok=True)
    columns = list(rows[0].keys())
    with atomic_path(os.path.join(output_dir, f"metrics_{model_name}.csv")) as temporary:
        with open(temporary, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    return rows, summarize(rows, recognition)


def _safe_pesq(reference, estimate):
    from avse_tf.errors import MetricInputError
    from avse_tf.metrics import pesq

    try:
        return pesq(reference, estimate, SAMPLE_RATE, mode="nb")
    except MetricInputError:
        return float("nan")


def summarize(rows, recognition=()) -> dict:
    """Means of the metric columns; error rates pooled (edits / reference length); NaN PESQ rows
    skipped. The project recogniser's PER, where measured, is ``per_blstm_<kind>``."""
    from avse_tf.metrics.recognition import pooled_rates

    summary = {"examples": len(rows)}
    for column in ("l1", "stoi", "pesq"):
        for kind in ("unprocessed", "inpainted"):
            values = np.array([row[f"{column}_{kind}"] for row in rows], np.float64)
            summary[f"{column}_{kind}"] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
    if rows:
        summary.update(pooled_rates(rows, [m for m in recognition if f"{m}_clean" in rows[0]],
                                    ("unprocessed", "inpainted", "clean")))
    if rows and "blstm_phones" in rows[0]:
        total = sum(row["blstm_phones"] for row in rows)
        for kind in ("unprocessed", "inpainted", "clean"):
            summary[f"per_blstm_{kind}"] = sum(row[f"blstm_phone_errors_{kind}"] for row in rows) / max(total, 1)
    return summary
