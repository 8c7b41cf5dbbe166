"""Loading checkpoints of any system: one place for safe mode, registration and one-line errors."""

from __future__ import annotations

import os
import zipfile

from avse_tf.constants import BEST_CHECKPOINT
from avse_tf.errors import UserInputError


def load_model(path, what="model checkpoint", flag="--ckp", compile=True):
    """A ``.keras`` file, or an experiment folder's ``best.keras``, in Keras safe mode.

    Every registered system's model module is imported first so that its custom layers and losses
    are registered (:func:`avse_tf.systems.import_model_modules`); Keras then rebuilds the model
    from its config alone (no pickled or arbitrary code). A missing or damaged file gives one line
    naming it.
    """
    import keras

    from avse_tf.systems import import_model_modules

    import_model_modules()
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, BEST_CHECKPOINT)
    if not os.path.isfile(path):
        raise UserInputError(f"{what} not found: {path}; train first or check {flag}")
    try:
        return keras.models.load_model(path, compile=compile, safe_mode=True)
    except (ValueError, OSError, KeyError, TypeError, zipfile.BadZipFile, EOFError) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
        raise UserInputError(f"cannot load {what} {path}: {reason}; the file is damaged or not an avse_tf "
                             ".keras model (train again or pass another file)") from None
