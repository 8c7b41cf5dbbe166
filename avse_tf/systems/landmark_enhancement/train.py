"""Training of the Morrone et al. 2019 models on record sets (the seed's ``training`` step)."""

from __future__ import annotations

import json
import logging
import os

from avse_tf.constants import FPS, NORM_FILE, PREPROCESSING_FILE, SAMPLE_RATE
from avse_tf.errors import UserInputError
from avse_tf.systems.landmark_enhancement.pipeline import (
    STFT,
    make_model_dataset,
    records_manifest,
)
from avse_tf.training.checkpoints import load_model

log = logging.getLogger(__name__)


def build_and_compile(model_name, hidden_units=250, layers=None, dropout=0.0, regularization=0.0,
                      audio_dim=257, video_dim=136, opt="adam", learning_rate=1e-3, updating_step=None,
                      learning_decay=None):
    from avse_tf.systems.landmark_enhancement.model import (
        MODEL_SPECS,
        build_model,
        compile_model,
    )
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
          seed=None, strategy=None, init_checkpoint=None, verbose="auto", length_buckets=None, **model_options):
    """Train one model on record sets; returns the fit summary (see :func:`avse_tf.training.fit`).
    ``length_buckets``: var-mode records only, frame boundaries of the length buckets each batch is
    drawn from (short clips then are not padded to long ones; measured in ``tools/bench/README.md``).

    The experiment folder also gets the feature settings the model was trained with
    (``preprocessing.json`` + the records' ``normalization.npz``), so that export and
    :func:`avse_tf.enhance` rebuild the same features from a waveform and landmarks.
    """
    from avse_tf.records import record_errors
    from avse_tf.training import fit, get_strategy
    from avse_tf.training.strategy import is_multi_worker, set_determinism

    set_determinism(seed)
    strategy = strategy or get_strategy("auto")
    save_preprocessing(train_records, exp_dir)
    # Multi-worker: a last partial batch can leave a worker with no examples, which the collective
    # step cannot run on; full batches only (at most batch_size - 1 examples unused per epoch).
    full_batches = is_multi_worker(strategy)
    train_dataset = make_model_dataset(train_records, model_name, batch_size, shuffle=True, seed=seed,
                                       drop_remainder=full_batches, length_buckets=length_buckets)
    validation_dataset = make_model_dataset(validation_records, model_name, batch_size, drop_remainder=full_batches,
                                            length_buckets=length_buckets)
    with strategy.scope():
        model = build_and_compile(model_name, **model_options)
        if init_checkpoint:  # fine-tuning (the _ref recipe): start from another run's weights
            model.set_weights(load_model(init_checkpoint).get_weights())
    # A damaged record raises DataLossError inside fit: one line naming the shard and record instead.
    with record_errors(records_manifest(train_records)), record_errors(records_manifest(validation_records)):
        return fit(model, train_dataset, validation_dataset, epochs, exp_dir, patience=patience, verbose=verbose)


def save_preprocessing(records, exp_dir) -> None:
    """Copy the records' normalisation statistics and feature settings into ``exp_dir``."""
    import shutil

    from avse_tf.records import load_manifest
    from avse_tf.utils import atomic_path, atomic_write_text

    manifest = load_manifest(records_manifest(records))
    records_root = os.path.dirname(os.path.dirname(manifest.path))
    info_path = os.path.join(records_root, "features.json")
    info = {"stft": STFT, "fps": FPS, "delta": 1, "sample_rate": SAMPLE_RATE}
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


def tuning_job(train_records, validation_records, model_name, batch_size, seed=None, strategy=None):
    """What ``avse tune enhancement`` searches: record datasets, a builder of compiled models for the
    searched values (units, layers, learning rate, dropout; the optimiser of the model's preset), and
    the base preset the best values are written into."""
    from avse_tf.systems.presets import get_preset, list_presets
    from avse_tf.training import get_strategy

    strategy = strategy or get_strategy("auto")
    base = get_preset(list_presets(model=model_name)[0])
    train_dataset = make_model_dataset(train_records, model_name, batch_size, shuffle=True, seed=seed)
    validation_dataset = make_model_dataset(validation_records, model_name, batch_size)

    def build(hidden_units, num_layers, learning_rate, dropout):
        with strategy.scope():
            return build_and_compile(model_name, hidden_units=hidden_units, layers=num_layers, dropout=dropout,
                                     opt=base["training"].get("optimizer") or "adam", learning_rate=learning_rate)

    return train_dataset, validation_dataset, build, base, ("hidden_units", "num_layers", "learning_rate", "dropout")
