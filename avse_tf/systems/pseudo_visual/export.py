"""``avse export`` of the pseudo-visual denoiser: noisy waveform in, denoised waveform out, one graph.

* ``savedmodel``: ``OUTPUT/<version>/``, signature ``serving_default``: ``waveform`` float32
  ``[1, S]`` (16 kHz mono, any ``S``) -> ``waveform`` float32 ``[1, S]``. Inside the graph, what
  ``avse denoising inference`` runs (:func:`~.inference.denoise_tensor`): 1 s windows every 0.8 s,
  the STFT features, the student's mel windows and lips, the denoiser, the inverse STFT and the
  cross-fade, cut to the input's length. The audio-only denoiser exports the same way; a real-lips
  denoiser (``--visual real``) needs face crops and is refused.
* ``keras``: ``OUTPUT/model.keras``, the whole :class:`~.denoiser_training.DenoiserTraining`
  (denoiser and frozen student), for :func:`avse_tf.load` and further training.
"""

from __future__ import annotations

from avse_tf.errors import UserInputError
from avse_tf.export.core import export_keras_copy, write_serving_archive

SYSTEM_NAME = "pseudo_visual"
GRAPH = "waveform -> waveform (student lips from the noisy speech, denoiser, inverse STFT, 1 s windows cross-faded)"
SAVEDMODEL_INPUTS = {"waveform": {"dtype": "float32", "rank": 2}}


def _load(checkpoint):
    from avse_tf.systems.pseudo_visual.train_denoiser import load_denoising

    return load_denoising(checkpoint, "checkpoint")


def waveform_archive(model):
    """A ``keras.export.ExportArchive`` tracking ``model`` with the ``serve`` endpoint (module doc)."""
    import keras
    import tensorflow as tf

    from avse_tf.systems.pseudo_visual.inference import denoise_tensor

    if model.visual == "real":
        raise UserInputError("a real-lips denoiser (--visual real) needs face crops; export the pseudo-lip or the "
                             "audio-only denoiser")

    def serve(waveform):
        return {"waveform": denoise_tensor(model, waveform[0])[None]}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", serve, input_signature=[tf.TensorSpec([1, None], tf.float32, name="waveform")])
    return archive


def export_saved_model(checkpoint, output, version=1, **_):
    model = _load(checkpoint)
    return write_serving_archive(waveform_archive(model), model, SYSTEM_NAME, output, version, GRAPH,
                                 visual=model.visual)


def export_keras(checkpoint, output, **_):
    return export_keras_copy(_load(checkpoint), SYSTEM_NAME, output)


EXPORTERS = {"savedmodel": export_saved_model, "keras": export_keras}
REFUSED = {
    "tflite": "TFLite builtins lack ops the graph needs (converter, measured: Angle, Complex and IRFFT of the "
              "STFT features and their inverse, and the dynamic StridedSlice of the overlap-add); use savedmodel",
    "onnx": "tf2onnx cannot be installed next to TensorFlow >= 2.16",
}
