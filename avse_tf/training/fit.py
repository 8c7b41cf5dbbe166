"""The training loop every family uses: Keras ``fit`` with resume, checkpoints, early stopping, logs.

Layout of an experiment folder ``exp_dir``:

* ``backup/`` — BackupAndRestore state; a killed run started again with the same command resumes
  from the last completed epoch (deleted when training ends);
* ``best.keras`` — the model with the lowest validation loss (written atomically);
* ``last.keras`` — the model after the last epoch (written atomically);
* ``history.csv`` — one row per epoch (appended across resumes);
* ``logs/`` — TensorBoard;
* ``done.json`` — written when training has finished, so a repeated command does not retrain.
"""

from __future__ import annotations

import json
import os

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


def fit(model, train_dataset, validation_dataset, epochs: int, exp_dir: str, patience: int = 5,
        steps_per_epoch=None, validation_steps=None, verbose="auto", extra_callbacks=()):
    """Train ``model`` (compiled) and return the Keras History; resumable, see module doc."""
    import keras

    os.makedirs(exp_dir, exist_ok=True)
    done_path = os.path.join(exp_dir, "done.json")
    if os.path.isfile(done_path):
        with open(done_path, encoding="utf-8") as handle:
            return json.load(handle)
    checkpoint = _atomic_checkpoint_class()
    best_path = os.path.join(exp_dir, "best.keras")
    best_checkpoint = checkpoint(best_path, save_best_only=True)
    if os.path.isfile(os.path.join(exp_dir, "best_val_loss.json")):
        with open(os.path.join(exp_dir, "best_val_loss.json"), encoding="utf-8") as handle:
            best_checkpoint.best = json.load(handle)["val_loss"]

    class RememberBest(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            atomic_write_text(os.path.join(exp_dir, "best_val_loss.json"), json.dumps({"val_loss": best_checkpoint.best}))

    callbacks = [
        keras.callbacks.BackupAndRestore(os.path.join(exp_dir, "backup"), save_freq="epoch", delete_checkpoint=True),
        best_checkpoint,
        RememberBest(),
        checkpoint(os.path.join(exp_dir, "last.keras")),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=False),
        keras.callbacks.CSVLogger(os.path.join(exp_dir, "history.csv"), append=True),
        keras.callbacks.TensorBoard(os.path.join(exp_dir, "logs"), write_graph=False, profile_batch=0),
        keras.callbacks.TerminateOnNaN(),
        *extra_callbacks,
    ]
    history = model.fit(train_dataset, validation_data=validation_dataset, epochs=epochs, callbacks=callbacks,
                        steps_per_epoch=steps_per_epoch, validation_steps=validation_steps, verbose=verbose)
    summary = {"epochs_run_this_call": len(history.history.get("loss", [])), "history": history.history,
               "best_val_loss": best_checkpoint.best, "best_model": best_path}
    atomic_write_text(done_path, json.dumps(summary, indent=1, default=float))
    return summary
