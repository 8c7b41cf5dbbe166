"""Training the lip-sync expert and the Wav2Lip teacher on a ``preprocess`` folder: Wav2Lip's
``color_syncnet_train.py`` and ``wav2lip_train.py`` on the shared platform.

Both read ``<preprocessed_root>/tfrecords/{training,validation}`` (the ``tf.data`` readers of
:mod:`~avse_tf.systems.pseudo_visual.pipeline`), build the preset's model, compile it with Adam at
the preset's learning rate and run :func:`avse_tf.training.fit` (resumable, ``best.keras`` by the
validation loss - BCE for the expert, L1 for the teacher - ``last.keras``, ``history.csv``).
Epochs are ``steps_per_epoch`` batches of the repeated training reader (the original counts
steps, not passes); validation is one pass over the validation clips, one window each.

``train_teacher`` freezes the expert of ``expert_checkpoint`` (a ``.keras`` file or its folder) inside
the teacher (:class:`~avse_tf.systems.pseudo_visual.teacher.Wav2LipTeacher`). Checkpoints are Keras
files loaded in safe mode (:func:`load_checkpoint`); a PyTorch ``.pth`` is refused - it would need
pickle, which this library never uses.
"""

from __future__ import annotations

import os

from avse_tf.constants import BEST_CHECKPOINT, RECORDS_MANIFEST
from avse_tf.errors import ModelFileError, UserInputError

EXPERT_FOLDER = "expert"
# Checkpoint files that are pickles (PyTorch and plain pickle): refused, never opened.
PYTORCH_SUFFIXES = (".pth", ".pt", ".tar", ".ckpt", ".pkl")


def split_records(preprocessed_root, split) -> str:
    """``<root>/tfrecords/<split>/manifest.json``, or a one-line error naming the command to run."""
    path = os.path.join(os.fspath(preprocessed_root), "tfrecords", split, RECORDS_MANIFEST)
    if not os.path.isfile(path):
        raise UserInputError(f"no {split} records at {path}; run `avse denoising preprocess --preprocessed_root "
                             f"{preprocessed_root}` first (--data_root is its output folder)")
    return path


def load_checkpoint(path, what="teacher checkpoint", flag="--checkpoint_path"):
    """A trained expert or teacher: a ``.keras`` file or a training folder's ``best.keras``, safe mode,
    not compiled. PyTorch checkpoints are refused (:class:`~avse_tf.errors.ModelFileError`)."""
    from avse_tf.training.checkpoints import load_model

    path = os.fspath(path)
    if path.lower().endswith(PYTORCH_SUFFIXES):
        raise ModelFileError(f"{what} {path} is a PyTorch checkpoint: it is not loaded (that needs pickle, which "
                             "avse_tf never uses); train one with `avse denoising train_teacher` (or train_syncnet)")
    return load_model(path, what=what, flag=flag, compile=False)


def _examples(records) -> int:
    from avse_tf.records.reader import load_manifest

    return load_manifest(records).num_examples


def _settings(preset, **given):
    """The preset's ``training`` values with the given (non-None) ones on top."""
    from avse_tf.systems.presets import get_preset

    settings = get_preset(preset)["training"]
    settings.update({key: value for key, value in given.items() if value is not None})
    return settings


