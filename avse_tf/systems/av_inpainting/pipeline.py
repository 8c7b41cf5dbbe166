"""Data of AV speech inpainting (Morrone et al., ICASSP 2021): clip features, gap sets, records.

Steps, as ``avse inpainting`` subcommands: log-magnitude spectrograms and landmarks
(:mod:`avse_tf.data.preprocess`, 2021 STFT), gaps (:func:`generate_gap_sets`,
:mod:`avse_tf.data.gaps`), records (:func:`generate_records`, :func:`inpainting_schema`) and the
model batches made from them (:func:`make_model_dataset`). Training is in ``train.py``, the PER
recogniser in ``phone_recognizer.py``, testing in ``evaluate.py``, a user's file in ``inpaint.py``.

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
import warnings

import numpy as np

from avse_tf.constants import FPS, NORM_FILE, RECORDS_MANIFEST, SAMPLE_RATE
from avse_tf.data import grid
from avse_tf.errors import DurationMismatchError, InputWarning, UserInputError
from avse_tf.records.schema import MODES, Feature, RecordSchema

log = logging.getLogger(__name__)

STFT = "morrone2021"
NUM_SAMPLES = 48000
MIN_VIDEO_FRACTION = 70 / 75  # the original skips clips with < 70 of 75 frames, pads 70-74
SPECTROGRAM_DIR = "log_spectrograms"
TRAIN_SETS = ("TRAINING_SET", "VALIDATION_SET")
LEARNING_RATE = 1e-3  # the paper's Adam learning rate (inpainting models)


def fixed_gap_set_name(gap_ms) -> str:
    return f"TEST_SET_{int(gap_ms)}ms"


# ----------------------------------------------------------------------------------------------
# Features of one clip

def _fit_video(landmarks, expected, source):
    """Landmarks ``[T, 136]`` made ``expected`` frames long: < 70/75 of them is an error (the original
    skipped such clips), fewer are padded by repeating the first frame; up to two more are trimmed,
    more is an error (the original trimmed any number)."""
    import warnings

    from avse_tf.validation import DURATION_TOLERANCE_FRAMES
    from avse_tf.video.align import pad_or_trim_frames

    minimum = int(np.ceil(expected * MIN_VIDEO_FRACTION))
    if len(landmarks) < minimum:
        raise DurationMismatchError(f"{source} has {len(landmarks)} video frames but the audio needs {expected} at "
                                    f"25 fps (at least {minimum}); the video is missing frames: re-encode or trim the audio")
    if len(landmarks) > expected + DURATION_TOLERANCE_FRAMES:
        raise DurationMismatchError(f"{source} has {len(landmarks)} video frames but the audio lasts only {expected} "
                                    "at 25 fps; the video belongs to another (longer) recording: re-extract its landmarks")
    if len(landmarks) < expected - DURATION_TOLERANCE_FRAMES:
        warnings.warn(InputWarning(f"{source} has {len(landmarks)} video frames, the audio {expected}: padded by "
                                   "repeating the first frame (Morrone 2021's rule for 70-74 of 75 frames)"), stacklevel=2)
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
    # Phone labels are needed only by the MTL models and the project's recogniser (train() checks):
    # a corpus without .align files still gives records for the A / AV models.
    align_path = os.path.join(data_dir, name, align_dir, utterance + ".align")
    phones = align_phone_ids(align_path) if os.path.isfile(align_path) else None
    return {"clean_wav": waveform.astype(np.float32), "clean_spectrogram": spectrogram.astype(np.float32),
            "video_features": video, "phones": phones, "audio_path": audio_path,
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

def entry_name(entry) -> str:
    """``s<k>/<utterance>#<copy>``: one gap draw of one clip, as records and messages name it."""
    return f"{entry['speaker']}/{entry['utterance']}#{entry['copy']}"


