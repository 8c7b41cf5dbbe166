"""Loading checkpoints of any system: one place for safe mode, registration and one-line errors.

A ``.keras`` file is checked before Keras sees it (:func:`read_keras_config`): a zip archive
(not empty, not cut short, every member's CRC sound) holding a JSON ``config.json``, and no
``Lambda`` layer anywhere in it (a Lambda holds Python code; Keras's safe mode refuses lambdas
but would import a named function, avse_tf refuses both). Layer classes that no avse_tf module
registers are named (:func:`unknown_classes`). Every failure is a one-line
:class:`~avse_tf.errors.ModelFileError` ``<path> is corrupt or not an avse_tf model (<reason>); ...``
(never Keras's "File not found" for a file that exists).
"""

from __future__ import annotations

import copy
import functools
import json
import os
import zipfile
import zlib

from avse_tf.constants import BEST_CHECKPOINT
from avse_tf.errors import ModelFileError, UntrustedModelError, UserInputError

KERAS_CONFIG = "config.json"
LAMBDA_REFUSAL = "contains a Lambda layer (arbitrary Python code); avse_tf loads models in safe mode only"


def short_reason(error) -> str:
    """The first line of an exception's message (its type name when it has none), at most 160 characters."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:160]


DEFAULT_REMEDY = "train again or pass another file with --ckp"


def remedy_for(flag) -> str:
    return f"train again or pass another file with {flag}"


def model_file_error(path, reason, what="model checkpoint", remedy=DEFAULT_REMEDY) -> ModelFileError:
    """``cannot load <what>: <path> is corrupt or not an avse_tf model (<reason>); <remedy>``."""
    return ModelFileError(f"cannot load {what}: {path} is corrupt or not an avse_tf model ({reason}); {remedy}")


def _walk(config, trail=()):
    """``(trail, dict)`` for every serialized object (a dict with ``class_name``) in a Keras config."""
    if isinstance(config, dict):
        if "class_name" in config:
            yield trail, config
        for key, value in config.items():
            yield from _walk(value, trail + (str(key),))
    elif isinstance(config, list):
        for index, value in enumerate(config):
            yield from _walk(value, trail + (str(index),))


def lambda_layers(config) -> list:
    """Names of the ``Lambda`` layers in a Keras config (``"?"`` for an unnamed one)."""
    return [(entry.get("config") or {}).get("name", "?") if isinstance(entry.get("config"), dict) else "?"
            for _, entry in _walk(config) if entry.get("class_name") == "Lambda"]


def unknown_classes(config) -> list:
    """Registered names of the custom classes in ``config`` that this process has not registered
    (call after :func:`avse_tf.systems.import_model_modules`)."""
    import keras

    known = keras.saving.get_custom_objects()
    missing = []
    for _, entry in _walk(config):
        module = entry.get("module") or ""
        registered = entry.get("registered_name")
        if not isinstance(module, str) or module.startswith("keras") or module in ("builtins", "numpy"):
            continue
        if not module and not (isinstance(registered, str) and ">" in registered):
            continue  # keras internals such as __keras_tensor__
        name = registered or f"{module}.{entry.get('class_name')}"
        if name not in known and name not in missing:
            missing.append(name)
    return missing


def read_keras_config(path, what="model checkpoint", remedy=DEFAULT_REMEDY) -> dict:
    """The model config of an existing ``.keras`` file, after the checks of the module docstring;
    no Keras import, nothing built."""
    path = os.fspath(path)
    if not os.access(path, os.R_OK):
        raise UserInputError(f"cannot read {what} {path}: permission denied; {remedy}")
    stat = os.stat(path)
    # One CRC pass per file version: avse_tf.load reads the config up to three times (model id,
    # system, load); a rewritten file has another size or mtime and is checked again.
    config, reason = _verified_config(os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    if reason:
        raise model_file_error(path, reason, what, remedy)
    if lambda_layers(config):
        raise UntrustedModelError(f"cannot load {what}: {path} {LAMBDA_REFUSAL} (layer "
                                  f"{', '.join(lambda_layers(config))}); {remedy}")
    return copy.deepcopy(config)  # the cached one stays as read


@functools.lru_cache(maxsize=8)
def _verified_config(path, size, mtime_ns):
    """``(config, None)`` or ``(None, reason)`` for the archive at ``path`` (size and mtime key the cache)."""
    config, reason = None, None
    if size == 0:
        reason = "empty file, 0 bytes"
    elif not zipfile.is_zipfile(path):
        reason = "not a zip archive, or cut short"
    else:
        try:
            with zipfile.ZipFile(path) as archive:
                if KERAS_CONFIG not in archive.namelist():
                    reason = f"no {KERAS_CONFIG} inside the archive"
                else:
                    damaged = archive.testzip()
                    if damaged is not None:
                        reason = f"archive member {damaged} is damaged (CRC mismatch)"
                    else:
                        config = json.loads(archive.read(KERAS_CONFIG))
                        if not isinstance(config, dict) or "class_name" not in config:
                            reason = f"{KERAS_CONFIG} is not a Keras model config"
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError, NotImplementedError) as error:
            reason = f"damaged zip archive: {short_reason(error)}"
        except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
            reason = f"{KERAS_CONFIG} is not valid JSON: {short_reason(error)}"
    return (None, reason) if reason else (config, None)


def load_model(path, what="model checkpoint", flag="--ckp", compile=True):
    """A ``.keras`` file, or an experiment folder's ``best.keras``, in Keras safe mode.

    Every registered system's model module is imported first so that its custom layers and losses
    are registered (:func:`avse_tf.systems.import_model_modules`); Keras then rebuilds the model
    from its config alone (no pickled or arbitrary code). A missing, damaged or untrusted file
    gives one line naming it (:class:`~avse_tf.errors.ModelFileError`,
    :class:`~avse_tf.errors.UntrustedModelError`).
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, BEST_CHECKPOINT)):
            raise UserInputError(f"{what} not found: {path} is a folder without {BEST_CHECKPOINT}; train first "
                                 f"(an interrupted run saves it at its first epoch) or check {flag}")
        path = os.path.join(path, BEST_CHECKPOINT)
    if not os.path.isfile(path):
        raise UserInputError(f"{what} not found: {path}; train first or check {flag}")
    config = read_keras_config(path, what, remedy_for(flag))

    import keras

    from avse_tf.systems import import_model_modules

    import_model_modules()
    missing = unknown_classes(config)
    if missing:
        raise model_file_error(path, f"unknown class {', '.join(missing)}, registered by no avse_tf module",
                               what, remedy_for(flag))
    try:
        return keras.models.load_model(path, compile=compile, safe_mode=True)
    except (ValueError, OSError, KeyError, TypeError, zipfile.BadZipFile, EOFError) as error:
        if "Lambda" in str(error):
            raise UntrustedModelError(f"cannot load {what}: {path} {LAMBDA_REFUSAL}; {remedy_for(flag)}") from None
        reason = short_reason(error)
        if reason.startswith("File not found"):  # Keras's words for any file it cannot open as a zip
            reason = "Keras cannot open it as a .keras archive"
        raise model_file_error(path, reason, what, remedy_for(flag)) from None
