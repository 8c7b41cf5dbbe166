"""One line per epoch, with the time elapsed and an estimate of the time remaining.

On a terminal Keras draws its bar; in a log (nohup, a scheduler, CI) the bar's carriage returns
become noise or nothing, so training prints these lines instead (``fit``, the custom loop).
"""

from __future__ import annotations

import sys
import time

import keras

from avse_tf.utils import format_seconds


def epoch_line(epoch: int, epochs: int, logs: dict, elapsed: float, epochs_timed: int) -> str:
    """``epoch`` is 0-based; ``elapsed`` covers ``epochs_timed`` epochs of this run (a resumed run
    times only its own)."""
    remaining = elapsed / max(epochs_timed, 1) * (epochs - epoch - 1)
    values = ", ".join(f"{name} {float(value):.4f}" for name, value in (logs or {}).items())
    return (f"epoch {epoch + 1}/{epochs}: {values}; {format_seconds(elapsed)} elapsed, "
            f"~{format_seconds(remaining)} remaining at most")


def keras_verbosity(verbose):
    """Keras's own display where it helps: its bar on a terminal, nothing in a log (EpochLog prints)."""
    if verbose == "auto":
        return "auto" if sys.stdout.isatty() else 0
    return verbose


class EpochLog(keras.callbacks.Callback):
    """Prints :func:`epoch_line` at the end of every epoch (for logs: no terminal, verbose "auto")."""

    def __init__(self, epochs: int):
        super().__init__()
        self.epochs = int(epochs)
        self.started = None
        self.timed = 0

    def on_train_begin(self, logs=None):
        self.started = time.monotonic()
        self.timed = 0

    def on_epoch_end(self, epoch, logs=None):
        self.timed += 1
        print(epoch_line(epoch, self.epochs, logs, time.monotonic() - self.started, self.timed), flush=True)
