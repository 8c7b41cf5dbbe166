"""``avse export`` of the Morrone et al. 2021 models: the model core (normalised gapped log
spectrogram, gap mask, landmark motion and lengths in; the inpainted spectrogram, and phone logits
for +MTL, out), with the training set's ``normalization.npz`` beside it so a caller can make the
features. ``avse inpainting inpaint`` and :class:`~avse_tf.systems.av_inpainting.inpaint.Inpainter`
run the whole file-to-file path (features, model, phase) in Python.

* ``savedmodel``: ``OUTPUT/<version>/`` (Keras SavedModel export, any batch and length);
* ``keras``: ``OUTPUT/model.keras`` + ``normalization.npz`` (:func:`avse_tf.load` reads it back);
* ``tflite``: the core at ``--num_frames`` frames (250 = a 3 s clip), TFLite builtins only.
"""

from __future__ import annotations

import os

from avse_tf.constants import NORM_FILE
from avse_tf.export.core import (
    export_core_saved_model,
    export_core_tflite,
    export_keras_copy,
)

SYSTEM_NAME = "av_inpainting"
SIDECARS = (NORM_FILE,)


def _load(checkpoint):
    from avse_tf.training.checkpoints import load_model

    model = load_model(checkpoint, flag="--checkpoint", compile=False)
    folder = checkpoint if os.path.isdir(checkpoint) else os.path.dirname(os.path.abspath(checkpoint))
    return model, folder


def export_saved_model(checkpoint, output, version=1, **_):
    model, folder = _load(checkpoint)
    return export_core_saved_model(model, SYSTEM_NAME, output, version, folder, SIDECARS)


def export_keras(checkpoint, output, **_):
    model, folder = _load(checkpoint)
    return export_keras_copy(model, SYSTEM_NAME, output, folder, SIDECARS)


def export_tflite(checkpoint, output, num_frames=250, **_):
    model, _ = _load(checkpoint)
    return export_core_tflite(model, SYSTEM_NAME, output, 250 if num_frames in (None, 302) else num_frames)


EXPORTERS = {"savedmodel": export_saved_model, "keras": export_keras, "tflite": export_tflite}
REFUSED = {"onnx": "tf2onnx cannot be installed next to TensorFlow >= 2.16"}
