"""Serving graphs: what a user has in, what they want out, all in TensorFlow ops.

For the enhancement models (Morrone et al. 2019) the signature ``enhance(waveform, landmarks)``
takes a mono 16 kHz waveform ``[samples]`` and the 68 dlib landmarks per video frame
``[video_frames, 136]`` (25 fps, as ``avse landmarks`` writes them) and returns
``enhanced_waveform [samples]`` and ``mask [frames, 257]`` (zeros for ``av_concat_spec``, which has
no mask). Inside: STFT with the paper's settings, |M|^0.3, landmark upsampling to the spectrogram
rate and motion vectors, the training set's normalisation (baked in as constants), the model, the
mask applied to the mixture, and the least-squares iSTFT with the mixture phase. The same module
serves the Python API (:func:`avse_tf.enhance`), so exported and in-process results are the same
graph. Serving needs no Python preprocessing and no avse_tf: ``tf.saved_model.load`` is enough.
"""

from __future__ import annotations

import json
import os

import numpy as np

from avse_tf.constants import FPS, SAMPLE_RATE
from avse_tf.errors import UserInputError

SERVABLE = ("vl2m", "av_concat_mask", "av_concat_spec")


def load_preprocessing(folder, norm_file=None):
    """``(settings, stats)`` saved beside a model by training (``preprocessing.json``, ``normalization.npz``)."""
    from avse_tf.constants import NORM_FILE, PREPROCESSING_FILE
    from avse_tf.data.normalization import load_stats

    settings_path = os.path.join(folder, PREPROCESSING_FILE)
    norm_path = norm_file or os.path.join(folder, NORM_FILE)
    if not os.path.isfile(norm_path):
        raise UserInputError(f"normalisation statistics not found: {norm_path}; pass --norm_file "
                             "<records>/normalization.npz (the records the model was trained on)")
    settings = {"stft": "morrone2019", "fps": FPS, "delta": 1, "sample_rate": SAMPLE_RATE}
    if os.path.isfile(settings_path):
        with open(settings_path, encoding="utf-8") as handle:
            settings.update(json.load(handle))
    return settings, load_stats(norm_path)


def _module_class():
    import tensorflow as tf

    from avse_tf.audio import features, stft
    from avse_tf.systems.landmark_enhancement.evaluate import mask_and_magnitude
    from avse_tf.video.align import deltas_tf, upsample_to_frames_tf

    class EnhancementServing(tf.Module):
        """A tf.Module holding a Keras enhancement model and its feature pipeline."""

        def __init__(self, model, model_name, settings, stats):
            super().__init__(name="avse_enhancement")
            if model_name not in SERVABLE:
                raise UserInputError(
                    f"serving {model_name!r} needs VL2M's estimated mask as an input; export vl2m and this model "
                    f"and chain them, or export one of {', '.join(SERVABLE)}")
            self.model = model
            self.model_name = model_name
            self.stft_config = settings["stft"]
            self.delta = int(settings["delta"])
            self.video_dim = int(model.get_config().get("video_dim", 136))
            spectrogram_mean, spectrogram_std = stats["spectrogram"]
            video_mean, video_std = stats["video"]
            self.spectrogram_mean = tf.constant(np.asarray(spectrogram_mean, np.float32))
            self.spectrogram_std = tf.constant(np.asarray(spectrogram_std, np.float32))
            self.video_mean = tf.constant(np.asarray(video_mean, np.float32))
            self.video_std = tf.constant(np.asarray(video_std, np.float32))
            self.enhance = tf.function(self._enhance, input_signature=[
                tf.TensorSpec([None], tf.float32, name="waveform"),
                tf.TensorSpec([None, self.video_dim], tf.float32, name="landmarks")])

        def _enhance(self, waveform, landmarks):
            spectrogram = stft.stft(waveform, self.stft_config)
            magnitude, phase = stft.magnitude_phase(spectrogram)
            mixed_magnitude = features.power_law(magnitude)
            frames = tf.shape(magnitude)[0]
            video = deltas_tf(upsample_to_frames_tf(landmarks, frames), self.delta)
            available = {
                "video_features": (video - self.video_mean) / self.video_std,
                "mixed_spectrogram": (mixed_magnitude - self.spectrogram_mean) / self.spectrogram_std,
                "mixed_magnitude": mixed_magnitude,
            }
            inputs = {name: value[None] for name, value in available.items()}
            inputs["sequence_length"] = frames[None]
            wanted = {tensor.name: inputs[tensor.name] for tensor in self.model.inputs}
            outputs = self.model(wanted, training=False)
            outputs = {name: value[0] for name, value in outputs.items()}
            mask, enhanced = mask_and_magnitude(self.model_name, outputs, magnitude)
            if mask is None:
                mask = tf.zeros_like(magnitude)
            waveform_out = stft.istft(stft.from_magnitude_phase(enhanced, phase), self.stft_config,
                                      tf.shape(waveform)[0])
            return {"enhanced_waveform": waveform_out, "mask": mask}

    return EnhancementServing


