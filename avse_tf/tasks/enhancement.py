"""Face-landmark AV speech enhancement (Morrone et al., ICASSP 2019), end to end.

Steps, as the seed's subcommands: mixtures (:mod:`avse_tf.data.mixing`), power-law spectrograms
and landmarks (:mod:`avse_tf.data.preprocess`), TBMs (:mod:`avse_tf.data.masks`), records
(:func:`generate_records`), training (:func:`train`), testing (:func:`test`).
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np

from avse_tf.data import grid
from avse_tf.errors import UserInputError

log = logging.getLogger(__name__)

SETS = ("TRAINING_SET", "VALIDATION_SET", "TEST_SET")
STFT = "morrone2019"
FPS = 25.0
RECORDS_MANIFEST = "records.json"
NORM_FILE = "normalization.npz"


# ----------------------------------------------------------------------------------------------
# Records

def _speaker_file(data_dir, speaker, subdir, name, extension):
    return os.path.join(data_dir, grid.speaker_name(speaker), subdir, name + extension)


def example_features(entry, data_dir, video_dir="landmarks", tbm_dir="tbm", delta=1, sample_rate=16000,
                     num_audio_samples=None) -> dict:
    """Unnormalised features of one mixture: waveforms, power-law mixture spectrogram, landmark
    motion at the spectrogram rate, and the target's TBM (oracle, or estimated for the _ref recipe)."""
    from avse_tf.audio import features, stft
    from avse_tf.data.mixing import render_mixture
    from avse_tf.data.preprocess import _fit_length
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
    expected_video = int(round(target.size / sample_rate * FPS))
    if abs(len(landmarks) - expected_video) > 2:
        raise UserInputError(
            f"mismatched audio/video lengths: {landmark_path} has {len(landmarks)} video frames but "
            f"{entry['target']} lasts {target.size / sample_rate:.2f} s ({expected_video} frames at 25 fps)")
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


def generate_records(data_dir, num_speakers=2, mode="fixed", dest_dir="tfrecords", mix_audio_dir="mix",
                     video_dir="landmarks", tbm_dir="tbm", delta=1, norm_data_dir=None, per_speaker_norm=False,
                     num_audio_samples=48000, sample_rate=16000, compression=None, examples_per_shard=64,
                     sets=SETS) -> dict:
    """Write ``<dest_dir>/<SET>/`` record shards for each mixture set found under ``<mix_audio_dir>``.

    Normalisation: mean/std of the mixture spectrogram and of the video features over the training
    set (saved in ``norm_data_dir``, reused if present), applied to every set; ``per_speaker_norm``
    uses each speaker's own statistics instead (the original code's behaviour).
    """
    from avse_tf.data.mixing import load_manifest
    from avse_tf.data.normalization import RunningStats, load_stats, normalize, save_stats
    from avse_tf.records import RecordWriter, enhancement_schema
    from avse_tf.utils import atomic_write_text, progress

    if mode not in ("fixed", "var"):
        raise UserInputError(f"--mode must be fixed or var, got {mode}")
    mix_root = os.path.join(data_dir, mix_audio_dir)
    dest_root = os.path.join(data_dir, dest_dir)
    norm_dir = os.path.join(data_dir, norm_data_dir) if norm_data_dir else dest_root
    available = [name for name in sets if os.path.isfile(os.path.join(mix_root, name, "mixtures.json"))]
    if "TRAINING_SET" not in available and not per_speaker_norm:
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

    stats_path = os.path.join(norm_dir, NORM_FILE)
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
                example = example_features(entry, data_dir, video_dir, tbm_dir, delta, sample_rate, fixed_samples)
                example["mixed_spectrogram"] = normalize(example["mixed_spectrogram"], *stats["spectrogram"])
                example["video_features"] = normalize(example["video_features"], *stats["video"])
                writer.write(example)
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
    from avse_tf.models.enhancement import MODEL_SPECS

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
                       drop_remainder=False):
    from avse_tf.records import make_dataset

    dataset = make_dataset(records_manifest(records), batch_size=batch_size, shuffle=shuffle, seed=seed,
                           drop_remainder=drop_remainder)
    if with_targets:
        return dataset.map(lambda batch: model_batch(batch, model_name))
    return dataset


# ----------------------------------------------------------------------------------------------
# Training

def build_and_compile(model_name, hidden_units=250, layers=None, dropout=0.0, regularization=0.0,
                      audio_dim=257, video_dim=136, opt="adam", learning_rate=1e-3, updating_step=None,
                      learning_decay=None):
    from avse_tf.models.enhancement import MODEL_SPECS, build_model, compile_model
    from avse_tf.training import make_optimizer

    if model_name not in MODEL_SPECS:
        raise UserInputError(f"unknown model {model_name!r}; choose one of {', '.join(MODEL_SPECS)}")
    kwargs = {"hidden_units": hidden_units, "dropout": dropout, "regularization": regularization,
              "audio_dim": audio_dim, "video_dim": video_dim}
    if layers:
        kwargs["num_layers"] = layers
    model = build_model(model_name, **kwargs)
    compile_model(model, make_optimizer(opt, learning_rate, updating_step, learning_decay))
    return model