def gap_example(features: dict, entry: dict, stats: dict) -> dict:
    """One record: a clip's :func:`clip_features` normalised by ``stats``, with the phone labels
    padded (none without an ``.align``: ``num_phones`` 0) and the gap mask of ``entry``'s gaps."""
    from avse_tf.data.gaps import gap_mask
    from avse_tf.data.normalization import normalize

    example = dict(features)
    phones = example.pop("phones")
    phones = [] if phones is None else phones
    if len(phones) > INPAINTING_MAX_PHONES:
        raise UserInputError(f"{example['audio_path']}: {len(phones)} phones, records hold at most "
                             f"{INPAINTING_MAX_PHONES}")
    example["phones"] = np.pad(np.asarray(phones, np.int64), (0, INPAINTING_MAX_PHONES - len(phones)))
    example["num_phones"] = len(phones)
    example["clean_spectrogram"] = normalize(example["clean_spectrogram"], *stats["spectrogram"])
    example["video_features"] = normalize(example["video_features"], *stats["video"])
    example["gap_mask"] = gap_mask(entry["gaps"], example["sequence_length"])[:, None]
    return example


def generate_records(data_dir, gaps_dir="gaps", dest_dir="inpainting_records", sets=None, audio_dir="audio",
                     landmark_dir="landmarks", align_dir="align", compression=None, examples_per_shard=64) -> dict:
    """Write ``<data_dir>/<dest_dir>/<SET>/`` for every gap set (normalised features + gaps).

    Normalisation (fact sheet: per-bin mean/std of the training set's log spectrograms): per-bin
    mean/std of the log spectrogram and per-dimension mean/std of the landmark motion over the
    training clips, saved as ``<dest_dir>/normalization.npz`` (reused if present) and applied to
    every set. Departure: the original normalised the landmarks per speaker; here the training
    statistics are used for video too, so an unseen speaker needs no statistics of their own.
    Sets whose ``records.json`` exists are kept, unless clips they hold without phone labels have
    an ``.align`` file now. Clips without one get no phone labels (``num_phones`` 0, listed in the
    manifest's metadata): the A / AV models need none.
    """
    from avse_tf.data.normalization import RunningStats, load_stats, save_stats
    from avse_tf.records import RecordWriter
    from avse_tf.utils import progress

    gap_root = os.path.join(data_dir, gaps_dir)
    if not os.path.isdir(gap_root):
        raise UserInputError(f"no gap sets in {gap_root}; run `avse inpainting gap_generator` first")
    available = sorted(name[:-5] for name in os.listdir(gap_root) if name.endswith(".json") and not name.startswith("."))
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
        if os.path.isfile(os.path.join(out_dir, RECORDS_MANIFEST)) and not _alignments_added(data_dir, out_dir,
                                                                                             align_dir):
            counts[set_name] = None
            continue
        gap_set = load_gap_set(os.path.join(gap_root, set_name + ".json"))
        with RecordWriter(out_dir, "records", schema, examples_per_shard=examples_per_shard,
                          compression=compression) as writer:
            without_phones = []
            for entry in progress(gap_set["entries"], f"tfrecords_generator {set_name}"):
                clip_features_ = features(entry["speaker"], entry["utterance"])
                if clip_features_["phones"] is None:  # no .align: num_phones 0, listed in the manifest
                    without_phones.append(f"{entry['speaker']}/{entry['utterance']}")
                writer.write(gap_example(clip_features_, entry, stats), name=entry_name(entry))
            clips = {f"{entry['speaker']}/{entry['utterance']}" for entry in gap_set["entries"]}
            writer.metadata[WITHOUT_PHONES_KEY] = sorted(set(without_phones))
            writer.metadata[WITH_PHONES_KEY] = len(clips - set(without_phones))
        shutil.copyfile(os.path.join(gap_root, set_name + ".json"), os.path.join(out_dir, "gaps.json"))
        counts[set_name] = len(gap_set["entries"])
    return counts


def _alignments_added(data_dir, records_dir, align_dir) -> bool:
    """Whether a clip written to ``records_dir`` without phone labels has an ``.align`` file now
    (``avse align`` ran since): the set is then written again."""
    from avse_tf.records import load_manifest

    missing = load_manifest(os.path.join(records_dir, RECORDS_MANIFEST)).metadata.get(WITHOUT_PHONES_KEY, [])
    return any(os.path.isfile(os.path.join(data_dir, clip.split("/")[0], align_dir, clip.split("/")[1] + ".align"))
               for clip in missing)


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
    from avse_tf.systems.av_inpainting.model import MEL_FMAX, MEL_FMIN, NUM_MELS

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

    from avse_tf.systems.av_inpainting.model import MODEL_SPECS

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
        # clips without phone labels (no .align) train the spectrogram only
        weights["phone_logits"] = tf.cast(batch["num_phones"] > 0, tf.float32)
    return inputs, targets, weights