def __getattr__(name):
    if name == "EnhancementServing":
        return _module_class()
    raise AttributeError(name)


def load_serving(checkpoint, norm_file=None):
    """The serving module of a trained enhancement model (a ``.keras`` file or experiment folder)."""
    from avse_tf.training.checkpoints import load_model

    folder = checkpoint if os.path.isdir(checkpoint) else os.path.dirname(os.path.abspath(checkpoint))
    model = load_model(checkpoint)
    settings, stats = load_preprocessing(folder, norm_file)
    model_name = getattr(model, "architecture", model.name)
    return _module_class()(model, model_name, settings, stats)


class Enhancer:
    """A loaded enhancement model (what :func:`avse_tf.load` returns for this system):
    ``enhance(waveform, landmarks)`` and ``enhance_file(...)``, through the serving graph."""

    system = "landmark_enhancement"

    def __init__(self, function, source, keras_model=None, model_id=None):
        self._function = function
        self.source = source
        self.keras_model = keras_model
        self.model_id = model_id

    @classmethod
    def from_path(cls, path, norm_file=None):
        """A ``.keras`` checkpoint, an experiment folder, a keras export, or a SavedModel export
        (the version folder or its base path)."""
        import tensorflow as tf

        from avse_tf.export.core import read_export_info
        from avse_tf.utils import task_source

        saved_model, path = task_source(path)
        if saved_model:
            info = read_export_info(saved_model) or {}
            return cls(tf.saved_model.load(saved_model).signatures["serving_default"], saved_model,
                       model_id=info.get("model"))
        module = load_serving(path, norm_file)
        return cls(module.enhance, path, keras_model=module.model, model_id=module.model_name)

    def enhance(self, waveform, landmarks, length_policy="error", sources=("waveform", "landmarks")):
        """``(enhanced_waveform, mask)`` as float32 numpy arrays for 16 kHz audio and 25 fps landmarks.

        Checked first (:mod:`avse_tf.validation`): NaN / Inf in either input is an error; so are
        durations that differ by more than two video frames, unless ``length_policy`` is ``pad``
        or ``trim`` (the waveform then gets the length that policy gives, with a warning).
        """
        import tensorflow as tf

        from avse_tf.validation import match_durations, require_finite

        waveform = require_finite(np.asarray(waveform, np.float32).reshape(-1), sources[0], axes=("sample",))
        landmarks = np.asarray(landmarks, np.float32)
        if landmarks.ndim != 2 or landmarks.shape[1] != 136 or len(landmarks) < 1:
            raise UserInputError(f"landmarks must be [video_frames, 136], got {landmarks.shape}")
        require_finite(landmarks, sources[1])
        waveform, landmarks = match_durations(waveform, landmarks, SAMPLE_RATE, FPS, length_policy, *sources)
        outputs = self._function(waveform=tf.constant(waveform), landmarks=tf.constant(landmarks))
        return outputs["enhanced_waveform"].numpy(), outputs["mask"].numpy()

    def enhance_file(self, audio, landmarks_or_video, output=None, shape_predictor=None, sample_rate=SAMPLE_RATE,
                     length_policy="error"):
        """Enhance an audio file (or a video's sound track) with landmarks from a TXT file or a video.

        Writes ``output`` (wav, atomically) when given; returns ``(enhanced, mask)``. Inputs are
        checked as in :meth:`enhance`, errors naming the files.
        """
        from avse_tf.audio.io import load_audio, write_audio
        from avse_tf.video.landmarks import LandmarkExtractor, load_landmarks_txt

        waveform = load_audio(audio, sample_rate)
        source = os.fspath(landmarks_or_video)
        if source.endswith(".txt"):
            landmarks = load_landmarks_txt(source)
        else:
            landmarks = LandmarkExtractor(shape_predictor).extract_file(source).flat()
        enhanced, mask = self.enhance(waveform, landmarks, length_policy, (os.fspath(audio), source))
        if output:
            write_audio(output, enhanced, sample_rate)
        return enhanced, mask
