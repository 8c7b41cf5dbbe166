"""A custom training loop for multi-worker training, with the same outputs as :func:`~avse_tf.training.fit`.

Keras 3.15's ``Model.fit`` fails under ``MultiWorkerMirroredStrategy``: it all-reduces the first
input batch with ``axis=None`` to build the model and reduces scalar logs along axis 0, and both
raise inside TensorFlow's collective ops (checked with two workers on 127.0.0.1). This loop runs the
model's own ``train_step`` / ``test_step`` under ``strategy.run`` (so the losses, their scaling by
the number of replicas and the optimizer are exactly Keras's) and writes the same experiment folder:
``history.csv``, ``best.keras`` / ``last.keras`` (chief only, atomically), TensorBoard scalars, and
a ``tf.train`` checkpoint of model, optimizer and epoch in ``backup/`` from which a killed run
resumes at the last completed epoch. Every worker saves (collective ops need all of them); the
non-chief workers write to throw-away folders, as TensorFlow's multi-worker guide prescribes.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import time

from avse_tf.constants import BEST_CHECKPOINT
from avse_tf.utils import atomic_path, atomic_write_text


def _task_index() -> int:
    try:
        return int(json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {}).get("index", 0))
    except ValueError:
        return 0


def _append_history(path, epoch, logs) -> None:
    new = not os.path.isfile(path)
    columns = ["epoch", *sorted(logs)]
    with open(path, "a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(columns)
        writer.writerow([epoch, *(logs[name] for name in columns[1:])])


def custom_loop_fit(model, train_dataset, validation_dataset, epochs: int, exp_dir: str, patience: int = 5,
                    steps_per_epoch=None, validation_steps=None, verbose="auto"):
    import tensorflow as tf

    from avse_tf.training.strategy import is_chief

    strategy = model.distribute_strategy
    chief = is_chief(strategy)
    os.makedirs(exp_dir, exist_ok=True)
    backup_dir = os.path.join(exp_dir, "backup")
    save_dir = backup_dir if chief else os.path.join(exp_dir, f"backup_worker{_task_index()}")

    with strategy.scope():
        # Build model, loss and metric state from one local batch (no cross-worker reduction).
        model._symbolic_build(data_batch=next(iter(train_dataset)))
    # Loop counters: plain (per-worker) variables, identical on every worker by construction.
    with tf.device("/cpu:0"):
        epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False)
        best_var = tf.Variable(math.inf, dtype=tf.float64, trainable=False)
        wait_var = tf.Variable(0, dtype=tf.int64, trainable=False)
    with strategy.scope():
        checkpoint = tf.train.Checkpoint(model=model, optimizer=model.optimizer, epoch=epoch_var, best=best_var,
                                         wait=wait_var)
    manager = tf.train.CheckpointManager(checkpoint, save_dir, max_to_keep=1)
    latest = tf.train.latest_checkpoint(backup_dir)
    if latest:
        checkpoint.restore(latest)

    distributed_train = strategy.experimental_distribute_dataset(train_dataset)
    distributed_validation = strategy.experimental_distribute_dataset(validation_dataset)

    def reduce(logs):
        return {name: strategy.reduce("MEAN", value, axis=None) for name, value in logs.items()}

    @tf.function
    def train_step(batch):
        return reduce(strategy.run(model.train_step, args=(batch,)))

    @tf.function
    def test_step(batch):
        return reduce(strategy.run(model.test_step, args=(batch,)))

    def run(step, dataset, limit):
        model.reset_metrics()
        logs = {}
        for index, batch in enumerate(dataset):
            if limit is not None and index >= limit:
                break
            logs = step(batch)
        return {name: float(value) for name, value in logs.items()}

    writer = tf.summary.create_file_writer(os.path.join(exp_dir, "logs")) if chief else None
    from avse_tf.training.progress import epoch_line

    history = {}
    started, epochs_timed = time.monotonic(), 0
    while int(epoch_var) < epochs and int(wait_var) < patience:
        epoch = int(epoch_var)
        logs = run(train_step, distributed_train, steps_per_epoch)
        logs.update({f"val_{name}": value for name, value in
                     run(test_step, distributed_validation, validation_steps).items()})
        for name, value in logs.items():
            history.setdefault(name, []).append(value)
        improved = logs.get("val_loss", math.inf) < float(best_var)
        if improved:
            best_var.assign(logs["val_loss"])
            wait_var.assign(0)
        else:
            wait_var.assign_add(1)
        if chief:
            if improved:
                with atomic_path(os.path.join(exp_dir, BEST_CHECKPOINT)) as temporary:
                    model.save(temporary, overwrite=True)
            with atomic_path(os.path.join(exp_dir, "last.keras")) as temporary:
                model.save(temporary, overwrite=True)
            _append_history(os.path.join(exp_dir, "history.csv"), epoch, logs)
            atomic_write_text(os.path.join(exp_dir, "best_val_loss.json"), json.dumps({"val_loss": float(best_var)}))
            with writer.as_default():
                for name, value in logs.items():
                    tf.summary.scalar(name, value, step=epoch)
            writer.flush()
        epochs_timed += 1
        if verbose:
            print(epoch_line(epoch, epochs, logs, time.monotonic() - started, epochs_timed), flush=True)
        epoch_var.assign_add(1)
        manager.save()  # all workers: the save runs collective ops
    # Finished: the backup is no longer needed (done.json stops a repeated command from retraining).
    shutil.rmtree(save_dir, ignore_errors=True)
    return history, float(best_var)
