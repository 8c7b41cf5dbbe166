"""The independent phone recogniser that measures the PER of inpainted speech (paper §3.3)."""

from __future__ import annotations

import json
import logging
import os

import numpy as np

from avse_tf.constants import SAMPLE_RATE
from avse_tf.data import grid
from avse_tf.errors import UserInputError
from avse_tf.systems.av_inpainting.pipeline import (
    NUM_SAMPLES,
    load_gap_set,
    recognizer_features,
    records_manifest,
)
from avse_tf.training.checkpoints import load_model

log = logging.getLogger(__name__)

RECOGNIZER_LEARNING_RATE = 3e-3
RECOGNIZER_COPIES = 4  # per epoch: each clean clip once as it is + 3 speed / shift perturbed copies
RECOGNIZER_SPEEDS = tuple(round(0.86 + 0.02 * k, 2) for k in range(15))  # 0.86 ... 1.14
RECOGNIZER_MAX_SHIFT = 0.2  # seconds
RECOGNIZER_FILE = "recognizer.json"


#
# An independent recogniser measures the PER (the paper, §3.3): it never sees gapped or inpainted
# speech, only the clean training (and, for early stopping, validation) speakers. It is a frame
# classifier: the ``phone_recognizer`` BLSTM on 80 log-mel bands (:func:`recognizer_features`)
# trained with cross-entropy against per-frame phone targets (39 CMUdict phones 1..39, silence 0;
# :func:`avse_tf.data.phones.frame_phone_labels`, phones spread over GRID's word timings), and
# decoded by taking the most likely class per frame (after a short moving average of the posteriors
# and dropping 1-frame runs, :func:`decode_frame_phones`), collapsing repeats and dropping silence.
# Cross-entropy on frame targets learns in minutes where CTC from scratch on a few dozen clips stays
# on the all-blank plateau (the first recogniser here, CTC on 64 clips for 8 epochs, put the blank
# first in every frame; beam search then gave the one phone N for every clip; its PER is in the model
# card, ``avse_tf/systems/av_inpainting/README.md``).
# Augmentation, drawn anew each epoch: speed perturbation (resampling by 0.86 ... 1.14, which moves
# pitch, formants and timing together, like another speaker) and time shifts of up to 0.2 s.


def record_clips(records) -> list:
    """``[(speaker, utterance)]`` of a record set (from its ``gaps.json``; gap copies counted once)."""
    manifest = records_manifest(records)
    gap_file = os.path.join(os.path.dirname(manifest), "gaps.json")
    clips = list(dict.fromkeys((e["speaker"], e["utterance"]) for e in load_gap_set(gap_file)["entries"]))
    if not clips:
        raise UserInputError(f"no clips in {gap_file}")
    return clips


def recognizer_clip(data_dir, speaker, utterance, audio_dir="audio", align_dir="align", num_samples=NUM_SAMPLES):
    """``(waveform, phone_spans)`` of a corpus clip: the clean wav (padded / trimmed to
    ``num_samples``) and its phones with times (:func:`avse_tf.data.phones.align_phone_spans`)."""
    from avse_tf.audio.io import load_audio
    from avse_tf.data.phones import align_phone_spans
    from avse_tf.data.preprocess import _fit_length

    name = grid.speaker_name(speaker)
    audio_path = os.path.join(data_dir, name, audio_dir, utterance + ".wav")
    align_path = os.path.join(data_dir, name, align_dir, utterance + ".align")
    if not os.path.isfile(align_path):
        raise UserInputError(f"alignment not found: {align_path}; the phone recogniser needs .align files (`avse align` "
                             "writes them from transcripts)")
    waveform = load_audio(audio_path, SAMPLE_RATE)
    if num_samples:
        waveform = _fit_length(waveform, num_samples, audio_path)
    return waveform.astype(np.float32), align_phone_spans(align_path)


