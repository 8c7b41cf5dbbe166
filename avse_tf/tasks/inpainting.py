"""Audio-visual speech inpainting (Morrone et al., ICASSP 2021), end to end.

Steps, as ``avse inpainting`` subcommands: log-magnitude spectrograms and landmarks
(:mod:`avse_tf.data.preprocess`, 2021 STFT), gaps (:func:`generate_gap_sets`,
:mod:`avse_tf.data.gaps`), records (:func:`generate_records`), training (:func:`train`; the PER
phone recogniser with :func:`train_recognizer`), testing (:func:`test`: inpainted wavs, figures,
L1 / STOI / PESQ / PER), and inpainting a user's own file (:func:`inpaint_file`).

Corpus layout (GRID's): ``<data_dir>/s<k>/{audio,video,align,landmarks,log_spectrograms}``.
Gap sets: ``<data_dir>/<gaps_dir>/<SET>.json`` list, per utterance, its speaker, id and gaps as
``[start_frame, num_frames]`` on the 2021 frame grid (12 ms hop), with the seed and distribution;
the records of a set store the same gaps (``gap_mask``) and a copy of the JSON.
"""

from __future__ import annotations

import json
import logging
import os
import shutil

import numpy as np

from avse_tf.data import grid
from avse_tf.errors import UserInputError

log = logging.getLogger(__name__)

STFT = "morrone2021"
FPS = 25.0
SAMPLE_RATE = 16000
NUM_SAMPLES = 48000
MIN_VIDEO_FRACTION = 70 / 75  # the original skips clips with < 70 of 75 frames, pads 70-74
SPECTROGRAM_DIR = "log_spectrograms"
RECORDS_MANIFEST = "records.json"
NORM_FILE = "normalization.npz"
TRAIN_SETS = ("TRAINING_SET", "VALIDATION_SET")
LEARNING_RATE = 1e-3  # the paper's Adam learning rate (inpainting models)
RECOGNIZER_LEARNING_RATE = 3e-3
RECOGNIZER_COPIES = 4  # per epoch: each clean clip once as it is + 3 speed / shift perturbed copies
RECOGNIZER_SPEEDS = tuple(round(0.86 + 0.02 * k, 2) for k in range(15))  # 0.86 ... 1.14
RECOGNIZER_MAX_SHIFT = 0.2  # seconds
RECOGNIZER_FILE = "recognizer.json"


def fixed_gap_set_name(gap_ms) -> str:
    return f"TEST_SET_{int(gap_ms)}ms"


# ----------------------------------------------------------------------------------------------
# Features of one clip

def _fit_video(landmarks, expected, source):
    """Landmarks ``[T, 136]`` made ``expected`` frames long: < 70/75 of them is an error (the original
    skipped such clips), fewer are padded by repeating the first frame, more are trimmed."""
    from avse_tf.video.align import pad_or_trim_frames

    minimum = int(np.ceil(expected * MIN_VIDEO_FRACTION))
    if len(landmarks) < minimum:
        raise UserInputError(f"{source} has {len(landmarks)} video frames but the audio needs {expected} at 25 fps "
                             f"(at least {minimum}); the video is missing frames: re-encode or trim the audio")
    return pad_or_trim_frames(landmarks, expected, source=source)


def video_motion(landmarks, num_frames, num_samples, source="video") -> np.ndarray:
    """Landmark motion at the spectrogram frame rate: 25 fps -> ``num_frames`` by linear
    interpolation, then frame differences with a zero first frame (fact sheet "Features: Video")."""
    from avse_tf.audio.io import duration_frames
    from avse_tf.video.align import deltas, upsample_to_frames

    landmarks = _fit_video(np.asarray(landmarks, np.float32), duration_frames(num_samples, SAMPLE_RATE, FPS), source)
    return deltas(upsample_to_frames(landmarks, num_frames), 1)


def log_spectrogram(waveform) -> tuple:
    """``(log |X| + 1e-6, phase)`` of the 2021 STFT (384/192/512), ``[T, 257]`` each."""
    from avse_tf.audio import features, stft

    magnitude, phase = stft.magnitude_phase(stft.stft(np.asarray(waveform, np.float32), STFT))
    return features.log_magnitude(magnitude).numpy(), phase.numpy()


