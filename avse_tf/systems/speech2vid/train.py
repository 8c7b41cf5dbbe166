"""Training of the Speech2Vid generator, its face encoder and the deblurring network."""

from __future__ import annotations

import logging
import os

from avse_tf.constants import BEST_CHECKPOINT, RECORDS_MANIFEST
from avse_tf.errors import UserInputError
from avse_tf.records import record_errors
from avse_tf.systems.speech2vid.pipeline import (
    SETS,
    decode_batch,
    generator_dataset,
    read_meta,
)

log = logging.getLogger(__name__)


def _set_paths(processed_dir):
    paths = {name: os.path.join(processed_dir, name, RECORDS_MANIFEST) for name in SETS}
    for name, path in paths.items():
        if not os.path.isfile(path):
            raise UserInputError(f"no {name} records at {path}; run prepare_data (with a non-zero "
                                 f"--val_fraction for val) first")
    return paths


def train_face_encoder(processed_dir, exp_dir, batch_size=32, epochs=10, width=0.5, learning_rate=1e-3,
                       patience=5, steps_per_epoch=None, seed=None, verbose="auto") -> str:
    """Train the content-loss face encoder (landmark regression, L1) on the records' real faces;
    returns its ``best.keras`` path."""
    import keras
    import tensorflow as tf

    from avse_tf.records import make_dataset
    from avse_tf.systems.speech2vid.model import face_encoder
    from avse_tf.training import fit

    meta = read_meta(processed_dir)
    paths = _set_paths(processed_dir)
    if seed is not None:
        keras.utils.set_random_seed(int(seed))

    def dataset(path, shuffle):
        data = make_dataset(path, batch_size=batch_size, shuffle=shuffle, seed=seed, shuffle_buffer=2048,
                            repeat=shuffle and steps_per_epoch is not None,
                            features=["target", "identity", "mfcc", "target_landmarks"])
        return data.map(lambda b: (decode_batch(b, meta["image_size"], meta["num_identity"])["target"],
                                   b["target_landmarks"]), num_parallel_calls=tf.data.AUTOTUNE)

    model = face_encoder(meta["image_size"], width)
    model.compile(keras.optimizers.Adam(learning_rate), loss="mae")
    with record_errors(paths["train"]), record_errors(paths["val"]):
        fit(model, dataset(paths["train"], True), dataset(paths["val"], False), epochs, exp_dir, patience=patience,
            steps_per_epoch=steps_per_epoch, verbose=verbose)
    return os.path.join(exp_dir, BEST_CHECKPOINT)


def train(processed_dir, exp_dir, batch_size=64, epochs=20, steps_per_epoch=1000, patience=10, width=1.0,
          masked_target=False, content_weight=1.0, face_encoder_path=None, learning_rate=1e-3, encoder_epochs=10,
          encoder_width=0.5, seed=None, strategy=None, workers=None, verbose="auto") -> dict:
    """Train the generator; returns the fit summary. Seed defaults: Adam, batch 64, 20 epochs of
    1000 steps, early stopping patience 10; ``best.keras`` is the seed's ``best_model.h5``.

    With ``content_weight`` > 0 the content loss needs a frozen face encoder: ``face_encoder_path``,
    or one trained first into ``<exp_dir>/face_encoder/`` (resumable like everything else).
    """
    import keras

    from avse_tf.systems.speech2vid.model import (
        Speech2VidLoss,
        content_features,
        speech2vid,
    )
    from avse_tf.training import fit, get_strategy

    meta = read_meta(processed_dir)
    paths = _set_paths(processed_dir)
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    features = None
    if content_weight:
        if not face_encoder_path:
            face_encoder_path = train_face_encoder(processed_dir, os.path.join(exp_dir, "face_encoder"),
                                                   batch_size=min(batch_size, 32), epochs=encoder_epochs,
                                                   width=encoder_width, seed=seed, verbose=verbose,
                                                   steps_per_epoch=steps_per_epoch)
        encoder = load_model(face_encoder_path, "face encoder")
        if tuple(encoder.input_shape[1:3]) != (meta["image_size"],) * 2:
            raise UserInputError(f"face encoder {face_encoder_path} takes {encoder.input_shape[1:3]} faces, the "
                                 f"records hold {meta['image_size']}; train one on these records (omit --face_encoder)")
    strategy = strategy or get_strategy("auto")
    repeat = steps_per_epoch is not None
    train_data = generator_dataset(paths["train"], meta, batch_size, masked_target, shuffle=True, seed=seed,
                                   repeat=repeat, workers=workers)
    val_data = generator_dataset(paths["val"], meta, batch_size, masked_target, workers=workers)
    with strategy.scope():
        if content_weight:
            features = content_features(encoder)
        model = speech2vid(meta["image_size"], meta["num_identity"], masked_target, width,
                           meta["mfcc_mean"], meta["mfcc_std"])
        encoder_path = os.path.abspath(face_encoder_path) if face_encoder_path else None
        loss = Speech2VidLoss(features, content_weight, encoder_path)
        model.compile(keras.optimizers.Adam(learning_rate), loss={"face": loss})
    with record_errors(paths["train"]), record_errors(paths["val"]):
        return fit(model, train_data, val_data, epochs, exp_dir, patience=patience, steps_per_epoch=steps_per_epoch,
                   verbose=verbose)


