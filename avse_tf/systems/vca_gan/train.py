"""Training VCA-GAN on a ``preprocess`` folder: the seed's ``train.py`` on the shared platform.

``train`` reads ``<grid>/tfrecords/{training,validation}`` (:func:`pipeline.make_lip2speech_dataset`:
random 40-frame windows with the paper's augmentation for training; whole clips for validation, as
the original's evaluation), builds the preset's :class:`~avse_tf.systems.vca_gan.model.VCAGAN` in
the strategy's scope, and runs :func:`avse_tf.training.fit` (resumable with both optimisers'
state, ``best.keras`` by validation reconstruction L1, TensorBoard). ``eval_step`` is the original's
"validate every N steps": it becomes the epoch length here (``None``: one pass over the training
set per epoch). TensorBoard also gets, after every epoch, the first validation clip's mel
spectrogram (generated and real, as images) and its Griffin-Lim waveform (as audio).
"""

from __future__ import annotations

import logging
import os

from avse_tf.constants import RECORDS_MANIFEST
from avse_tf.errors import UserInputError

log = logging.getLogger(__name__)
TENSORBOARD_SAMPLE_RATE = 16000


def split_manifest(data_dir, split) -> str:
    """``<data_dir>/tfrecords/<split>/manifest.json``, or a one-line error naming the command to run."""
    path = os.path.join(data_dir, "tfrecords", split, RECORDS_MANIFEST)
    if not os.path.isfile(path):
        raise UserInputError(f"no {split} records at {path}; run `avse lip2speech preprocess --output_dir {data_dir}` "
                             "first (--grid is its output folder)")
    return path


def _sample_callback(validation_records, log_dir, griffin_lim_iterations=30):
    import keras
    import numpy as np
    import tensorflow as tf

    from avse_tf.systems.vca_gan.pipeline import make_lip2speech_dataset
    from avse_tf.systems.vca_gan.synthesis import linear_to_waveform

    class MelSamples(keras.callbacks.Callback):
        """One validation clip's generated / real mel (images) and generated waveform (audio)."""

        def on_epoch_end(self, epoch, logs=None):
            batch = next(iter(make_lip2speech_dataset(validation_records, batch_size=1, mode="variable").take(1)))
            outputs = self.model({"video": batch["video"], "video_length": batch["video_length"]}, training=False)

            def image(mel):  # [1, frames, 80] in [-1, 1] -> [1, 80, frames, 1], low frequencies at the bottom
                picture = tf.reverse(tf.transpose(tf.cast(mel, tf.float32), [0, 2, 1]), axis=[1])
                return tf.clip_by_value((picture + 1) / 2, 0, 1)[..., None]

            waveform = linear_to_waveform(np.asarray(outputs["linear"][0]), griffin_lim_iterations)
            with tf.summary.create_file_writer(os.path.join(log_dir, "samples")).as_default(step=epoch):
                tf.summary.image("mel/generated", image(outputs["mel"]))
                tf.summary.image("mel/real", image(batch["mel"]))
                tf.summary.audio("waveform/generated", waveform[None, :, None], TENSORBOARD_SAMPLE_RATE)

    return MelSamples()


def train(grid, checkpoint_dir, preset="vca_gan_cpu", batch_size=None, epochs=None, eval_step=None,
          learning_rate=None, patience=None, regression_only=False, window_frames=None, seed=None, strategy=None,
          verbose="auto") -> dict:
    """Train (module doc); returns the fit summary (``best_model``: ``<checkpoint_dir>/best.keras``).

    Unset arguments take the preset's ``training`` values. ``regression_only``: the baseline
    without adversarial and sync losses (same generator, ``50 x`` reconstruction only).
    ``patience``: early stopping on the validation L1 (default: no early stopping, as the original).
    """
    import keras

    from avse_tf.records import record_errors
    from avse_tf.systems.presets import from_preset, get_preset
    from avse_tf.systems.vca_gan.model import make_optimizers
    from avse_tf.systems.vca_gan.pipeline import make_lip2speech_dataset
    from avse_tf.training import fit, get_strategy

    settings = get_preset(preset)["training"]
    batch_size = int(batch_size or settings["batch_size"])
    epochs = int(epochs or settings["epochs"])
    window_frames = int(window_frames or settings["window_frames"])
    learning_rate = float(learning_rate or settings["learning_rate"])
    train_records, validation_records = split_manifest(grid, "training"), split_manifest(grid, "validation")
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    strategy = strategy or get_strategy("auto")
    # Repeated, with the epoch length given: Keras then knows it from the first epoch on.
    train_data = make_lip2speech_dataset(train_records, batch_size, "fixed", training=True, window_frames=window_frames,
                                         seed=seed, repeat=True, drop_remainder=strategy.num_replicas_in_sync > 1)
    validation_data = make_lip2speech_dataset(validation_records, batch_size, "variable")
    steps_per_epoch = int(eval_step) if eval_step else _count_batches(train_records, batch_size, strategy)
    # Given, so Keras does not warn that the (finite) validation set "ran out of data".
    validation_steps = -(-_examples(validation_records) // batch_size)
    with strategy.scope():
        model = from_preset(preset)
        weights = {"adversarial": 0.0, "sync": 0.0} if regression_only else {}
        optimizers = make_optimizers(learning_rate, steps_per_epoch, settings.get("lr_milestone_epochs", (500, 800)),
                                     settings.get("lr_gamma", 0.1))
        model.compile(*optimizers, loss_weights={**_preset_weights(settings), **weights})
    callbacks = [_sample_callback(validation_records, os.path.join(checkpoint_dir, "logs"))]
    with record_errors(train_records), record_errors(validation_records):
        return fit(model, train_data, validation_data, epochs, checkpoint_dir, patience=patience or epochs + 1,
                   steps_per_epoch=steps_per_epoch, validation_steps=validation_steps, verbose=verbose,
                   extra_callbacks=callbacks)


def _preset_weights(settings) -> dict:
    names = {"reconstruction_weight": "reconstruction", "r1_weight": "r1", "weight_decay": "weight_decay",
             "sync_temperature": "sync_temperature"}
    return {ours: float(settings[key]) for key, ours in names.items() if key in settings}


def _examples(records) -> int:
    from avse_tf.records.reader import load_manifest

    return load_manifest(records).num_examples


def _count_batches(records, batch_size, strategy) -> int:
    """Batches in one pass (the learning-rate milestones count optimiser steps)."""
    import math

    examples = _examples(records)
    if strategy.num_replicas_in_sync > 1:  # drop_remainder
        return max(1, examples // batch_size)
    return max(1, math.ceil(examples / batch_size))
