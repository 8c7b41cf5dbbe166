"""``avse export``: a trained model in the format a deployment wants.

Layouts (``OUTPUT`` is ``--output``):

* ``savedmodel``: ``OUTPUT/<version>/`` (``saved_model.pb``, ``variables/``), the layout TensorFlow
  Serving loads with ``--model_base_path=OUTPUT``; signature ``serving_default`` =
  ``enhance(waveform, landmarks) -> {enhanced_waveform, mask}`` (see :mod:`avse_tf.systems.landmark_enhancement.serving`).
* ``keras``: ``OUTPUT/model.keras`` plus ``preprocessing.json`` and ``normalization.npz``, which
  :func:`avse_tf.load` turns back into the same serving function (safe mode, no code loaded).
* ``tflite``: ``OUTPUT/model.tflite``, the model core (normalised features in, mask / spectrogram
  out) for a fixed number of frames (``--num_frames``, 302 = a 3 s clip), TFLite builtins only; the
  caller computes the features (see :func:`_export_tflite` for why).
* ``onnx``: needs ``tf2onnx``, which does not install alongside TensorFlow >= 2.16 (it pins
  protobuf 3.20); the command says so instead of writing a half-converted graph.

Every format is written to a temporary folder and renamed into place when complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from avse_tf.errors import UserInputError
from avse_tf.utils import UMASK

FORMATS = ("savedmodel", "keras", "tflite", "onnx")


def _atomic_dir(final):
    parent = os.path.dirname(os.path.abspath(final))
    os.makedirs(parent, exist_ok=True)
    temporary = tempfile.mkdtemp(prefix=f".{os.path.basename(final)}.tmp-", dir=parent)
    # mkdtemp makes it 0700; the export folder gets the mode a plain mkdir would give.
    os.chmod(temporary, 0o777 & ~UMASK)
    return temporary


def _commit_dir(temporary, final):
    if os.path.exists(final):
        shutil.rmtree(final)
    os.rename(temporary, final)


def _export_tflite(module, output, num_frames) -> str:
    """The model core (features in, mask / spectrogram out) for ``num_frames`` frames, TFLite builtins only.

    The whole waveform-to-waveform graph needs select TF ops (IRFFT, the LSTM's tensor lists) that
    the TFLite interpreter of the TensorFlow wheel cannot run (measured: "Select TensorFlow op(s)
    ... not supported by this interpreter"); going through Keras's SavedModel export with a fixed
    frame count gives a builtins-only model whose outputs match Keras within 3e-6.
    """
    import tensorflow as tf

    model = module.model
    signature = [{tensor.name: tf.TensorSpec([1] if tensor.name == "sequence_length" else
                                             [1, int(num_frames), *tensor.shape[2:]], tensor.dtype, name=tensor.name)
                  for tensor in model.inputs}]
    temporary = _atomic_dir(output)
    staging = os.path.join(temporary, "saved_model_core")
    model.export(staging, format="tf_saved_model", input_signature=signature, verbose=False)
    try:
        flatbuffer = tf.lite.TFLiteConverter.from_saved_model(staging).convert()
    except Exception as error:  # the converter raises many types; report one line
        shutil.rmtree(temporary, ignore_errors=True)
        raise UserInputError(f"TFLite conversion failed: {str(error).strip().splitlines()[0][:200]}") from None
    shutil.rmtree(staging)
    with open(os.path.join(temporary, "model.tflite"), "wb") as handle:
        handle.write(flatbuffer)
    _commit_dir(temporary, output)
    return os.path.join(output, "model.tflite")


def export_model(checkpoint, export_format="savedmodel", output="exported", version=1, norm_file=None,
                 num_frames=302) -> str:
    """Export ``checkpoint`` (``.keras`` or experiment folder); returns the written path."""
    import tensorflow as tf

    from avse_tf.constants import NORM_FILE, PREPROCESSING_FILE
    from avse_tf.systems.landmark_enhancement.serving import load_serving

    if export_format not in FORMATS:
        raise UserInputError(f"unknown export format {export_format!r}; choose {', '.join(FORMATS)}")
    if export_format == "onnx":
        try:
            import tf2onnx  # noqa: F401
        except ImportError:
            raise UserInputError("ONNX export needs tf2onnx, which cannot be installed next to TensorFlow >= 2.16 "
                                 "(it pins protobuf 3.20); use --format savedmodel or tflite") from None
    module = load_serving(checkpoint, norm_file)
    concrete = module.enhance.get_concrete_function()
    if export_format == "savedmodel":
        final = os.path.join(output, str(int(version)))
        temporary = _atomic_dir(final)
        tf.saved_model.save(module, temporary, signatures={"serving_default": concrete})
        _commit_dir(temporary, final)
        return final
    if export_format == "keras":
        temporary = _atomic_dir(output)
        module.model.save(os.path.join(temporary, "model.keras"))
        folder = checkpoint if os.path.isdir(checkpoint) else os.path.dirname(os.path.abspath(checkpoint))
        shutil.copyfile(norm_file or os.path.join(folder, NORM_FILE), os.path.join(temporary, NORM_FILE))
        if os.path.isfile(os.path.join(folder, PREPROCESSING_FILE)):
            shutil.copyfile(os.path.join(folder, PREPROCESSING_FILE), os.path.join(temporary, PREPROCESSING_FILE))
        _commit_dir(temporary, output)
        return os.path.join(output, "model.keras")
    if export_format == "tflite":
        return _export_tflite(module, output, num_frames)
    import tf2onnx

    temporary = _atomic_dir(output)
    tf2onnx.convert.from_function(module.enhance, input_signature=concrete.structured_input_signature[0],
                                  output_path=os.path.join(temporary, "model.onnx"))
    _commit_dir(temporary, output)
    return os.path.join(output, "model.onnx")