def validation_steps_of(records, batch_size, pairs=1) -> int:
    """Batches in one validation pass: ``pairs`` examples per clip (one window per clip and pass)."""
    return max(1, -(-_examples(records) * pairs // int(batch_size)))


def train_expert(preprocessed_root, checkpoint_dir, preset="lipsync_expert_cpu", batch_size=None, epochs=None,
                 learning_rate=None, steps_per_epoch=None, min_shift=None, seed=None, initial_checkpoint=None,
                 verbose="auto") -> dict:
    """Train the lip-sync expert (``color_syncnet_train.py``); returns the fit summary
    (``best_model``: ``<checkpoint_dir>/best.keras``). Unset arguments take the preset's ``training``
    values; ``min_shift``: how far (video frames) a shifted training window starts from the mel's;
    ``initial_checkpoint``: an expert ``.keras`` whose weights start the run (the seed's ``--checkpoint_path``)."""
    import keras

    from avse_tf.records import record_errors
    from avse_tf.systems.presets import from_preset
    from avse_tf.systems.pseudo_visual.pipeline import make_expert_dataset
    from avse_tf.training import fit

    settings = _settings(preset, batch_size=batch_size, epochs=epochs, learning_rate=learning_rate,
                         steps_per_epoch=steps_per_epoch, min_shift=min_shift)
    _require_schedule(settings, preset)
    train_records = split_records(preprocessed_root, "training")
    validation_records = split_records(preprocessed_root, "validation")
    initial = load_checkpoint(initial_checkpoint, "lip-sync expert") if initial_checkpoint else None
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    batch = int(settings["batch_size"])
    train_data = make_expert_dataset(train_records, batch, min_shift=int(settings["min_shift"]), seed=seed,
                                     repeat=True, drop_remainder=True)
    # Validation: the evaluation's shift, so val_loss measures what evaluate_teacher reports.
    validation_data = make_expert_dataset(validation_records, batch, min_shift=int(settings["eval_min_shift"]),
                                          shuffle=False, seed=0)
    model = from_preset(preset)
    if initial is not None:
        if initial.get_config() != model.get_config():
            raise ModelFileError(f"--checkpoint_path {initial_checkpoint} is not a {preset} expert; pick its preset")
        model.set_weights(initial.get_weights())
    model.compile(optimizer=keras.optimizers.Adam(float(settings["learning_rate"])))
    with record_errors(train_records), record_errors(validation_records):
        return fit(model, train_data, validation_data, int(settings["epochs"]), os.fspath(checkpoint_dir),
                   patience=int(settings["epochs"]) + 1, steps_per_epoch=int(settings["steps_per_epoch"]),
                   validation_steps=validation_steps_of(validation_records, batch, pairs=2), verbose=verbose)


def train_teacher(preprocessed_root, checkpoint_dir, expert_checkpoint=None, preset="wav2lip_teacher_cpu",
                  batch_size=None, epochs=None, learning_rate=None, steps_per_epoch=None, seed=None,
                  expert_preset=None, verbose="auto") -> dict:
    """Train the Wav2Lip teacher (``wav2lip_train.py``) against the frozen expert; returns the fit
    summary. ``expert_checkpoint`` ``None``: ``<checkpoint_dir>/expert/best.keras``, trained first
    with :func:`train_expert` (preset ``expert_preset``, default the teacher preset's; the given
    ``batch_size``, ``epochs``, ``steps_per_epoch`` apply to it too) when absent."""
    import keras

    from avse_tf.records import record_errors
    from avse_tf.systems.presets import from_preset
    from avse_tf.systems.pseudo_visual.expert import LipSyncExpert
    from avse_tf.systems.pseudo_visual.pipeline import make_teacher_dataset
    from avse_tf.systems.pseudo_visual.teacher import sync_weight_switch
    from avse_tf.training import fit

    settings = _settings(preset, batch_size=batch_size, epochs=epochs, learning_rate=learning_rate,
                         steps_per_epoch=steps_per_epoch)
    _require_schedule(settings, preset)
    train_records = split_records(preprocessed_root, "training")
    validation_records = split_records(preprocessed_root, "validation")
    checkpoint_dir = os.fspath(checkpoint_dir)
    if expert_checkpoint is None:
        expert_checkpoint = os.path.join(checkpoint_dir, EXPERT_FOLDER)
        if not os.path.isfile(os.path.join(expert_checkpoint, BEST_CHECKPOINT)):
            # The schedule given here applies to the expert too (its preset's lr stays).
            train_expert(preprocessed_root, expert_checkpoint, expert_preset or settings["expert_preset"],
                         batch_size, epochs, steps_per_epoch=steps_per_epoch, seed=seed, verbose=verbose)
    expert = load_checkpoint(expert_checkpoint, "lip-sync expert", "--syncnet_checkpoint_path")
    if not isinstance(expert, LipSyncExpert):
        raise ModelFileError(f"--syncnet_checkpoint_path {expert_checkpoint} holds a {type(expert).__name__}, "
                             "not a lip-sync expert; train one with `avse denoising train_syncnet`")
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    batch = int(settings["batch_size"])
    train_data = make_teacher_dataset(train_records, batch, seed=seed, repeat=True, drop_remainder=True)
    validation_data = make_teacher_dataset(validation_records, batch, shuffle=False, seed=0)
    model = from_preset(preset, expert_config=expert.get_config())
    model.expert.set_weights(expert.get_weights())
    model.compile(optimizer=keras.optimizers.Adam(float(settings["learning_rate"])))
    with record_errors(train_records), record_errors(validation_records):
        return fit(model, train_data, validation_data, int(settings["epochs"]), checkpoint_dir,
                   patience=int(settings["epochs"]) + 1, steps_per_epoch=int(settings["steps_per_epoch"]),
                   validation_steps=validation_steps_of(validation_records, batch), verbose=verbose,
                   extra_callbacks=[sync_weight_switch()])


def _require_schedule(settings, preset) -> None:
    missing = [key for key in ("epochs", "steps_per_epoch") if settings.get(key) is None]
    if missing:
        flags = " ".join(f"--{key}" for key in missing)
        raise UserInputError(f"preset {preset} does not know {', '.join(missing)} (the original trains until "
                             f"stopped); give {flags}")