def clip_features(data_dir, speaker, utterance, audio_dir="audio", landmark_dir="landmarks", align_dir="align",
                  num_samples=NUM_SAMPLES) -> dict:
    """Unnormalised features of one corpus clip: clean waveform, log spectrogram (the
    ``log_spectrograms`` NPY if present, else computed), landmark motion, phone labels."""
    from avse_tf.audio.io import load_audio
    from avse_tf.data.phones import align_phone_ids
    from avse_tf.data.preprocess import _fit_length
    from avse_tf.video.landmarks import load_landmarks_txt

    name = grid.speaker_name(speaker)
    audio_path = os.path.join(data_dir, name, audio_dir, utterance + ".wav")
    waveform = load_audio(audio_path, SAMPLE_RATE)
    if num_samples:
        waveform = _fit_length(waveform, num_samples, audio_path)
    npy = os.path.join(data_dir, name, SPECTROGRAM_DIR, utterance + ".npy")
    spectrogram = np.load(npy, allow_pickle=False) if os.path.isfile(npy) else None
    frames = int(np.ceil(waveform.size / 192))
    if spectrogram is None or spectrogram.shape != (frames, 257):
        spectrogram = log_spectrogram(waveform)[0]
    landmark_path = os.path.join(data_dir, name, landmark_dir, utterance + ".txt")
    video = video_motion(load_landmarks_txt(landmark_path), frames, waveform.size, landmark_path)
    align_path = os.path.join(data_dir, name, align_dir, utterance + ".align")
    if not os.path.isfile(align_path):
        raise UserInputError(f"alignment not found: {align_path}; phone labels need GRID's .align files")
    return {"clean_wav": waveform.astype(np.float32), "clean_spectrogram": spectrogram.astype(np.float32),
            "video_features": video, "phones": align_phone_ids(align_path), "audio_path": audio_path,
            "speaker": name, "utterance": utterance, "sequence_length": frames, "num_samples": waveform.size}


# ----------------------------------------------------------------------------------------------
# Gap sets

def generate_gap_sets(data_dir, split: dict, gaps_dir="gaps", seed=0, test_gap_ms=None, train_copies=1,
                      num_frames=250, audio_dir="audio") -> dict:
    """Write ``<data_dir>/<gaps_dir>/<SET>.json`` for every set; existing files are kept.

    ``split``: ``{"TRAINING_SET": speakers, "VALIDATION_SET": ..., "TEST_SET": ...}``. Training and
    validation clips get the training distribution (``train_copies`` gap draws per training clip,
    each written as its own example); the test speakers get one set with the training distribution
    (``TEST_SET``, the paper's variable-gap set) and one per length in ``test_gap_ms`` with a single gap.
    """
    from avse_tf.data import gaps as gap_lib
    from avse_tf.utils import atomic_write_text

    test_gap_ms = gap_lib.TEST_GAP_MS if test_gap_ms is None else tuple(test_gap_ms)
    jobs = {}
    for set_name, speakers in split.items():
        clips = [(grid.speaker_name(s), u) for s in speakers for u in grid.list_utterances(data_dir, s, audio_dir)]
        if not clips:
            raise UserInputError(f"no utterances for {set_name} ({' '.join(map(str, speakers))}) in {data_dir}")
        if set_name == "TEST_SET":
            jobs["TEST_SET"] = (clips, "variable", None, 1)
            for gap_ms in test_gap_ms:
                jobs[fixed_gap_set_name(gap_ms)] = (clips, "single", gap_ms, 1)
        else:
            jobs[set_name] = (clips, "variable", None, train_copies if set_name == "TRAINING_SET" else 1)
    written = {}
    for set_name, (clips, kind, gap_ms, copies) in jobs.items():
        path = os.path.join(data_dir, gaps_dir, set_name + ".json")
        if os.path.isfile(path):
            written[set_name] = path
            continue
        entries = []
        for speaker, utterance in clips:
            for copy in range(copies):
                rng = gap_lib.gap_rng(seed, set_name, f"{speaker}/{utterance}", copy)
                gaps = (gap_lib.training_gaps(num_frames, rng) if kind == "variable"
                        else gap_lib.single_gap(num_frames, gap_ms, rng))
                entries.append({"speaker": speaker, "utterance": utterance, "copy": copy,
                                "gaps": [[int(a), int(b)] for a, b in gaps]})
        description = {"set": set_name, "seed": seed, "distribution": kind, "gap_ms": gap_ms,
                       "frame_ms": gap_lib.FRAME_MS, "num_frames": num_frames, "entries": entries}
        atomic_write_text(path, json.dumps(description, indent=1) + "\n")
        written[set_name] = path
    return written


