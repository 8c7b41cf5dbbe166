"""Export pieces every system uses: atomic export folders, the ``avse_export.json`` stamp that tells
:func:`avse_tf.load` which system an export holds, and the model-core formats (Keras's SavedModel
export, TFLite at a fixed number of frames, a ``.keras`` copy with the files it needs beside it).

"Model core" means the Keras model's own inputs and outputs (features in, features out); a
system whose users hold waveforms can add a serving graph around it (the enhancement system does).

A SavedModel's stamp records the inputs of its ``serving_default`` signature (names, dtypes,
ranks: :func:`saved_model_inputs`, read back from the written ``saved_model.pb``);
:func:`check_saved_model` compares a folder with its stamp before :func:`avse_tf.load` runs it
(older stamps without the record: ``serving_default`` must exist, and the system's expected
inputs are checked when the system declares them). A SavedModel is a graph that runs when called:
load only SavedModels from a trusted source.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

from avse_tf.errors import ModelFileError, UserInputError
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
    """The stamp of an export folder, ``None`` without one; a damaged stamp is a one-line
    :class:`~avse_tf.errors.ModelFileError`."""
    path = os.path.join(folder, EXPORT_INFO)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            info = json.load(handle)
        if not isinstance(info, dict) or not isinstance(info.get("system"), str):
            raise TypeError("no system named")
    except (OSError, ValueError, TypeError) as error:
        from avse_tf.training.checkpoints import short_reason

        raise ModelFileError(f"{path} is damaged or not an avse export stamp ({short_reason(error)}); "
                             f"{EXPORT_REMEDY}") from None
    return info


EXPORT_REMEDY = "export the model again with avse export"
SERVING_KEY = "serving_default"


def _saved_model_proto(folder):
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    from avse_tf.training.checkpoints import model_file_error, short_reason

    path = os.path.join(folder, "saved_model.pb")
    proto = saved_model_pb2.SavedModel()
    try:
        with open(path, "rb") as handle:
            proto.ParseFromString(handle.read())
    except (OSError, DecodeError, ValueError) as error:
        raise model_file_error(folder, f"saved_model.pb is damaged: {short_reason(error)}", "SavedModel",
                               EXPORT_REMEDY) from None
    if not proto.meta_graphs:
        raise model_file_error(folder, "saved_model.pb holds no graph", "SavedModel", EXPORT_REMEDY)
    return proto


def saved_model_inputs(folder, key=SERVING_KEY) -> dict | None:
    """``{input name: {"dtype": "float32", "rank": 2}}`` of signature ``key`` of the SavedModel in
    ``folder``, parsed from ``saved_model.pb`` without loading or running anything (rank -1:
    unknown); ``None`` when there is no such signature."""
    import tensorflow as tf

    signatures = _saved_model_proto(folder).meta_graphs[0].signature_def
    if key not in signatures:
        return None
    return {name: {"dtype": tf.dtypes.as_dtype(tensor.dtype).name,
                   "rank": -1 if tensor.tensor_shape.unknown_rank else len(tensor.tensor_shape.dim)}
            for name, tensor in sorted(signatures[key].inputs.items())}


def describe_inputs(inputs) -> str:
    return ", ".join(f"{name} ({spec['dtype']}, rank {spec['rank']})" for name, spec in sorted(inputs.items()))


def check_saved_model(folder, info, expected_inputs=None) -> None:
    """Raise a one-line :class:`~avse_tf.errors.ModelFileError` unless the SavedModel in ``folder``
    has a ``serving_default`` signature whose inputs are those its stamp ``info`` records (or, for
    a stamp without the record, ``expected_inputs`` when given)."""
    from avse_tf.training.checkpoints import model_file_error

    actual = saved_model_inputs(folder)
    if actual is None:
        keys = [key for key in _saved_model_proto(folder).meta_graphs[0].signature_def if not key.startswith("__")]
        raise model_file_error(folder, f"no {SERVING_KEY} signature, only {', '.join(keys) or 'none'}", "SavedModel",
                               f"it was not written by avse export; {EXPORT_REMEDY}")
    expected = (info or {}).get("signature") or expected_inputs
    if expected and {name: dict(spec) for name, spec in expected.items()} != actual:
        raise ModelFileError(f"{folder}: SavedModel signature has inputs {describe_inputs(actual)}, expected "
                             f"{describe_inputs(expected)}; it was not written by avse export or comes from another "
                             f"version ({EXPORT_REMEDY})")


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
    from avse_tf.layers.recurrent import per_direction_loops

    final = os.path.join(output, str(int(version)))
    temporary = atomic_dir(final)
    with per_direction_loops():  # no XLA in the graph: it runs wherever TensorFlow runs (TF Serving)
        model.export(temporary, format="tf_saved_model", input_signature=core_signature(model), verbose=False)
    if source_folder:
        copy_sidecars(source_folder, temporary, sidecars)
    write_export_info(temporary, system, model_id(model), "savedmodel", graph="model core",
                      signature=saved_model_inputs(temporary))
    commit_dir(temporary, final)
    return final


def write_serving_archive(archive, model, system, output, version, graph, **extra) -> str:
    """``OUTPUT/<version>/``: a ``keras.export.ExportArchive`` (a serving graph around ``model``)
    written atomically and stamped with ``graph``, ``extra`` and its recorded signature."""
    from avse_tf.layers.recurrent import per_direction_loops

    final = os.path.join(os.fspath(output), str(int(version)))
    temporary = atomic_dir(final)
    with per_direction_loops():  # no XLA in the graph: it runs wherever TensorFlow runs (TF Serving)
        archive.write_out(temporary, verbose=False)
    write_export_info(temporary, system, model_id(model), "savedmodel", graph=graph, **extra,
                      signature=saved_model_inputs(temporary))
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

    from avse_tf.layers.recurrent import per_direction_loops

    temporary = atomic_dir(output)
    staging = os.path.join(temporary, "saved_model_core")
    with per_direction_loops():  # the fused BLSTM loop crashes the TFLite runtime; Keras loops convert
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
