"""Records of Morrone et al. 2019: features of one mixture, the record sets, and model batches from them.

The seed's steps before this one: mixtures (:mod:`avse_tf.data.mixing`), power-law spectrograms and
landmarks (:mod:`avse_tf.data.preprocess`), TBMs (:mod:`avse_tf.data.masks`).
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np

from avse_tf.constants import FPS, NORM_FILE, RECORDS_MANIFEST, SAMPLE_RATE
from avse_tf.data import grid
from avse_tf.errors import UserInputError
from avse_tf.records.schema import MODES, Feature, RecordSchema

log = logging.getLogger(__name__)


SETS = ("TRAINING_SET", "VALIDATION_SET", "TEST_SET")
STFT = "morrone2019"


def _speaker_file(data_dir, speaker, subdir, name, extension):
    return os.path.join(data_dir, grid.speaker_name(speaker), subdir, name + extension)


def example_features(entry, data_dir, video_dir="landmarks", tbm_dir="tbm", delta=1, sample_rate=SAMPLE_RATE,
                     num_audio_samples=None) -> dict:
    """Unnormalised features of one mixture: waveforms, power-law mixture spectrogram, landmark
    motion at the spectrogram rate, and the target's TBM (oracle, or estimated for the _ref recipe)."""
    from avse_tf.audio import features, stft
    from avse_tf.data.mixing import render_mixture
    from avse_tf.data.preprocess import _fit_length
    from avse_tf.validation import match_durations
    from avse_tf.video.align import deltas, upsample_to_frames
    from avse_tf.video.landmarks import load_landmarks_txt

    target, interferers, mixture = render_mixture(entry, sample_rate)
    if num_audio_samples:
        target = _fit_length(target, num_audio_samples, entry["target"])
        interferers = _fit_length(interferers, num_audio_samples, entry["mixture"])
        mixture = target + interferers
    mixed = features.power_law(np.abs(stft.stft(mixture, STFT))).numpy()
    frames = mixed.shape[0]
    landmark_path = _speaker_file(data_dir, entry["speaker"], video_dir, entry["utterance"], ".txt")
    landmarks = load_landmarks_txt(landmark_path)
    match_durations(target, landmarks, sample_rate, FPS, "error", entry["target"], landmark_path,
                    "or extract the landmarks of the video that goes with this wav")
    video = deltas(upsample_to_frames(landmarks, frames), delta)
    tbm_path = _speaker_file(data_dir, entry["speaker"], tbm_dir, entry["utterance"], ".npy")
    if not os.path.isfile(tbm_path):
        raise UserInputError(f"TBM not found: {tbm_path}; run tbm_computation (or testing --mask_dir) first")
    tbm = np.load(tbm_path, allow_pickle=False).astype(np.float32)
    if tbm.ndim != 2 or tbm.shape[1] != mixed.shape[1]:
        raise UserInputError(f"TBM {tbm_path} has shape {tbm.shape}; expected [frames, {mixed.shape[1]}]")
    if tbm.shape[0] > frames:
        # TBMs computed on clips padded to --max_wav_length: the extra frames are padding.
        tbm = tbm[:frames]
    elif tbm.shape[0] < frames:
        if frames - tbm.shape[0] > 2:
            raise UserInputError(f"mismatched audio lengths: TBM {tbm_path} has {tbm.shape[0]} frames, the "
                                 f"mixture {entry['mixture']} {frames}; recompute TBMs with the same --max_wav_length")
        tbm = np.pad(tbm, ((0, frames - tbm.shape[0]), (0, 0)))
    return {
        "target_wav": target.astype(np.float32), "interferers_wav": interferers.astype(np.float32),
        "mixture_wav": mixture.astype(np.float32), "mixed_spectrogram": mixed.astype(np.float32),
        "video_features": video, "tbm": tbm, "sequence_length": frames, "num_samples": target.size,
        "target_path": entry["target"], "mixture_path": entry["mixture"],
        "speaker": entry["speaker"], "utterance": entry["utterance"],
    }


def normalized(example: dict, stats: dict) -> dict:
    """``example`` (:func:`example_features`) with its spectrogram and video features z-normalised by
    ``stats`` (``{"spectrogram": (mean, std), "video": (mean, std)}``), as the records hold them."""
    from avse_tf.data.normalization import normalize

    example["mixed_spectrogram"] = normalize(example["mixed_spectrogram"], *stats["spectrogram"])
    example["video_features"] = normalize(example["video_features"], *stats["video"])
    return example