def load_gap_set(path) -> dict:
    if not os.path.isfile(path):
        raise UserInputError(f"gap set not found: {path}; run `avse inpainting gap_generator` first")
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        data["entries"] = [dict(entry, gaps=[tuple(map(int, g)) for g in entry["gaps"]]) for entry in data["entries"]]
    except (ValueError, KeyError, TypeError) as error:
        raise UserInputError(f"gap set {path} is damaged ({error}); delete it and run gap_generator again") from None
    return data


# ----------------------------------------------------------------------------------------------
# Records

def generate_records(data_dir, gaps_dir="gaps", dest_dir="inpainting_records", sets=None, audio_dir="audio",
                     landmark_dir="landmarks", align_dir="align", compression=None, examples_per_shard=64) -> dict:
    """Write ``<data_dir>/<dest_dir>/<SET>/`` for every gap set (normalised features + gaps).

    Normalisation (fact sheet: per-bin mean/std of the training set's log spectrograms): per-bin
    mean/std of the log spectrogram and per-dimension mean/std of the landmark motion over the
    training clips, saved as ``<dest_dir>/normalization.npz`` (reused if present) and applied to
    every set. Departure: the original normalised the landmarks per speaker; here the training
    statistics are used for video too, so an unseen speaker needs no statistics of their own.
    Sets whose ``records.json`` exists are kept.
    """
    from avse_tf.data.normalization import RunningStats, load_stats, normalize, save_stats
    from avse_tf.data.gaps import gap_mask
    from avse_tf.records import RecordWriter
    from avse_tf.records.schema import INPAINTING_MAX_PHONES, inpainting_schema
    from avse_tf.utils import progress

    gap_root = os.path.join(data_dir, gaps_dir)
    if not os.path.isdir(gap_root):
        raise UserInputError(f"no gap sets in {gap_root}; run `avse inpainting gap_generator` first")
    available = sorted(name[:-5] for name in os.listdir(gap_root) if name.endswith(".json"))
    sets = available if sets is None else list(sets)
    dest_root = os.path.join(data_dir, dest_dir)
    stats_path = os.path.join(dest_root, NORM_FILE)
    cache = {}

    def features(speaker, utterance):
        key = (speaker, utterance)
        if key not in cache:
            cache.clear()  # consecutive entries share clips (gap copies); keep one
            cache[key] = clip_features(data_dir, speaker, utterance, audio_dir, landmark_dir, align_dir)
        return cache[key]

    if os.path.isfile(stats_path):
        stats = load_stats(stats_path)
    else:
        if "TRAINING_SET" not in available:
            raise UserInputError(f"no {os.path.join(gap_root, 'TRAINING_SET.json')}: the training set gives the "
                                 "normalisation statistics; run gap_generator for it first")
        spectrum, video = RunningStats(), RunningStats()
        clips = sorted({(e["speaker"], e["utterance"]) for e in load_gap_set(
            os.path.join(gap_root, "TRAINING_SET.json"))["entries"]})
        for speaker, utterance in progress(clips, "normalisation statistics"):
            example = features(speaker, utterance)
            spectrum.update(example["clean_spectrogram"])
            video.update(example["video_features"])
        stats = {"spectrogram": spectrum.result(), "video": video.result()}
        save_stats(stats_path, **stats)
    schema = inpainting_schema("fixed", NUM_SAMPLES, num_frames=250)
    counts = {}
    for set_name in sets:
        out_dir = os.path.join(dest_root, set_name)
        if os.path.isfile(os.path.join(out_dir, RECORDS_MANIFEST)):
            counts[set_name] = None
            continue
        gap_set = load_gap_set(os.path.join(gap_root, set_name + ".json"))
        with RecordWriter(out_dir, "records", schema, examples_per_shard=examples_per_shard,
                          compression=compression) as writer:
            for entry in progress(gap_set["entries"], f"tfrecords_generator {set_name}"):
                example = dict(features(entry["speaker"], entry["utterance"]))
                phones = example.pop("phones")
                if len(phones) > INPAINTING_MAX_PHONES:
                    raise UserInputError(f"{example['audio_path']}: {len(phones)} phones, records hold at most "
                                         f"{INPAINTING_MAX_PHONES}")
                example["phones"] = np.pad(np.asarray(phones, np.int64), (0, INPAINTING_MAX_PHONES - len(phones)))
                example["num_phones"] = len(phones)
                example["clean_spectrogram"] = normalize(example["clean_spectrogram"], *stats["spectrogram"])
                example["video_features"] = normalize(example["video_features"], *stats["video"])
                example["gap_mask"] = gap_mask(entry["gaps"], example["sequence_length"])[:, None]
                writer.write(example, name=f"{entry['speaker']}/{entry['utterance']}#{entry['copy']}")
        shutil.copyfile(os.path.join(gap_root, set_name + ".json"), os.path.join(out_dir, "gaps.json"))
        counts[set_name] = len(gap_set["entries"])
    return counts


