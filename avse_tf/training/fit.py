"""The training loop every system uses: Keras ``fit`` with resume, checkpoints, early stopping, logs.

Layout of an experiment folder ``exp_dir``:

* ``backup/`` — BackupAndRestore state, written atomically; a killed run started again with the
  same command resumes from the last completed epoch (deleted when training ends). Every other file
  of an epoch is written before it, so an epoch is either done (and not run again) or run again;
  ``history.csv`` rows of epochs that are run again are dropped, and early stopping picks up its
  count from the rows kept, so a resumed run stops where an uninterrupted one would;
* ``best.keras`` — the model with the lowest validation loss (written atomically);
* ``last.keras`` — the model after the last epoch (written atomically);
* ``history.csv`` — one row per epoch (appended across resumes);
* ``logs/`` — TensorBoard;
* ``done.json`` — written when training has finished, so a repeated command does not retrain.

Under ``MultiWorkerMirroredStrategy`` the same folder is written by :mod:`avse_tf.training.loop`
(Keras's ``fit`` does not run there; see that module), with a ``tf.train`` checkpoint in ``backup/``.
"""

from __future__ import annotations

import json
import os
import sys

from avse_tf.constants import BEST_CHECKPOINT
from avse_tf.utils import atomic_path, atomic_write_text


def _atomic_checkpoint_class():
    import keras

    class AtomicModelCheckpoint(keras.callbacks.Callback):
        """Save the whole model (.keras) to a temporary file and rename it: never half-written."""

        def __init__(self, path, monitor="val_loss", save_best_only=False):
            super().__init__()
            self.path, self.monitor, self.save_best_only = path, monitor, save_best_only
            self.best = float("inf")

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(self.monitor)
            if self.save_best_only:
                if value is None or not value < self.best:
                    return
                self.best = value
            with atomic_path(self.path) as temporary:  # temporary keeps the .keras suffix Keras needs
                self.model.save(temporary, overwrite=True)

    return AtomicModelCheckpoint


def _resume_classes():
    import csv

    import keras

    from avse_tf.utils import temporary_beside

    class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
        """Keras's BackupAndRestore with its two files replaced atomically, weights first.

        Keras writes ``latest.weights.h5`` in place: a kill (or a full disk) mid-write leaves a file that
        cannot be loaded, and the run cannot resume.
        """

        def _save_model(self):
            os.makedirs(self.backup_dir, exist_ok=True)
            temporary = temporary_beside(self._weights_path, ".weights.h5")  # Keras wants this suffix
            try:
                self.model.save_weights(filepath=temporary, overwrite=True)
                os.replace(temporary, self._weights_path)
            finally:
                if os.path.exists(temporary):
                    os.remove(temporary)
            atomic_write_text(self._training_metadata_path,
                              json.dumps({"epoch": self._current_epoch, "batch": self._last_batch_seen}))

    def backed_up_epoch(backup_dir) -> int:
        """The epoch a resumed run starts from (what BackupAndRestore will restore), 0 if none."""
        try:
            with open(os.path.join(backup_dir, "training_metadata.json"), encoding="utf-8") as handle:
                return int(json.load(handle)["epoch"])
        except (OSError, ValueError, KeyError):
            return 0

    class ResumeHistory(keras.callbacks.Callback):
        """Before the CSV logger opens ``history.csv``: keep the rows of the epochs the backup holds
        (a killed run may have logged an epoch it did not back up: that epoch runs again)."""

        def __init__(self, path, backup_dir):
            super().__init__()
            self.path, self.backup_dir = path, backup_dir
            self.rows = []

        def on_train_begin(self, logs=None):
            first = backed_up_epoch(self.backup_dir)
            self.rows = []
            if not os.path.isfile(self.path):
                return
            with open(self.path, newline="", encoding="utf-8") as handle:
                table = list(csv.reader(handle))
            if not table:
                return
            header, body = table[0], table[1:]
            column = header.index("epoch") if "epoch" in header else None
            kept = [row for row in body if column is not None and len(row) == len(header)
                    and row[column].isdigit() and int(row[column]) < first]
            self.rows = [dict(zip(header, row)) for row in kept]
            if len(kept) != len(body):
                with open(self.path, "r+", newline="", encoding="utf-8") as handle:
                    handle.truncate(0)  # in place: the CSV logger appends to this very file
                    csv.writer(handle).writerows([header, *kept] if kept or first else [])

    class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
        """EarlyStopping whose count of epochs without improvement survives a resume."""

        def __init__(self, history: ResumeHistory, **options):
            super().__init__(**options)
            self.history = history

        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            for row in self.history.rows:
                try:
                    current = float(row[self.monitor])
                except (KeyError, ValueError):
                    continue
                self.wait += 1
                if self.best is None or current < self.best:  # mode "min": val_loss
                    self.best, self.best_epoch, self.wait = current, int(row["epoch"]), 0

    return AtomicBackupAndRestore, ResumeHistory, ResumableEarlyStopping