def make_model_dataset(records, model_name, batch_size, shuffle=False, seed=None):
    from avse_tf.records import make_dataset

    dataset = make_dataset(records_manifest(records), batch_size=batch_size, shuffle=shuffle, seed=seed)
    return dataset.map(lambda batch: model_batch(batch, model_name))


# ----------------------------------------------------------------------------------------------
# Record schema

INPAINTING_MAX_PHONES = 64
# Record manifest metadata: the clips written without phone labels (no .align file).
WITHOUT_PHONES_KEY = "clips_without_phone_labels"
WITH_PHONES_KEY = "clips_with_phone_labels"


def clips_without_phone_labels(records) -> list:
    """The clips of the record set ``records`` written without phone labels (no ``.align`` file)."""
    from avse_tf.records import load_manifest

    return list(load_manifest(records_manifest(records)).metadata.get(WITHOUT_PHONES_KEY, []))


def require_phone_labels(records, purpose, every_clip=False) -> None:
    """Check the record set ``records`` has the phone labels ``purpose`` needs. An MTL model trains
    on the clips that have them (the CTC term of the others is weighted 0: :func:`model_batch`),
    so it needs at least one, with a warning naming those without; ``every_clip`` (PER against the
    labels) needs all. ``avse align`` writes the missing ``.align`` files."""
    from avse_tf.records import load_manifest

    missing = clips_without_phone_labels(records)
    if not missing:
        return
    manifest = load_manifest(records_manifest(records))
    labelled = manifest.metadata.get(WITH_PHONES_KEY, 0)
    what = (f"{len(missing)} clips of {manifest.path} have no .align file (first: {missing[0]}); run `avse align "
            "DATA_DIR` and tfrecords_generator again")
    if every_clip or not labelled:
        raise UserInputError(f"{purpose} needs phone labels, but {what}, or train a model without phones "
                             "(a_blstm, av_blstm)")
    warnings.warn(InputWarning(f"{purpose}: the CTC phone loss uses the {labelled} clips with phone labels; {what}"),
                  stacklevel=2)


def inpainting_schema(mode="fixed", num_audio_samples=48000, audio_dim=257, video_dim=136, num_frames=250,
                      max_phones=INPAINTING_MAX_PHONES):
    """Records of the AV speech-inpainting system (Morrone et al., ICASSP 2021).

    Context: ``speaker``, ``utterance``, ``audio_path`` (strings), ``sequence_length``,
    ``num_samples``; ``clean_wav`` (the uncorrupted waveform, the reference for the metrics);
    ``phones`` [max_phones] int64 (phone ids 1..39 of :mod:`avse_tf.data.phones`, zero-padded) and
    ``num_phones``. Per frame: ``clean_spectrogram`` [T, audio_dim] (normalised log magnitude of
    the clean clip, the target), ``video_features`` [T, video_dim] (normalised landmark motion),
    ``gap_mask`` [T, 1] (1 = missing frame). The model input is ``clean_spectrogram * (1 - gap_mask)``
    (made on the fly, so a gap set stores no second spectrogram). ``fixed``: 48000 samples and 250
    frames (the 2021 STFT) per clip; ``var``: any length, waveform per sample.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be 'fixed' or 'var', got {mode!r}")
    context = {"speaker": Feature("bytes"), "utterance": Feature("bytes"), "audio_path": Feature("bytes"),
               "sequence_length": Feature("int64"), "num_samples": Feature("int64"),
               "phones": Feature("int64", max_phones), "num_phones": Feature("int64")}
    sequence = {"clean_spectrogram": Feature("float32", audio_dim), "video_features": Feature("float32", video_dim),
                "gap_mask": Feature("float32", 1)}
    if mode == "fixed":
        context["clean_wav"] = Feature("float32", num_audio_samples, waveform=True)
    else:
        sequence["clean_wav"] = Feature("float32", 1, waveform=True)
        num_audio_samples = num_frames = None
    return RecordSchema("inpainting", mode, context, sequence, num_audio_samples, num_frames)