# ----------------------------------------------------------------------------------------------
# Model inputs from records

def records_manifest(path) -> str:
    candidate = path if path.endswith(".json") else os.path.join(path, RECORDS_MANIFEST)
    if not os.path.isfile(candidate):
        raise UserInputError(f"no records at {path} (missing {candidate}); run `avse inpainting tfrecords_generator`")
    return candidate


def recognizer_features(waveforms, num_frames=None):
    """Input of the PER phone recogniser: 80 log-mel bands (125-7600 Hz) of the 2021 STFT
    magnitude, mean/variance normalised per utterance over its ``num_frames`` valid frames
    (``[B, T, 80]`` from ``[B, N]`` waveforms; TF ops, usable in ``tf.data``)."""
    import tensorflow as tf

    from avse_tf.audio import features, stft
    from avse_tf.models.inpainting import MEL_FMAX, MEL_FMIN, NUM_MELS

    magnitude = tf.abs(stft.stft(tf.convert_to_tensor(waveforms, tf.float32), STFT))
    log_mel = tf.math.log(features.mel_spectrogram(magnitude, SAMPLE_RATE, NUM_MELS, MEL_FMIN, MEL_FMAX) + 1e-6)
    frames = tf.shape(log_mel)[1]
    if num_frames is None:
        num_frames = tf.fill(tf.shape(log_mel)[:1], frames)
    valid = tf.cast(tf.sequence_mask(num_frames, frames), tf.float32)[..., None]
    count = tf.maximum(tf.reduce_sum(valid, axis=1, keepdims=True), 1.0)
    mean = tf.reduce_sum(log_mel * valid, axis=1, keepdims=True) / count
    variance = tf.reduce_sum(tf.square(log_mel - mean) * valid, axis=1, keepdims=True) / count
    return (log_mel - mean) / tf.sqrt(variance + 1e-5) * valid


def model_batch(batch, model_name):
    """``(inputs, targets, sample_weights)`` of a record batch for ``model_name``.

    The gapped input is made here: ``clean_spectrogram * (1 - gap_mask)`` (zeros in the gap, as the
    original). The gap L1 is weighted by the gap mask (valid frames only); the CTC target is the
    zero-padded phone ids.
    """
    import tensorflow as tf

    from avse_tf.models.inpainting import MODEL_SPECS

    spec = MODEL_SPECS[model_name]
    lengths = tf.cast(batch["sequence_length"], tf.int32)
    frames = tf.shape(batch["clean_spectrogram"])[1]
    frame_mask = tf.cast(tf.sequence_mask(lengths, frames), tf.float32)
    gap = batch["gap_mask"] * frame_mask[..., None]
    available = {
        "gapped_spectrogram": lambda: batch["clean_spectrogram"] * (1.0 - gap),
        "gap_mask": lambda: gap,
        "video_features": lambda: batch["video_features"],
        "sequence_length": lambda: lengths,
        "log_mel": lambda: recognizer_features(tf.reshape(batch["clean_wav"], [tf.shape(lengths)[0], -1]),
                                               lengths)[:, :frames],
    }
    inputs = {name: available[name]() for name in spec["inputs"]}
    targets, weights = {}, {}
    if model_name != "phone_recognizer":
        targets["inpainted_spectrogram"] = batch["clean_spectrogram"]
        weights["inpainted_spectrogram"] = gap[..., 0]
    if spec["mtl"]:
        targets["phone_logits"] = tf.cast(batch["phones"], tf.int32)
        weights["phone_logits"] = tf.ones_like(lengths, tf.float32)
    return inputs, targets, weights