def generate_records(data_dir, num_speakers=2, mode="fixed", dest_dir="tfrecords", mix_audio_dir="mix",
                     video_dir="landmarks", tbm_dir="tbm", delta=1, norm_data_dir=None, per_speaker_norm=False,
                     num_audio_samples=48000, sample_rate=SAMPLE_RATE, compression=None, examples_per_shard=64,
                     sets=SETS) -> dict:
    """Write ``<dest_dir>/<SET>/`` record shards for each mixture set found under ``<mix_audio_dir>``.

    Normalisation: mean/std of the mixture spectrogram and of the video features over the training
    set (saved in ``norm_data_dir``, relative to ``data_dir`` or absolute, reused if present), applied to
    every set; with statistics present, no training set is needed (a test set of another corpus, normalised
    as a model trained elsewhere expects). ``per_speaker_norm`` uses each speaker's own statistics
    instead (the original code's behaviour).
    """
    from avse_tf.data.mixing import load_manifest
    from avse_tf.data.normalization import RunningStats, load_stats, save_stats
    from avse_tf.records import RecordWriter
    from avse_tf.utils import atomic_write_text, progress

    if mode not in ("fixed", "var"):
        raise UserInputError(f"--mode must be fixed or var, got {mode}")
    mix_root = os.path.join(data_dir, mix_audio_dir)
    dest_root = os.path.join(data_dir, dest_dir)
    norm_dir = os.path.join(data_dir, norm_data_dir) if norm_data_dir else dest_root
    available = [name for name in sets if os.path.isfile(os.path.join(mix_root, name, "mixtures.json"))]
    stats_path = os.path.join(norm_dir, NORM_FILE)
    # Without a training set, only statistics made before (norm_data_dir) can normalise the other sets.
    if "TRAINING_SET" not in available and not per_speaker_norm and not os.path.isfile(stats_path):
        raise UserInputError(f"no {os.path.join(mix_root, 'TRAINING_SET', 'mixtures.json')}: the training set gives "
                             "the normalisation statistics; run mixed_speech_generator for it first")
    fixed_samples = num_audio_samples if mode == "fixed" else None
    entries_by_set = {}
    for name in available:
        entries = [entry for entry in load_manifest(os.path.join(mix_root, name))
                   if entry.get("num_speakers", 2) == num_speakers]
        if not entries:
            raise UserInputError(f"{os.path.join(mix_root, name)} has no {num_speakers}-speaker mixtures; "
                                 "check --num_speakers")
        entries_by_set[name] = entries

    def statistics_for(entries, description):
        spectrum, video = RunningStats(), RunningStats()
        for entry in progress(entries, description):
            example = example_features(entry, data_dir, video_dir, tbm_dir, delta, sample_rate, fixed_samples)
            spectrum.update(example["mixed_spectrogram"])
            video.update(example["video_features"])
        return {"spectrogram": spectrum.result(), "video": video.result()}

    speaker_stats = {}
    if not per_speaker_norm:
        if os.path.isfile(stats_path):
            global_stats = load_stats(stats_path)
        else:
            global_stats = statistics_for(entries_by_set["TRAINING_SET"], "normalisation statistics")
            save_stats(stats_path, **global_stats)
    # What a served model needs to rebuild these features from a waveform and landmarks.
    atomic_write_text(os.path.join(dest_root, "features.json"), json.dumps(
        {"stft": STFT, "fps": FPS, "delta": delta, "sample_rate": sample_rate,
         "normalization": None if per_speaker_norm else os.path.relpath(stats_path, dest_root)}, indent=1))
    schema = enhancement_schema(mode, num_audio_samples=num_audio_samples,
                                num_frames=_frames_for(num_audio_samples) if mode == "fixed" else None)
    counts = {}
    for name, entries in entries_by_set.items():
        out_dir = os.path.join(dest_root, name)
        if os.path.isfile(os.path.join(out_dir, RECORDS_MANIFEST)):
            log.info("%s exists: kept", out_dir)
            counts[name] = None
            continue
        with RecordWriter(out_dir, "records", schema, examples_per_shard=examples_per_shard,
                          compression=compression) as writer:
            for entry in progress(entries, f"tfrecords_generator {name}"):
                if per_speaker_norm:
                    if entry["speaker"] not in speaker_stats:
                        own = [e for e in entries if e["speaker"] == entry["speaker"]]
                        speaker_stats[entry["speaker"]] = statistics_for(own, f"statistics {entry['speaker']}")
                        save_stats(os.path.join(norm_dir, f"normalization_{entry['speaker']}.npz"),
                                   **speaker_stats[entry["speaker"]])
                    stats = speaker_stats[entry["speaker"]]
                else:
                    stats = global_stats
                writer.write(normalized(example_features(entry, data_dir, video_dir, tbm_dir, delta, sample_rate,
                                                         fixed_samples), stats))
        counts[name] = len(entries)
    return counts


