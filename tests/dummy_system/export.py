"""The dummy system's exports: the shared model-core formats."""

from avse_tf.export.core import export_core_saved_model, export_keras_copy
from avse_tf.training.checkpoints import load_model


def export_saved_model(checkpoint, output, version=1, **_):
    return export_core_saved_model(load_model(checkpoint, compile=False), "dummy_system", output, version)


def export_keras(checkpoint, output, **_):
    return export_keras_copy(load_model(checkpoint, compile=False), "dummy_system", output)


EXPORTERS = {"savedmodel": export_saved_model, "keras": export_keras}
REFUSED = {"tflite": "the test system does not need it", "onnx": "the test system does not need it"}