def make_model_dataset(records, model_name, batch_size, shuffle=False, seed=None):
    from avse_tf.records import make_dataset

    dataset = make_dataset(records_manifest(records), batch_size=batch_size, shuffle=shuffle, seed=seed)
    return dataset.map(lambda batch: model_batch(batch, model_name))


# ----------------------------------------------------------------------------------------------
# Training

def train(train_records, validation_records, exp_dir, model_name="a_blstm", batch_size=8, epochs=50, patience=5,
          seed=None, hidden_units=250, layers=None, learning_rate=None, verbose="auto", data_dir=None,
          recognizer_copies=RECOGNIZER_COPIES):
    """Train one model (Adam, early stopping on the validation loss; fact sheet "Training").

    The records' normalisation statistics are copied into ``exp_dir`` so the experiment folder is
    all :func:`inpaint_file` needs. For MTL models the monitored validation loss is
    ``L1_gap + 0.001 CTC`` (the original monitored the gap L1 alone). ``learning_rate``: ``None``
    gives the paper's 1e-3 (the recogniser: 3e-3).

    ``model_name="phone_recognizer"`` trains the PER recogniser with :func:`train_recognizer` on the
    clean clips of the two record sets (their speakers and utterances; audio and ``.align`` files
    from ``data_dir``, by default the folder holding the records folder), ``recognizer_copies``
    copies per clip and epoch.
    """
    import keras

    from avse_tf.models.inpainting import MODEL_SPECS, build_model, compile_model
    from avse_tf.training import fit, make_optimizer

    if model_name not in MODEL_SPECS:
        raise UserInputError(f"unknown model {model_name!r}; choose one of {', '.join(MODEL_SPECS)}")
    if model_name == "phone_recognizer":
        manifest = records_manifest(train_records)
        data_dir = data_dir or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(manifest))))
        return train_recognizer(data_dir, record_clips(train_records), record_clips(validation_records), exp_dir,
                                batch_size, epochs, patience, seed, hidden_units, layers,
                                learning_rate or RECOGNIZER_LEARNING_RATE, recognizer_copies, verbose=verbose)
    if seed is not None:
        keras.utils.set_random_seed(seed)
    os.makedirs(exp_dir, exist_ok=True)
    stats = os.path.join(os.path.dirname(os.path.dirname(records_manifest(train_records))), NORM_FILE)
    if os.path.isfile(stats) and not os.path.isfile(os.path.join(exp_dir, NORM_FILE)):
        shutil.copyfile(stats, os.path.join(exp_dir, NORM_FILE))
    train_dataset = make_model_dataset(train_records, model_name, batch_size, shuffle=True, seed=seed)
    validation_dataset = make_model_dataset(validation_records, model_name, batch_size)
    kwargs = {"hidden_units": hidden_units}
    if layers:
        kwargs["num_layers"] = layers
    model = build_model(model_name, **kwargs)
    compile_model(model, make_optimizer("adam", learning_rate or LEARNING_RATE))
    return fit(model, train_dataset, validation_dataset, epochs, exp_dir, patience=patience, verbose=verbose)


# ----------------------------------------------------------------------------------------------
# The PER phone recogniser
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
# first in every frame; beam search then gave the one phone N for every clip: PER 0.945 on clean
# speech).
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
        raise UserInputError(f"alignment not found: {align_path}; the phone recogniser needs GRID's .align files")
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
    from avse_tf.models.inpainting import build_model
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
    the model-card run (smoothing 1/3/5/7/9 frames x minimum 1/2/3, an 8-epoch recogniser: PER 0.186
    with the plain argmax, 0.116 with these). The model card's 16-epoch recogniser, clean speech:
    validation speakers 0.134 -> 0.077, unseen test speakers 0.050 -> 0.031."""
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
    ``beam_width`` > 1: CTC beam search (:func:`avse_tf.models.inpainting.decode_phones`), meant for
    CTC-trained phone heads; on the frame classifier it inserts phones (clean unseen speakers of
    the model-card run: PER 0.131 at width 20 against 0.031).
    """
    from avse_tf.models.inpainting import decode_phones

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


def load_model(path):
    """A ``.keras`` checkpoint (safe mode) or an experiment folder's ``best.keras``."""
    from avse_tf.models.saving import load_model as load

    return load(path, family_module="avse_tf.models.inpainting")


# ----------------------------------------------------------------------------------------------
# Reconstruction, testing

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