def build_from_local_batch(model) -> None:
    """Work around Keras 3.15 building a distributed model from an all-reduced first batch.

    ``Model.fit`` / ``evaluate`` under a ``tf.distribute`` strategy take the first batch, average it
    over the replicas (``strategy.reduce("MEAN", batch)``) and build the model from the result. That
    reduction fails when the replicas' shares differ in size (a last, partial batch split 2 + 1:
    "Inputs to operation AddN ... must have the same size and shape") and under
    ``MultiWorkerMirroredStrategy``. Only the shapes matter for building, so this instance-level
    override builds from the first replica's share instead; everything else is Keras's own code.
    """
    import tensorflow as tf
    from keras import tree

    original = model._maybe_symbolic_build

    def maybe_symbolic_build(iterator=None, data_batch=None):
        strategy = model._distribute_strategy
        if iterator is not None and data_batch is None and strategy is not None:
            for _, _, batches in iterator:
                data_batch = tree.map_structure(
                    lambda value: strategy.experimental_local_results(value)[0]
                    if isinstance(value, tf.distribute.DistributedValues) else value, next(batches))
                break
        return original(data_batch=data_batch)

    model._maybe_symbolic_build = maybe_symbolic_build


def fit(model, train_dataset, validation_dataset, epochs: int, exp_dir: str, patience: int = 5,
        steps_per_epoch=None, validation_steps=None, verbose="auto", extra_callbacks=()):
    """Train ``model`` (compiled) and return the Keras History; resumable, see module doc."""
    import keras

    os.makedirs(exp_dir, exist_ok=True)
    done_path = os.path.join(exp_dir, "done.json")
    if os.path.isfile(done_path):
        with open(done_path, encoding="utf-8") as handle:
            summary = json.load(handle)
        if epochs > summary.get("epochs_requested", epochs):  # else the old run comes back without a word
            print(f"{exp_dir} finished its run of {summary['epochs_requested']} epochs (done.json); not training on "
                  f"to {epochs}: start a new folder from its last.keras to train longer", file=sys.stderr, flush=True)
        return summary
    from avse_tf.training.strategy import is_chief, is_multi_worker

    best_path = os.path.join(exp_dir, BEST_CHECKPOINT)
    if is_multi_worker(model.distribute_strategy):
        from avse_tf.training.loop import custom_loop_fit

        history, best = custom_loop_fit(model, train_dataset, validation_dataset, epochs, exp_dir, patience,
                                        steps_per_epoch, validation_steps, verbose)
        summary = {"epochs_run_this_call": len(history.get("loss", [])), "epochs_requested": int(epochs), "history": history,
                   "best_val_loss": best, "best_model": best_path}
        if is_chief(model.distribute_strategy):
            atomic_write_text(done_path, json.dumps(summary, indent=1, default=float))
        return summary
    checkpoint = _atomic_checkpoint_class()
    best_checkpoint = checkpoint(best_path, save_best_only=True)
    if os.path.isfile(os.path.join(exp_dir, "best_val_loss.json")):
        with open(os.path.join(exp_dir, "best_val_loss.json"), encoding="utf-8") as handle:
            best_checkpoint.best = json.load(handle)["val_loss"]

    class RememberBest(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            atomic_write_text(os.path.join(exp_dir, "best_val_loss.json"), json.dumps({"val_loss": best_checkpoint.best}))

    backup_and_restore, resume_history, early_stopping = _resume_classes()
    history_rows = resume_history(os.path.join(exp_dir, "history.csv"), os.path.join(exp_dir, "backup"))
    # Order matters: the backup, written last, is what marks an epoch done (see the module doc).
    callbacks = [
        history_rows,
        keras.callbacks.CSVLogger(os.path.join(exp_dir, "history.csv"), append=True),
        early_stopping(history_rows, monitor="val_loss", patience=patience, restore_best_weights=False),
        best_checkpoint,
        RememberBest(),
        checkpoint(os.path.join(exp_dir, "last.keras")),
        keras.callbacks.TensorBoard(os.path.join(exp_dir, "logs"), write_graph=False, profile_batch=0),
        keras.callbacks.TerminateOnNaN(),
        *extra_callbacks,
        backup_and_restore(os.path.join(exp_dir, "backup"), save_freq="epoch", delete_checkpoint=True),
    ]
    from avse_tf.training.progress import EpochLog, keras_verbosity

    if verbose == "auto" and not sys.stdout.isatty():
        callbacks.append(EpochLog(epochs))
    if model.distribute_strategy.num_replicas_in_sync > 1:
        build_from_local_batch(model)
    history = model.fit(train_dataset, validation_data=validation_dataset, epochs=epochs, callbacks=callbacks, shuffle=False,
                        steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
                        verbose=keras_verbosity(verbose))
    summary = {"epochs_run_this_call": len(history.history.get("loss", [])), "epochs_requested": int(epochs),
               "history": history.history, "best_val_loss": best_checkpoint.best, "best_model": best_path}
    atomic_write_text(done_path, json.dumps(summary, indent=1, default=float))
    return summary
