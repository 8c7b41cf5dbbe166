"""Enhancement of a record set and its metrics (the seed's ``testing`` step), and the mask-to-waveform
reconstruction shared by testing, the Python API and the exported serving graphs.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from avse_tf.constants import SAMPLE_RATE
from avse_tf.errors import UserInputError
from avse_tf.systems.landmark_enhancement.pipeline import (
    STFT,
    make_model_dataset,
    model_batch,
    records_manifest,
)
from avse_tf.training.checkpoints import load_model

log = logging.getLogger(__name__)


def mask_and_magnitude(model_name, outputs, magnitude, mask_threshold=None):
    """The mask and the enhanced linear magnitude from a model's outputs (TensorFlow ops).

    VL2M: estimated TBM (optionally binarised at ``mask_threshold``) times the linear mixture
    magnitude. IAM models: the mask acts on |M|^0.3, so the linear magnitude is
    (IAM * |M|^0.3)^(1/0.3). av_concat_spec: its power-law spectrogram estimate (no mask).
    One implementation for testing, the Python API and the exported serving graphs.
    """
    import tensorflow as tf

    from avse_tf.audio import features

    magnitude = tf.convert_to_tensor(magnitude, tf.float32)
    if model_name == "vl2m":
        mask = tf.cast(outputs["tbm_estimate"], tf.float32)
        if mask_threshold is not None:
            mask = tf.cast(mask > mask_threshold, tf.float32)
        return mask, magnitude * mask
    if "mask" in outputs:
        mask = tf.cast(outputs["mask"], tf.float32)
        return mask, features.inverse_power_law(mask * features.power_law(magnitude))
    return None, features.inverse_power_law(tf.cast(outputs["enhanced_spectrogram"], tf.float32))


def reconstruct(model_name, outputs, mixture_wav, num_samples, mask_threshold=None):
    """Enhanced waveform and the mask of one example from the model's outputs (valid frames only).

    The mixture phase is reused (paper §2) and inverted with the least-squares iSTFT.
    """
    from avse_tf.audio import stft

    spectrogram = stft.stft(np.asarray(mixture_wav[:num_samples], np.float32), STFT)
    magnitude, phase = stft.magnitude_phase(spectrogram)
    frames = int(spectrogram.shape[0])
    mask, enhanced = mask_and_magnitude(model_name, {name: value[:frames] for name, value in outputs.items()},
                                        magnitude, mask_threshold)
    waveform = stft.istft(stft.from_magnitude_phase(enhanced, phase), STFT, num_samples).numpy()
    return waveform, (None if mask is None else mask.numpy())


def _decode(value):
    value = value.numpy() if hasattr(value, "numpy") else value
    return value.decode() if isinstance(value, bytes) else str(value)


def test(test_records, checkpoint, output_dir, data_dir=None, mask_dir=None, mask_threshold=None, batch_size=8,
         metrics=("sdr", "si_sdr", "pesq", "stoi", "estoi", "visqol"), sample_rate=SAMPLE_RATE, model_name=None,
         write_wavs=True, zero_video=False):
    """Enhance every example of a record set; write wavs, masks and a metrics CSV + summary.

    ``zero_video``: an ablation, not in the original: the model's video features are replaced by
    zeros, so the drop against a normal test measures how much the model relies on its video.

    ``metrics`` may include the recognition measures ``wer`` (GRID grammar), ``wer_free`` and
    ``per`` (PocketSphinx, :mod:`avse_tf.metrics.recognition`) against the target utterance's
    transcript (:func:`avse_tf.data.corpora.transcripts.clip_transcript` in ``data_dir``, default
    the corpus holding the records' target wavs); their rows add ``<metric>_clean``, the
    recogniser's floor on the clean target, and the summary pools them (errors over reference length).

    Returns ``(rows, summary)``: per-example metric rows and the mean of each column.
    """
    import csv

    from avse_tf.audio.io import write_audio
    from avse_tf.metrics import evaluate
    from avse_tf.plots import save_array_png
    from avse_tf.records import record_errors
    from avse_tf.systems.landmark_enhancement.model import MODEL_SPECS
    from avse_tf.utils import atomic_path, atomic_save_npy, progress

    from avse_tf.data.corpora.transcripts import clip_transcript
    from avse_tf.metrics.recognition import RECOGNITION_METRICS, pooled_rates, recognition_row

    recognition_metrics = tuple(m for m in metrics if m in RECOGNITION_METRICS)
    metrics = tuple(m for m in metrics if m not in RECOGNITION_METRICS)
    model = load_model(checkpoint)
    model_name = model_name or model.name
    if model_name not in MODEL_SPECS:
        raise UserInputError(f"{checkpoint} holds model {model.name!r}; pass --model one of {', '.join(MODEL_SPECS)}")
    dataset = make_model_dataset(test_records, model_name, batch_size, with_targets=False)
    batches = int(dataset.cardinality())
    rows = []
    with record_errors(records_manifest(test_records)):  # a damaged record: one line naming it
        for batch in progress(dataset, f"test {model_name} {os.path.basename(os.path.normpath(test_records))}",
                              total=batches if batches >= 0 else None, unit="batch"):
            inputs, _, _ = model_batch(batch, model_name)
            if zero_video:
                if "video_features" not in inputs:
                    raise UserInputError(f"{model_name} takes no video features (its video enters through the "
                                         "TBM); --zero_video applies to vl2m, av_concat_mask and av_concat_spec")
                inputs = {**inputs, "video_features": np.zeros_like(np.asarray(inputs["video_features"]))}
            predictions = model.predict_on_batch(inputs)
            for index in range(int(batch["sequence_length"].shape[0])):
                frames = int(batch["sequence_length"][index])
                samples = int(batch["num_samples"][index])
                outputs = {name: np.asarray(value[index][:frames]) for name, value in predictions.items()}
                waves = {name: np.asarray(batch[name][index]).reshape(-1)[:samples]
                         for name in ("target_wav", "interferers_wav", "mixture_wav")}
                enhanced, mask = reconstruct(model_name, outputs, waves["mixture_wav"], samples, mask_threshold)
                speaker = _decode(batch["speaker"][index])
                mixture_name = os.path.splitext(os.path.basename(_decode(batch["mixture_path"][index])))[0]
                utterance = _decode(batch["utterance"][index])
                if write_wavs:
                    write_audio(os.path.join(output_dir, speaker, mixture_name + ".wav"), enhanced, sample_rate)
                if mask_dir and mask is not None:
                    # VL2M's mask depends on the video only: one per utterance, ready for the _ref records.
                    name = utterance if model_name == "vl2m" else mixture_name
                    folder = os.path.join(data_dir or output_dir, speaker, mask_dir)
                    atomic_save_npy(os.path.join(folder, name + ".npy"), mask.astype(np.float32))
                    save_array_png(os.path.join(folder, name + ".png"), mask, 0.0,
                                   1.0 if model_name == "vl2m" else None)
                # BSS-eval v3 SDR of the target depends only on its own projection, so scoring against
                # [target, interferers] as the original did equals scoring against the target alone.
                scores = evaluate(waves["target_wav"], enhanced, waves["mixture_wav"], sample_rate,
                                  metrics=metrics) if metrics else {}
                row = {"model": model_name, "speaker": speaker, "mixture": mixture_name}
                for metric, values in scores.items():
                    row[f"{metric}_mixture"] = values["mixture"]
                    row[f"{metric}_enhanced"] = values["estimate"]
                    row[f"{metric}_improvement"] = values["improvement"]
                if recognition_metrics:
                    corpus = data_dir or os.path.dirname(os.path.dirname(os.path.dirname(
                        _decode(batch["target_path"][index]))))
                    words, _ = clip_transcript(corpus, speaker, utterance)
                    recognition = recognition_row(recognition_metrics, words, {
                        "mixture": waves["mixture_wav"], "enhanced": enhanced, "clean": waves["target_wav"]},
                        sample_rate)
                    for metric in recognition_metrics:  # negative: fewer errors than in the mixture
                        recognition[f"{metric}_improvement"] = (recognition[f"{metric}_enhanced"]
                                                                - recognition[f"{metric}_mixture"])
                    row.update(recognition)
                rows.append(row)
    if not rows:
        raise UserInputError(f"no examples in {test_records}")
    columns = list(rows[0].keys())
    os.makedirs(output_dir, exist_ok=True)
    with atomic_path(os.path.join(output_dir, f"metrics_{model_name}.csv")) as temporary:
        with open(temporary, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    summary = {column: float(np.mean([row[column] for row in rows])) for column in columns[3:]}
    summary.update(pooled_rates(rows, recognition_metrics, ("mixture", "enhanced", "clean")))
    for metric in recognition_metrics:
        summary[f"{metric}_improvement"] = summary[f"{metric}_enhanced"] - summary[f"{metric}_mixture"]
    summary["examples"] = len(rows)
    return rows, summary
