"""The Python API: load any trained or exported model and enhance waveforms or files.

    import avse_tf
    model = avse_tf.load("experiments/av/best.keras")     # or an exported SavedModel folder
    enhanced, mask = model.enhance(waveform, landmarks)    # 16 kHz mono, [video_frames, 136]
    avse_tf.enhance_file("mix.wav", "face.mpg", model="exported/av", output="enhanced.wav")

:func:`load` accepts a ``.keras`` checkpoint or an experiment folder (the model plus the
``preprocessing.json`` / ``normalization.npz`` training saved beside it), a folder written by
``avse export --format keras``, and a SavedModel written by ``avse export --format savedmodel``
(the version folder or its parent, TensorFlow Serving's base path; the newest version is used).
Keras files load in safe mode and SavedModels are graphs, so no untrusted Python code runs.
Either way the same serving graph (:mod:`avse_tf.systems.landmark_enhancement.serving`) turns the waveform and
landmarks into the enhanced waveform and the mask.
"""

from __future__ import annotations

import os

import numpy as np

from avse_tf.errors import UserInputError


class Enhancer:
    """A loaded enhancement model: ``enhance(waveform, landmarks)`` and ``enhance_file(...)``."""

    def __init__(self, function, source, keras_model=None):
        self._function = function
        self.source = source
        self.keras_model = keras_model

    def enhance(self, waveform, landmarks):
        """``(enhanced_waveform, mask)`` as float32 numpy arrays; the waveform keeps its length."""
        import tensorflow as tf

        waveform = np.asarray(waveform, np.float32).reshape(-1)
        landmarks = np.asarray(landmarks, np.float32)
        if landmarks.ndim != 2 or landmarks.shape[1] != 136 or len(landmarks) < 1:
            raise UserInputError(f"landmarks must be [video_frames, 136], got {landmarks.shape}")
        outputs = self._function(waveform=tf.constant(waveform), landmarks=tf.constant(landmarks))
        return outputs["enhanced_waveform"].numpy(), outputs["mask"].numpy()

    def enhance_file(self, audio, landmarks_or_video, output=None, shape_predictor=None, sample_rate=16000):
        """Enhance an audio file (or a video's sound track) with landmarks from a TXT file or a video.

        Writes ``output`` (wav, atomically) when given; returns ``(enhanced, mask)``.
        """
        from avse_tf.audio.io import load_audio, write_audio
        from avse_tf.video.landmarks import LandmarkExtractor, load_landmarks_txt

        waveform = load_audio(audio, sample_rate)
        source = os.fspath(landmarks_or_video)
        if source.endswith(".txt"):
            landmarks = load_landmarks_txt(source)
        else:
            landmarks = LandmarkExtractor(shape_predictor).extract_file(source).flat()
        enhanced, mask = self.enhance(waveform, landmarks)
        if output:
            write_audio(output, enhanced, sample_rate)
        return enhanced, mask


def _saved_model_dir(path):
    """The SavedModel folder at ``path``, or its newest numbered version folder."""
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    versions = [name for name in os.listdir(path) if name.isdigit()
                and os.path.isfile(os.path.join(path, name, "saved_model.pb"))]
    if versions:
        return os.path.join(path, max(versions, key=int))
    return None


def load(path, norm_file=None) -> Enhancer:
    """Load a trained or exported enhancement model (see the module docstring for what ``path`` may be)."""
    import tensorflow as tf

    from avse_tf.systems.landmark_enhancement.serving import load_serving

    path = os.fspath(path)
    if not os.path.exists(path):
        raise UserInputError(f"model not found: {path}; give a .keras file, an experiment folder or an export")
    if os.path.isdir(path):
        saved_model = _saved_model_dir(path)
        if saved_model:
            loaded = tf.saved_model.load(saved_model)
            return Enhancer(loaded.signatures["serving_default"], saved_model)
        if os.path.isfile(os.path.join(path, "model.keras")):
            path = os.path.join(path, "model.keras")
    module = load_serving(path, norm_file)
    return Enhancer(module.enhance, path, keras_model=module.model)


def enhance(waveform, landmarks, model):
    """Enhance ``waveform`` with ``landmarks`` using ``model`` (an :class:`Enhancer` or a path for :func:`load`)."""
    model = model if isinstance(model, Enhancer) else load(model)
    return model.enhance(waveform, landmarks)


def enhance_file(audio, landmarks_or_video, model, output=None, shape_predictor=None):
    """Enhance a file; see :meth:`Enhancer.enhance_file`."""
    model = model if isinstance(model, Enhancer) else load(model)
    return model.enhance_file(audio, landmarks_or_video, output, shape_predictor)