def blur(images, sigma):
    """Gaussian blur of ``[B, H, W, 3]`` float images with standard deviation ``sigma`` (pixels)."""
    import tensorflow as tf

    radius = 4
    x = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-0.5 * tf.square(x / tf.maximum(tf.cast(sigma, tf.float32), 1e-3)))
    kernel = kernel / tf.reduce_sum(kernel)
    horizontal = tf.tile(tf.reshape(kernel, [1, -1, 1, 1]), [1, 1, 3, 1])
    vertical = tf.tile(tf.reshape(kernel, [-1, 1, 1, 1]), [1, 1, 3, 1])
    padded = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="SYMMETRIC")
    out = tf.nn.depthwise_conv2d(padded, horizontal, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(out, vertical, [1, 1, 1, 1], "VALID")


def train_deblur(processed_dir, exp_dir, batch_size=32, epochs=10, steps_per_epoch=None, num_layers=10, filters=64,
                 sigma_range=(0.5, 2.0), learning_rate=1e-3, patience=5, seed=None, verbose="auto") -> dict:
    """Train the refinement network (paper §3.4) to undo Gaussian blur (sigma uniform in
    ``sigma_range``, one per batch) of the records' real faces, with an L1 loss."""
    import keras
    import tensorflow as tf

    from avse_tf.records import make_dataset
    from avse_tf.systems.speech2vid.model import deblur_network
    from avse_tf.training import fit

    meta = read_meta(processed_dir)
    paths = _set_paths(processed_dir)
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    low, high = sigma_range

    def dataset(path, shuffle):
        data = make_dataset(path, batch_size=batch_size, shuffle=shuffle, seed=seed, shuffle_buffer=2048,
                            repeat=shuffle and steps_per_epoch is not None,
                            features=["target", "identity", "mfcc", "target_landmarks"])

        def pairs(batch):
            sharp = decode_batch(batch, meta["image_size"], meta["num_identity"])["target"]
            sigma = tf.random.uniform([], low, high, seed=seed) if shuffle else (low + high) / 2
            return blur(sharp, sigma), sharp

        return data.map(pairs, num_parallel_calls=tf.data.AUTOTUNE)

    model = deblur_network(num_layers, filters)
    model.compile(keras.optimizers.Adam(learning_rate), loss="mae")
    with record_errors(paths["train"]), record_errors(paths["val"]):
        return fit(model, dataset(paths["train"], True), dataset(paths["val"], False), epochs, exp_dir,
                   patience=patience, steps_per_epoch=steps_per_epoch, verbose=verbose)


def load_model(path, what="model"):
    """A ``.keras`` file (safe mode, not compiled) or a folder's ``best.keras``; the seed's
    ``saved_models/model.h5`` name finds ``saved_models/best.keras`` beside it."""
    from avse_tf.training.checkpoints import load_model as load

    if path.endswith(".h5") and not os.path.isfile(path):
        candidate = os.path.join(os.path.dirname(path) or ".", BEST_CHECKPOINT)
        path = candidate if os.path.isfile(candidate) else path
    return load(path, what=what, flag="-m", compile=False)