def train(train_records, validation_records, exp_dir, model_name="vl2m", batch_size=8, epochs=10, patience=5,
          seed=None, strategy=None, init_checkpoint=None, verbose="auto", **model_options):
    """Train one model on record sets; returns the fit summary (see :func:`avse_tf.training.fit`).

    The experiment folder also gets the feature settings the model was trained with
    (``preprocessing.json`` + the records' ``normalization.npz``), so that export and
    :func:`avse_tf.enhance` rebuild the same features from a waveform and landmarks.
    """
    from avse_tf.training import fit, get_strategy
    from avse_tf.training.strategy import is_multi_worker, set_determinism

    set_determinism(seed)
    strategy = strategy or get_strategy("auto")
    save_preprocessing(train_records, exp_dir)
    # Multi-worker: a last partial batch can leave a worker with no examples, which the collective
    # step cannot run on; full batches only (at most batch_size - 1 examples unused per epoch).
    full_batches = is_multi_worker(strategy)
    train_dataset = make_model_dataset(train_records, model_name, batch_size, shuffle=True, seed=seed,
                                       drop_remainder=full_batches)
    validation_dataset = make_model_dataset(validation_records, model_name, batch_size, drop_remainder=full_batches)
    with strategy.scope():
        model = build_and_compile(model_name, **model_options)
        if init_checkpoint:  # fine-tuning (the _ref recipe): start from another run's weights
            model.set_weights(load_model(init_checkpoint).get_weights())
    return fit(model, train_dataset, validation_dataset, epochs, exp_dir, patience=patience, verbose=verbose)


PREPROCESSING_FILE = "preprocessing.json"


def save_preprocessing(records, exp_dir) -> None:
    """Copy the records' normalisation statistics and feature settings into ``exp_dir``."""
    import shutil

    from avse_tf.records import load_manifest
    from avse_tf.utils import atomic_path, atomic_write_text

    manifest = load_manifest(records_manifest(records))
    records_root = os.path.dirname(os.path.dirname(manifest.path))
    info_path = os.path.join(records_root, "features.json")
    info = {"stft": STFT, "fps": FPS, "delta": 1, "sample_rate": 16000}
    if os.path.isfile(info_path):
        with open(info_path, encoding="utf-8") as handle:
            info.update(json.load(handle))
    if info.get("normalization", NORM_FILE) is None:
        return  # per-speaker statistics: there is no single normalisation to serve with
    norm = os.path.normpath(os.path.join(records_root, info.get("normalization", NORM_FILE)))
    if not os.path.isfile(norm):
        return
    os.makedirs(exp_dir, exist_ok=True)
    with atomic_path(os.path.join(exp_dir, NORM_FILE)) as temporary:
        shutil.copyfile(norm, temporary)
    atomic_write_text(os.path.join(exp_dir, PREPROCESSING_FILE), json.dumps(
        {key: info[key] for key in ("stft", "fps", "delta", "sample_rate")}, indent=1))


def load_model(path):
    """Load a ``.keras`` checkpoint (safe mode: no arbitrary code) or an experiment folder's best model."""
    from avse_tf.models.saving import load_model as load

    return load(path, family_module="avse_tf.models.enhancement")


# ----------------------------------------------------------------------------------------------
# Enhancement and testing

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
         metrics=("sdr", "si_sdr", "pesq", "stoi", "estoi", "visqol"), sample_rate=16000, model_name=None,
         write_wavs=True):
    """Enhance every example of a record set; write wavs, masks and a metrics CSV + summary.

    Returns ``(rows, summary)``: per-example metric rows and the mean of each column.
    """
    import csv

    from avse_tf.audio.io import write_audio
    from avse_tf.metrics import evaluate
    from avse_tf.models.enhancement import MODEL_SPECS
    from avse_tf.plots import save_array_png
    from avse_tf.utils import atomic_path, atomic_save_npy, progress

    model = load_model(checkpoint)
    model_name = model_name or model.name
    if model_name not in MODEL_SPECS:
        raise UserInputError(f"{checkpoint} holds model {model.name!r}; pass --model one of {', '.join(MODEL_SPECS)}")
    dataset = make_model_dataset(test_records, model_name, batch_size, with_targets=False)
    batches = int(dataset.cardinality())
    rows = []
    for batch in progress(dataset, f"test {model_name} {os.path.basename(os.path.normpath(test_records))}",
                          total=batches if batches >= 0 else None, unit="batch"):
        inputs, _, _ = model_batch(batch, model_name)
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
                save_array_png(os.path.join(folder, name + ".png"), mask, 0.0, 1.0 if model_name == "vl2m" else None)
            # BSS-eval v3 SDR of the target depends only on its own projection, so scoring against
            # [target, interferers] as the original did equals scoring against the target alone.
            scores = evaluate(waves["target_wav"], enhanced, waves["mixture_wav"], sample_rate, metrics=metrics)
            row = {"model": model_name, "speaker": speaker, "mixture": mixture_name}
            for metric, values in scores.items():
                row[f"{metric}_mixture"] = values["mixture"]
                row[f"{metric}_enhanced"] = values["estimate"]
                row[f"{metric}_improvement"] = values["improvement"]
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
    summary["examples"] = len(rows)
    return rows, summary