def _frames_for(num_samples):
    from avse_tf.audio.stft import get_config

    return get_config(STFT).num_frames(num_samples)


# ----------------------------------------------------------------------------------------------
# Model inputs from records

def records_manifest(path) -> str:
    """The records manifest of a set given as its folder or manifest path."""
    candidate = path if path.endswith(".json") else os.path.join(path, RECORDS_MANIFEST)
    if not os.path.isfile(candidate):
        raise UserInputError(f"no records at {path} (missing {candidate}); run tfrecords_generator first")
    return candidate


def model_batch(batch, model_name):
    """Map a batch of records to ``(inputs, targets, sample_weights)`` for ``model_name``.

    Spectrograms the loss needs but the records do not store (|target|^0.3, |mixture|^0.3
    unnormalised) are computed here with tf.signal, on the fly, from the stored waveforms.
    """
    import tensorflow as tf

    from avse_tf.audio import features, stft
    from avse_tf.systems.landmark_enhancement.model import MODEL_SPECS

    spec = MODEL_SPECS[model_name]
    frames = tf.shape(batch["mixed_spectrogram"])[1]
    lengths = tf.cast(batch["sequence_length"], tf.int32)
    frame_mask = tf.cast(tf.sequence_mask(lengths, frames), tf.float32)

    def power_law_spectrogram(waveform):
        if waveform.shape.rank == 3:  # var mode: per-sample feature lists [B, N, 1]
            waveform = tf.squeeze(waveform, -1)
        magnitude = tf.abs(stft.stft(waveform, STFT))[:, :frames]
        return features.power_law(magnitude) * frame_mask[..., None]

    available = {
        "video_features": lambda: batch["video_features"],
        "mixed_spectrogram": lambda: batch["mixed_spectrogram"],
        "tbm": lambda: batch["tbm"],
        "sequence_length": lambda: lengths,
        "mixed_magnitude": lambda: power_law_spectrogram(batch["mixture_wav"]),
    }
    inputs = {name: available[name]() for name in spec["inputs"]}
    if spec["loss"] == "tbm_bce":
        target = batch["tbm"]
    else:
        target = power_law_spectrogram(batch["target_wav"])
    return inputs, {spec["output"]: target}, {spec["output"]: frame_mask}


def make_model_dataset(records, model_name, batch_size, shuffle=False, seed=None, with_targets=True,
                       drop_remainder=False, length_buckets=None):
    """Model batches of a record set; ``length_buckets``: var-mode frame boundaries, each batch from
    one bucket (:func:`avse_tf.records.make_dataset`)."""
    from avse_tf.records import make_dataset

    dataset = make_dataset(records_manifest(records), batch_size=batch_size, shuffle=shuffle, seed=seed,
                           drop_remainder=drop_remainder, length_buckets=length_buckets)
    if with_targets:
        return dataset.map(lambda batch: model_batch(batch, model_name))
    return dataset


# ----------------------------------------------------------------------------------------------
# Record schema

WAVEFORMS = ("target_wav", "interferers_wav", "mixture_wav")


def enhancement_schema(mode="fixed", num_audio_samples=48000, audio_dim=257, video_dim=136, num_frames=302):
    """Records of the face-landmark speech enhancement system (Morrone et al., ICASSP 2019).

    Context: ``mixture_path``, ``target_path``, ``speaker``, ``utterance`` (strings),
    ``sequence_length``, ``num_samples``; waveforms ``target_wav``, ``interferers_wav`` (their
    sum), ``mixture_wav``. Per frame: ``tbm`` [T, audio_dim] (target binary mask),
    ``video_features`` [T, video_dim] (normalised landmark motion), ``mixed_spectrogram``
    [T, audio_dim] (normalised power-law mixture spectrogram). ``fixed``: waveforms of exactly
    ``num_audio_samples`` and ``num_frames`` frames (``None``: not enforced); ``var``: any length,
    waveforms per sample, and the two sizes are not stored.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be 'fixed' or 'var', got {mode!r}")
    context = {"mixture_path": Feature("bytes"), "target_path": Feature("bytes"),
               "speaker": Feature("bytes"), "utterance": Feature("bytes"),
               "sequence_length": Feature("int64"), "num_samples": Feature("int64")}
    sequence = {"tbm": Feature("float32", audio_dim), "video_features": Feature("float32", video_dim),
                "mixed_spectrogram": Feature("float32", audio_dim)}
    for name in WAVEFORMS:
        if mode == "fixed":
            context[name] = Feature("float32", num_audio_samples, waveform=True)
        else:
            sequence[name] = Feature("float32", 1, waveform=True)
    if mode == "var":
        num_audio_samples = num_frames = None
    return RecordSchema("enhancement", mode, context, sequence, num_audio_samples, num_frames)