def recognizer_example(waveform, spans, rng=None):
    """``(waveform, frame_labels)`` of one training example; with ``rng`` a perturbed copy: speed
    ``s`` from :data:`RECOGNIZER_SPEEDS` (resampled, so ``1 / s`` as long) and a shift of up to
    :data:`RECOGNIZER_MAX_SHIFT` s (the clip keeps its length: zeros come in, audio past the edges
    goes), with the phone spans moved to match."""
    from avse_tf.audio.io import resample
    from avse_tf.data.phones import frame_phone_labels

    waveform = np.asarray(waveform, np.float32)
    length = waveform.size
    frames = int(np.ceil(length / 192))
    if rng is None:
        return waveform, frame_phone_labels(spans, frames)
    speed = float(RECOGNIZER_SPEEDS[int(rng.integers(len(RECOGNIZER_SPEEDS)))])
    shift = float(rng.uniform(-RECOGNIZER_MAX_SHIFT, RECOGNIZER_MAX_SHIFT))
    moved = resample(waveform, int(round(SAMPLE_RATE * speed)), SAMPLE_RATE)
    offset = int(round(shift * SAMPLE_RATE))
    output = np.zeros(length, np.float32)
    source, target = max(0, -offset), max(0, offset)
    count = max(0, min(moved.size - source, length - target))
    output[target:target + count] = moved[source:source + count]
    return output, frame_phone_labels(spans, frames, time_scale=1.0 / speed, time_shift=offset / SAMPLE_RATE)


def recognizer_dataset(data_dir, clips, batch_size=16, copies=1, seed=None, shuffle=False, audio_dir="audio",
                       align_dir="align"):
    """``tf.data`` batches ``({"log_mel", "sequence_length"}, {"phone_logits": frame labels},
    {"phone_logits": frame weights})`` of the clean ``clips``. Each pass (epoch) gives every clip
    once as it is and ``copies - 1`` times perturbed (:func:`recognizer_example`), new draws each
    pass (reproducible with ``seed``); ``shuffle`` mixes the order."""
    import tensorflow as tf

    passes = [0]

    def generate():
        rng = np.random.default_rng([0 if seed is None else int(seed), passes[0]])
        passes[0] += 1
        order = [(clip, copy) for clip in clips for copy in range(max(1, int(copies)))]
        if shuffle:
            order = [order[i] for i in rng.permutation(len(order))]
        for (speaker, utterance), copy in order:
            waveform, clip_spans = recognizer_clip(data_dir, speaker, utterance, audio_dir, align_dir)
            yield recognizer_example(waveform, clip_spans, rng if copy else None)

    frames = int(np.ceil(NUM_SAMPLES / 192))
    dataset = tf.data.Dataset.from_generator(generate, output_signature=(
        tf.TensorSpec([NUM_SAMPLES], tf.float32), tf.TensorSpec([frames], tf.int32)))

    def to_model(waveforms, labels):
        features = recognizer_features(waveforms)
        lengths = tf.fill(tf.shape(waveforms)[:1], tf.shape(features)[1])
        return ({"log_mel": features, "sequence_length": lengths}, {"phone_logits": labels},
                {"phone_logits": tf.ones(tf.shape(labels), tf.float32)})

    return dataset.batch(batch_size).map(to_model).prefetch(1)


