"""Export pieces every system uses: atomic export folders, the ``avse_export.json`` stamp that tells
:func:`avse_tf.load` which system an export holds, and the model-core formats (Keras's SavedModel
export, TFLite at a fixed number of frames, a ``.keras`` copy with the files it needs beside it).

"Model core" means the Keras model's own inputs and outputs (features in, features out); a
system whose users hold waveforms can add a serving graph around it (the enhancement system does).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

from avse_tf.errors import UserInputError
from avse_tf.utils import UMASK

EXPORT_INFO = "avse_export.json"


def atomic_dir(final) -> str:
    """A temporary folder beside ``final``; :func:`commit_dir` renames it into place when complete."""
    parent = os.path.dirname(os.path.abspath(final))
    os.makedirs(parent, exist_ok=True)
    temporary = tempfile.mkdtemp(prefix=f".{os.path.basename(final)}.tmp-", dir=parent)
    # mkdtemp makes it 0700; the export folder gets the mode a plain mkdir would give.
    os.chmod(temporary, 0o777 & ~UMASK)
    return temporary


def commit_dir(temporary, final) -> None:
    if os.path.exists(final):
        shutil.rmtree(final)
    os.rename(temporary, final)


def write_export_info(folder, system, model_id, export_format, **extra) -> None:
    """Stamp an export with its system and model (TensorFlow Serving ignores the extra file)."""
    with open(os.path.join(folder, EXPORT_INFO), "w", encoding="utf-8") as handle:
        json.dump({"system": system, "model": model_id, "format": export_format, **extra}, handle, indent=1)


def read_export_info(folder) -> dict | None:
    path = os.path.join(folder, EXPORT_INFO)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def model_id(model) -> str:
    return getattr(model, "architecture", None) or model.name


def core_signature(model, num_frames=None, batch=None):
    """Input specs of the model core: sequences ``[batch, num_frames, dim]`` (``None``: any length)."""
    import tensorflow as tf

    specs = {}
    for tensor in model.inputs:
        shape = list(tensor.shape)
        if len(shape) == 1:  # per-example lengths
            shape = [batch]
        else:
            shape[0] = batch
            if len(shape) == 3 and shape[1] is None:
                shape[1] = num_frames
        specs[tensor.name] = tf.TensorSpec(shape, tensor.dtype, name=tensor.name)
    return [specs]


def copy_sidecars(source_folder, destination, names) -> None:
    for name in names:
        path = os.path.join(source_folder, name)
        if os.path.isfile(path):
            shutil.copyfile(path, os.path.join(destination, name))


def export_core_saved_model(model, system, output, version, source_folder=None, sidecars=()) -> str:
    """``OUTPUT/<version>/``: Keras's SavedModel export of the model core (signature ``serve`` /
    ``serving_default``, any batch and length), stamped, with ``sidecars`` (e.g. the
    normalisation statistics the caller needs to make the features) copied beside it."""
    final = os.path.join(output, str(int(version)))
    temporary = atomic_dir(final)
    model.export(temporary, format="tf_saved_model", input_signature=core_signature(model), verbose=False)
    if source_folder:
        copy_sidecars(source_folder, temporary, sidecars)
    write_export_info(temporary, system, model_id(model), "savedmodel", graph="model core")
    commit_dir(temporary, final)
    return final


def export_keras_copy(model, system, output, source_folder=None, sidecars=()) -> str:
    """``OUTPUT/model.keras`` plus ``sidecars`` from the experiment folder, stamped."""
    temporary = atomic_dir(output)
    model.save(os.path.join(temporary, "model.keras"))
    if source_folder:
        copy_sidecars(source_folder, temporary, sidecars)
    write_export_info(temporary, system, model_id(model), "keras")
    commit_dir(temporary, output)
    return os.path.join(output, "model.keras")


def export_core_tflite(model, system, output, num_frames=None) -> str:
    """``OUTPUT/model.tflite``: the model core at batch 1 (and ``num_frames`` frames for sequence
    models), TFLite builtins only.

    Variable-length BLSTMs lower to TensorList ops that builtins cannot hold ("requires
    element_shape to be static", measured); a fixed frame count unrolls them, and the converted model
    matches Keras within float rounding (tests/test_export.py).
    """
    import tensorflow as tf

    temporary = atomic_dir(output)
    staging = os.path.join(temporary, "saved_model_core")
    model.export(staging, format="tf_saved_model", input_signature=core_signature(model, num_frames, batch=1),
                 verbose=False)
    try:
        flatbuffer = tf.lite.TFLiteConverter.from_saved_model(staging).convert()
    except Exception as error:  # the converter raises many types; report one line
        shutil.rmtree(temporary, ignore_errors=True)
        raise UserInputError(f"TFLite conversion failed: {str(error).strip().splitlines()[0][:200]}") from None
    shutil.rmtree(staging)
    with open(os.path.join(temporary, "model.tflite"), "wb") as handle:
        handle.write(flatbuffer)
    write_export_info(temporary, system, model_id(model), "tflite", num_frames=num_frames)
    commit_dir(temporary, output)
    return os.path.join(output, "model.tflite")
