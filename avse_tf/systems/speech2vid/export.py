"""``avse export`` of Speech2Vid: the generator's core (a 12 x 35 MFCC window and the K aligned
identity stills in, one S x S face out, per video frame). ``avse speech2vid predict`` and
:class:`~avse_tf.systems.speech2vid.predict.TalkingFace` add the audio features, face alignment and
video writing around it.

* ``savedmodel``: ``OUTPUT/<version>/`` (Keras SavedModel export, any batch);
* ``keras``: ``OUTPUT/model.keras``;
* ``tflite``: the core at batch 1, TFLite builtins only.
"""

from __future__ import annotations

import os

from avse_tf.export.core import (
    export_core_saved_model,
    export_core_tflite,
    export_keras_copy,
)

SYSTEM_NAME = "speech2vid"


def _load(checkpoint):
    from avse_tf.systems.speech2vid.train import load_model

    model = load_model(os.fspath(checkpoint), "model")
    return model


def export_saved_model(checkpoint, output, version=1, **_):
    return export_core_saved_model(_load(checkpoint), SYSTEM_NAME, output, version)


def export_keras(checkpoint, output, **_):
    return export_keras_copy(_load(checkpoint), SYSTEM_NAME, output)


def export_tflite(checkpoint, output, **_):
    return export_core_tflite(_load(checkpoint), SYSTEM_NAME, output)


EXPORTERS = {"savedmodel": export_saved_model, "keras": export_keras, "tflite": export_tflite}
REFUSED = {"onnx": "tf2onnx cannot be installed next to TensorFlow >= 2.16"}