def test(test_records, checkpoint, output_dir, recognizer=None, phase="auto", oracle_phase=False, batch_size=8,
         write_wavs=True, num_figures=2, beam_width=1, stats_path=None, griffin_lim_iterations=100):
    """Inpaint every example of a record set and score it; returns ``(rows, summary)``.

    Per example: gap L1 on the normalised log spectrogram, STOI, PESQ (narrow band, P.862.1 MOS-LQO)
    of the inpainted and of the unprocessed (gapped) signal, and with ``recognizer`` (a phone
    recogniser checkpoint, :func:`train_recognizer`) the phone edit counts of both and of the clean
    signal (the recogniser's floor), for the PER; decoded with :func:`recognise` (``beam_width`` 1:
    the frame classifier's decoding). ``summary`` holds the means (PER pooled over the set: total edits / total
    reference phones). Writes
    ``metrics_<model>.csv`` and, with ``write_wavs``, ``<speaker>/<utterance>.wav`` plus
    ``num_figures`` figures (gapped / inpainted / reference spectrograms).
    """
    import csv

    from avse_tf.audio.io import write_audio
    from avse_tf.audio.phase import reconstruct_waveform
    from avse_tf.audio.stft import magnitude_phase, stft
    from avse_tf.data.normalization import load_stats
    from avse_tf.metrics import edit_distance, l1, stoi
    from avse_tf.models.inpainting import INPAINTING_MODELS
    from avse_tf.records import record_errors
    from avse_tf.utils import atomic_path

    model = load_model(checkpoint)
    if getattr(model, "architecture", model.name) not in INPAINTING_MODELS:
        raise UserInputError(f"{checkpoint} holds {model.name!r}, not an inpainting model ({', '.join(INPAINTING_MODELS)})")
    model_name = model.architecture
    manifest = records_manifest(test_records)
    stats = load_stats(stats_path or os.path.join(os.path.dirname(os.path.dirname(manifest)), NORM_FILE))
    recognizer = load_model(recognizer) if isinstance(recognizer, str) else recognizer
    method = "oracle" if oracle_phase else phase
    rows = []
    from avse_tf.records import make_dataset

    with record_errors(manifest):
        for batch in make_dataset(manifest, batch_size=batch_size):
            inputs, targets, _ = model_batch(batch, model_name)
            predictions = model.predict_on_batch(inputs)["inpainted_spectrogram"]
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
                       "gap_ms": float(gap.sum() * 12.0),
                       "l1_unprocessed": l1(clean_norm, np.zeros_like(clean_norm), gap[:, None] > 0.5),
                       "l1_inpainted": l1(clean_norm, predicted, gap[:, None] > 0.5),
                       "stoi_unprocessed": stoi(clean, gapped, SAMPLE_RATE),
                       "stoi_inpainted": stoi(clean, inpainted, SAMPLE_RATE),
                       "pesq_unprocessed": _safe_pesq(clean, gapped), "pesq_inpainted": _safe_pesq(clean, inpainted)}
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
                    row["phones"] = len(phones)
                    for name, hypotheses in heard.items():
                        row[f"phone_errors_{name}"] = edit_distance(phones, hypotheses[offset])
    if not rows:
        raise UserInputError(f"no examples in {test_records}")
    os.makedirs(output_dir, exist_ok=True)
    columns = list(rows[0].keys())
    with atomic_path(os.path.join(output_dir, f"metrics_{model_name}.csv")) as temporary:
        with open(temporary, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    return rows, summarize(rows)


def _safe_pesq(reference, estimate):
    from avse_tf.errors import MetricInputError
    from avse_tf.metrics import pesq

    try:
        return pesq(reference, estimate, SAMPLE_RATE, mode="nb")
    except MetricInputError:
        return float("nan")


def summarize(rows) -> dict:
    """Means of the metric columns; PER pooled (edits / reference phones); NaN PESQ rows skipped."""
    summary = {"examples": len(rows)}
    for column in ("l1", "stoi", "pesq"):
        for kind in ("unprocessed", "inpainted"):
            values = np.array([row[f"{column}_{kind}"] for row in rows], np.float64)
            summary[f"{column}_{kind}"] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
    if rows and "phones" in rows[0]:
        total = sum(row["phones"] for row in rows)
        for kind in ("unprocessed", "inpainted", "clean"):
            summary[f"per_{kind}"] = sum(row[f"phone_errors_{kind}"] for row in rows) / max(total, 1)
    return summary


# ----------------------------------------------------------------------------------------------
# A user's own file

def inpaint_file(input_path, output_path, checkpoint, gaps=None, video=None, phase="auto", figure=None,
                 stats_path=None, shape_predictor=None, reference=None, griffin_lim_iterations=100) -> dict:
    """Inpaint ``gaps`` (``[(start_s, end_s), ...]``; ``None``: runs of digital silence) of a wav.

    ``video``: the speaker's face video (needed by AV models); its landmarks are extracted here.
    Frames whose window overlaps a gap are replaced; all others are the input's, magnitude and phase,
    so the output equals the input away from the gaps. ``figure``: PNG path for the gapped /
    inpainted (/ ``reference``, a clean wav, if given) log spectrograms. Returns a description.
    """
    from avse_tf.audio.io import load_audio, write_audio
    from avse_tf.audio.phase import reconstruct_waveform
    from avse_tf.audio.stft import get_config
    from avse_tf.data import gaps as gap_lib
    from avse_tf.data.normalization import load_stats, normalize

    model = load_model(checkpoint)
    architecture = getattr(model, "architecture", model.name)
    from avse_tf.models.inpainting import INPAINTING_MODELS, MODEL_SPECS

    if architecture not in INPAINTING_MODELS:
        raise UserInputError(f"{checkpoint} holds {model.name!r}, not an inpainting model")
    checkpoint_dir = checkpoint if os.path.isdir(checkpoint) else os.path.dirname(os.path.abspath(checkpoint))
    stats = load_stats(stats_path or os.path.join(checkpoint_dir, NORM_FILE))
    waveform = load_audio(input_path, SAMPLE_RATE)
    config = get_config(STFT)
    if waveform.size < config.frame_length:
        raise UserInputError(f"{input_path} is {waveform.size / SAMPLE_RATE * 1000:.0f} ms long; inpainting needs at "
                             f"least {config.frame_length / SAMPLE_RATE * 1000:.0f} ms")
    log_magnitude, phase_in = log_spectrogram(waveform)
    frames = log_magnitude.shape[0]
    if gaps is None:
        gaps = gap_lib.detect_silent_gaps(waveform, SAMPLE_RATE)
        if not gaps:
            raise UserInputError(f"no gaps given and no digital silence (>= 20 ms of zeros) found in {input_path}; "
                                 "pass --gaps START:END,...")
    mask = gap_lib.intervals_to_frame_mask(gaps, waveform.size, frames, SAMPLE_RATE, config.frame_length,
                                           config.frame_step, input_path)
    normalised = normalize(log_magnitude, *stats["spectrogram"])
    inputs = {"gapped_spectrogram": (normalised * (1 - mask[:, None]))[None],
              "gap_mask": mask[None, :, None], "sequence_length": np.array([frames], np.int32)}
    if MODEL_SPECS[architecture]["video"]:
        if video is None:
            raise UserInputError(f"model {architecture} is audio-visual: pass --video with the speaker's face video "
                                 "(or use an audio-only model)")
        from avse_tf.video.landmarks import LandmarkExtractor

        track = LandmarkExtractor(shape_predictor).extract_file(video)
        motion = video_motion(track.flat(), frames, waveform.size, video)
        inputs["video_features"] = normalize(motion, *stats["video"])[None]
    prediction = model.predict_on_batch(inputs)["inpainted_spectrogram"][0]
    magnitude = np.exp(log_magnitude) - 1e-6
    estimate = inpaint_magnitude(prediction, np.maximum(magnitude, 0.0), mask, stats)
    output = reconstruct_waveform(estimate, phase_in, mask, phase, STFT, waveform.size,
                                  iterations=griffin_lim_iterations)
    write_audio(output_path, output, SAMPLE_RATE)
    if figure:
        mean, std = stats["spectrogram"]
        reference_log = log_spectrogram(load_audio(reference, SAMPLE_RATE)[: waveform.size])[0] if reference else None
        if reference_log is not None and reference_log.shape != log_magnitude.shape:
            reference_log = None
        save_figure(figure, np.where(mask[:, None] > 0.5, np.log(1e-6), log_magnitude), prediction * std + mean,
                    reference_log)
    return {"gaps_seconds": [(float(a), float(b)) for a, b in gaps], "gap_frames": gap_lib.mask_to_gaps(mask),
            "model": architecture, "phase": phase, "output": output_path, "figure": figure}
