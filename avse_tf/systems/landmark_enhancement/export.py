"""``avse export`` of the Morrone et al. 2019 models.

* ``savedmodel``: ``OUTPUT/<version>/``, signature ``serving_default`` =
  ``enhance(waveform, landmarks) -> {enhanced_waveform, mask}``: features, model and
  reconstruction in one graph (:mod:`avse_tf.systems.landmark_enhancement.serving`), the layout
  TensorFlow Serving loads with ``--model_base_path=OUTPUT``.
* ``keras``: ``OUTPUT/model.keras`` plus ``preprocessing.json`` and ``normalization.npz``, which
  :func:`avse_tf.load` turns back into the same serving function (safe mode, no code loaded).
* ``tflite``: the model core (normalised features in, mask / spectrogram out) for a fixed number
  of frames (``--num_frames``, 302 = a 3 s clip): the whole waveform graph needs select TF ops
  (IRFFT, the LSTM's tensor lists) that the TFLite interpreter of the TensorFlow wheel cannot run
  (measured: "Select TensorFlow op(s) ... not supported by this interpreter").
* ``onnx``: through ``tf2onnx`` when it is installed (see :mod:`avse_tf.export.exporter`).
"""

from __future__ import annotations

import os

from avse_tf.constants import NORM_FILE, PREPROCESSING_FILE
from avse_tf.export.core import (
    atomic_dir,
    commit_dir,
    export_core_tflite,
    export_keras_copy,
    saved_model_inputs,
    write_export_info,
)

SYSTEM_NAME = "landmark_enhancement"
# What the serving graph's ``serving_default`` takes (the Enhancer calls it with these); checked by
# avse_tf.load for SavedModels whose stamp does not record the signature (exports before it did).
SAVEDMODEL_INPUTS = {"landmarks": {"dtype": "float32", "rank": 2}, "waveform": {"dtype": "float32", "rank": 1}}


def _folder(checkpoint):
    return checkpoint if os.path.isdir(checkpoint) else os.path.dirname(os.path.abspath(checkpoint))


def export_saved_model(checkpoint, output, version=1, norm_file=None, **_):
    import tensorflow as tf

    from avse_tf.layers.recurrent import per_direction_loops
    from avse_tf.systems.landmark_enhancement.serving import load_serving

    module = load_serving(checkpoint, norm_file)
    final = os.path.join(output, str(int(version)))
    temporary = atomic_dir(final)
    with per_direction_loops():  # no XLA in the graph: it runs wherever TensorFlow runs (TF Serving)
        tf.saved_model.save(module, temporary, signatures={"serving_default": module.enhance.get_concrete_function()})
    write_export_info(temporary, SYSTEM_NAME, module.model_name, "savedmodel", graph="enhance(waveform, landmarks)",
                      signature=saved_model_inputs(temporary))
    commit_dir(temporary, final)
    return final


def export_keras(checkpoint, output, norm_file=None, **_):
    import shutil

    from avse_tf.systems.landmark_enhancement.serving import load_serving

    module = load_serving(checkpoint, norm_file)  # checks that the model can be served before writing
    path = export_keras_copy(module.model, SYSTEM_NAME, output, _folder(checkpoint), (PREPROCESSING_FILE,))
    shutil.copyfile(norm_file or os.path.join(_folder(checkpoint), NORM_FILE), os.path.join(output, NORM_FILE))
    return path


def export_tflite(checkpoint, output, norm_file=None, num_frames=302, **_):
    from avse_tf.systems.landmark_enhancement.serving import load_serving

    module = load_serving(checkpoint, norm_file)
    return export_core_tflite(module.model, SYSTEM_NAME, output, num_frames)


def export_onnx(checkpoint, output, norm_file=None, **_):
    import tf2onnx

    from avse_tf.systems.landmark_enhancement.serving import load_serving

    module = load_serving(checkpoint, norm_file)
    concrete = module.enhance.get_concrete_function()
    temporary = atomic_dir(output)
    tf2onnx.convert.from_function(module.enhance, input_signature=concrete.structured_input_signature[0],
                                  output_path=os.path.join(temporary, "model.onnx"))
    commit_dir(temporary, output)
    return os.path.join(output, "model.onnx")


EXPORTERS = {"savedmodel": export_saved_model, "keras": export_keras, "tflite": export_tflite, "onnx": export_onnx}
REFUSED = {}
