"""``avse export`` of VCA-GAN: the whole lip-to-speech path after face tracking, as one graph.

* ``savedmodel``: ``OUTPUT/<version>/``, signature ``serving_default``:
  ``video`` uint8 ``[1, T, 112, 112]`` (grayscale lip crops, no channel axis, as
  :func:`~avse_tf.systems.vca_gan.mouth.mouth_crops` gives them; any ``T``) and ``video_length``
  int32 ``[1]`` (frames to use, <= T) -> ``waveform`` float32 ``[1, 640 x video_length]`` (16 kHz,
  peak 0.9) and ``linear`` float32 ``[1, 4 x video_length, 321]``. Inside the graph: the
  training normalisation (:func:`~avse_tf.systems.vca_gan.pipeline.normalize_video`), the
  generator and post-net, Griffin-Lim (60 iterations, ``tf.while_loop``) and de-emphasis
  (:func:`~avse_tf.systems.vca_gan.synthesis.waveform_from_linear`): the paper's test-time path
  (Kim, Hong, Ro, NeurIPS 2021; the original's ``test.py``). Face detection and cropping stay
  outside (dlib). Batch 1, as :mod:`~avse_tf.systems.vca_gan.predict` runs it.
* ``keras``: ``OUTPUT/model.keras``, the whole VCA-GAN (discriminators included), for
  :func:`avse_tf.load` and further training.
* ``tflite``: refused (:data:`REFUSED`).
"""

from __future__ import annotations

from avse_tf.export.core import export_keras_copy, write_serving_archive

SYSTEM_NAME = "vca_gan"
GRAPH = "lips -> waveform (VCA-GAN generator, post-net, Griffin-Lim 60, de-emphasis)"
SAVEDMODEL_INPUTS = {"video": {"dtype": "uint8", "rank": 4}, "video_length": {"dtype": "int32", "rank": 1}}


def _load(checkpoint):
    from avse_tf.systems.vca_gan.predict import load_vca_gan

    return load_vca_gan(checkpoint)


def lips_to_speech_archive(model, iterations=None):
    """A ``keras.export.ExportArchive`` tracking ``model`` with the ``serve`` endpoint (module doc)."""
    import keras
    import tensorflow as tf

    from avse_tf.systems.vca_gan.features import MEL_FRAMES_PER_VIDEO_FRAME
    from avse_tf.systems.vca_gan.pipeline import normalize_video
    from avse_tf.systems.vca_gan.synthesis import GRIFFIN_LIM_ITERATIONS, waveform_from_linear

    iterations = int(iterations or GRIFFIN_LIM_ITERATIONS)
    size = int(model.architecture["crop_size"])

    def serve(video, video_length):
        length = tf.minimum(video_length[0], tf.shape(video)[1])
        video = normalize_video(video[:, :length, :, :, None])
        outputs = model({"video": video, "video_length": tf.reshape(length, [1])}, training=False)
        linear = outputs["linear"][:, :MEL_FRAMES_PER_VIDEO_FRAME * length]
        return {"waveform": waveform_from_linear(linear, iterations), "linear": linear}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", serve, input_signature=[
        tf.TensorSpec([1, None, size, size], tf.uint8, name="video"),
        tf.TensorSpec([1], tf.int32, name="video_length")])
    return archive


def export_saved_model(checkpoint, output, version=1, **_):
    model = _load(checkpoint)
    return write_serving_archive(lips_to_speech_archive(model), model, SYSTEM_NAME, output, version, GRAPH)


def export_keras(checkpoint, output, **_):
    return export_keras_copy(_load(checkpoint), SYSTEM_NAME, output)


EXPORTERS = {"savedmodel": export_saved_model, "keras": export_keras}
REFUSED = {
    "tflite": "TFLite builtins lack ops the graph needs (converter, measured: IRFFT, Complex, Angle and complex "
              "add/sub of Griffin-Lim, and the generator's StatelessRandomNormalV2 noise draw); use savedmodel",
    "onnx": "tf2onnx cannot be installed next to TensorFlow >= 2.16",
}