def compile_recognizer(model, learning_rate=RECOGNIZER_LEARNING_RATE):
    """Adam and per-frame cross-entropy on ``phone_logits`` (targets: frame labels, 0 = silence)."""
    import keras

    from avse_tf.training import make_optimizer

    model.compile(optimizer=make_optimizer("adam", learning_rate),
                  loss={"phone_logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True)})
    return model


def train_recognizer(data_dir, train_clips, validation_clips, exp_dir, batch_size=16, epochs=20, patience=5,
                     seed=None, hidden_units=250, layers=None, learning_rate=RECOGNIZER_LEARNING_RATE,
                     copies=RECOGNIZER_COPIES, audio_dir="audio", align_dir="align", verbose="auto") -> dict:
    """Train the PER phone recogniser on clean speech (see the section comment above).

    ``train_clips`` / ``validation_clips``: ``[(speaker, utterance)]`` of ``data_dir`` (GRID layout,
    with ``.align`` files). Early stopping on the validation cross-entropy; resumable like every
    training (:func:`avse_tf.training.fit`). When done, writes ``<exp_dir>/recognizer.json``: phone
    set, targets, decoding and the validation PER of the best model (clean speech, greedy decoding);
    the returned summary holds it as ``validation_per``.
    """
    import keras

    from avse_tf.data.phones import PHONE_WEIGHTS, PHONES
    from avse_tf.systems.av_inpainting.model import build_model
    from avse_tf.training import fit
    from avse_tf.utils import atomic_write_text

    if not train_clips or not validation_clips:
        raise UserInputError("the phone recogniser needs training and validation clips")
    if seed is not None:
        keras.utils.set_random_seed(seed)
    os.makedirs(exp_dir, exist_ok=True)
    kwargs = {"hidden_units": hidden_units}
    if layers:
        kwargs["num_layers"] = layers
    model = compile_recognizer(build_model("phone_recognizer", **kwargs), learning_rate)
    train_dataset = recognizer_dataset(data_dir, train_clips, batch_size, copies, seed, True, audio_dir, align_dir)
    validation_dataset = recognizer_dataset(data_dir, validation_clips, batch_size, 1, seed, False, audio_dir,
                                            align_dir)
    summary = dict(fit(model, train_dataset, validation_dataset, epochs, exp_dir, patience=patience, verbose=verbose))
    description_path = os.path.join(exp_dir, RECOGNIZER_FILE)
    if os.path.isfile(description_path):
        with open(description_path, encoding="utf-8") as handle:
            description = json.load(handle)
    else:
        best = load_model(exp_dir)
        description = {
            "phones": ["<silence/blank>"] + list(PHONES),
            "targets": "frame labels: each word's CMUdict phones spread over its .align span in proportion to "
                       "nominal durations (vowels 2, others 1); 0 = silence",
            "phone_weights": PHONE_WEIGHTS,
            "features": "80 log-mel bands 125-7600 Hz of the 384/192/512 STFT, per-utterance mean/variance "
                        "normalisation",
            "loss": "per-frame cross-entropy",
            "decoding": f"posteriors averaged over {RECOGNIZER_SMOOTHING} frames, per-frame argmax, runs shorter "
                        f"than {RECOGNIZER_MIN_FRAMES} frames dropped, repeats collapsed, silence dropped",
            "training_clips": len(train_clips), "copies_per_epoch": int(copies),
            "augmentation": {"speeds": list(RECOGNIZER_SPEEDS), "max_shift_s": RECOGNIZER_MAX_SHIFT},
            "learning_rate": float(learning_rate), "batch_size": int(batch_size),
            "validation_clips": len(validation_clips),
            "validation_per": recognizer_per(best, data_dir, validation_clips, audio_dir=audio_dir,
                                             align_dir=align_dir)["per"],
        }
        atomic_write_text(description_path, json.dumps(description, indent=1) + "\n")
    summary["validation_per"] = description["validation_per"]
    return summary


RECOGNIZER_SMOOTHING = 5  # frames (60 ms) of moving average on the posteriors before the argmax
RECOGNIZER_MIN_FRAMES = 2  # shorter runs of one class are dropped before collapsing


def decode_frame_phones(logits, lengths=None, smoothing=RECOGNIZER_SMOOTHING,
                        min_frames=RECOGNIZER_MIN_FRAMES) -> list:
    """Phone ids from the frame classifier's ``[B, T, C]`` logits (class 0 = silence): posteriors
    averaged over ``smoothing`` frames, argmax per frame, runs shorter than ``min_frames`` dropped,
    repeats collapsed, silence dropped. The two settings were chosen on the validation speakers of
    a model-card run (smoothing 1/3/5/7/9 frames x minimum 1/2/3, against the plain argmax); the
    PERs it gives are in the model card (``avse_tf/systems/av_inpainting/README.md``)."""
    from scipy.ndimage import uniform_filter1d

    from avse_tf.data.phones import collapse_frame_labels

    logits = np.asarray(logits, np.float64)
    lengths = np.full(len(logits), logits.shape[1]) if lengths is None else np.asarray(lengths).reshape(-1)
    decoded = []
    for row, length in zip(logits, lengths):
        row = row[: int(length)]
        posteriors = np.exp(row - row.max(axis=-1, keepdims=True))
        posteriors /= posteriors.sum(axis=-1, keepdims=True)
        if smoothing > 1 and len(row):
            posteriors = uniform_filter1d(posteriors, int(smoothing), axis=0, mode="nearest")
        labels = posteriors.argmax(axis=-1)
        if min_frames > 1 and len(labels):
            edges = np.flatnonzero(np.diff(labels)) + 1
            starts, ends = np.concatenate([[0], edges]), np.concatenate([edges, [len(labels)]])
            labels = np.concatenate([labels[a:b] for a, b in zip(starts, ends) if b - a >= min_frames] or [[]])
        decoded.append(collapse_frame_labels(labels))
    return decoded


def recognise(recognizer, waveforms, beam_width=1) -> list:
    """Phone ids the PER recogniser hears in each waveform (equal lengths).

    ``beam_width`` 1 (default): the frame classifier's decoding, :func:`decode_frame_phones`.
    ``beam_width`` > 1: CTC beam search (:func:`avse_tf.systems.av_inpainting.model.decode_phones`), meant for
    CTC-trained phone heads; on the frame classifier it inserts phones (a higher PER than width 1
    on clean speech; the recogniser's PERs are in the model card).
    """
    from avse_tf.systems.av_inpainting.model import decode_phones

    if recognizer is None:
        return [None] * len(waveforms)
    stacked = np.stack(waveforms).astype(np.float32)
    features = recognizer_features(stacked).numpy()
    logits = recognizer.predict_on_batch({"log_mel": features,
                                          "sequence_length": np.full(len(stacked), features.shape[1], np.int32)})
    logits = logits["phone_logits"] if isinstance(logits, dict) else logits
    lengths = np.full(len(stacked), features.shape[1])
    if beam_width > 1:
        return decode_phones(logits, lengths, beam_width)
    return decode_frame_phones(logits, lengths)


def recognizer_per(recognizer, data_dir, clips, batch_size=16, beam_width=1, audio_dir="audio",
                   align_dir="align") -> dict:
    """PER of the recogniser (checkpoint, experiment folder or model) on the clean ``clips``:
    ``{"per", "errors", "phones", "examples": [(speaker, utterance, reference, hypothesis), ...]}``
    (phone ids; the PER is pooled: total edits / total reference phones)."""
    from avse_tf.data.phones import align_phone_ids
    from avse_tf.metrics import edit_distance

    recognizer = load_model(recognizer) if isinstance(recognizer, (str, os.PathLike)) else recognizer
    examples, errors, total = [], 0, 0
    for first in range(0, len(clips), batch_size):
        chunk = clips[first:first + batch_size]
        waveforms = [recognizer_clip(data_dir, s, u, audio_dir, align_dir)[0] for s, u in chunk]
        for (speaker, utterance), heard in zip(chunk, recognise(recognizer, waveforms, beam_width)):
            reference = align_phone_ids(os.path.join(data_dir, grid.speaker_name(speaker), align_dir,
                                                     utterance + ".align"))
            errors += edit_distance(reference, heard)
            total += len(reference)
            examples.append((speaker, utterance, reference, heard))
    return {"per": errors / max(total, 1), "errors": errors, "phones": total, "examples": examples}

