"""Lip-to-speech synthesis with a trained VCA-GAN: a silent video of one speaker in, speech out.

The paper's test-time path (Kim, Hong, Ro, NeurIPS 2021; the original's ``test.py``): the whole
clip at once (no 40-frame windows), 112 x 112 grayscale lips normalised as in training, the
generator and post-net, then Griffin-Lim (60 iterations) on the linear magnitude and de-emphasis
(:mod:`~avse_tf.systems.vca_gan.synthesis`). Here a clip of any length runs as a batch of one.

* :func:`synthesize`: ``(waveform, info)`` of a video file (25 fps; other rates are resampled by
  ffmpeg's ``fps`` filter on decoding), 640 samples per video frame at 16 kHz, peak 0.9.
* :func:`synthesize_file`: writes the wav and, optionally, an mp4 of the original picture (at 25
  fps, H.264) with the generated speech as its sound track; each file is written atomically.
* :class:`LipToSpeech`: what :func:`avse_tf.load` returns for a VCA-GAN checkpoint or export.

Input problems are one-line typed errors: a missing or undecodable video
(:class:`~avse_tf.errors.VideoReadError`), no face (:class:`~avse_tf.errors.NoFaceError`) or
several faces (:class:`~avse_tf.errors.SeveralFacesError`) from :func:`~.mouth.mouth_crops`, a
checkpoint that is not VCA-GAN (:class:`~avse_tf.errors.UserInputError`).
"""

from __future__ import annotations

import os
import weakref

import numpy as np

from avse_tf.constants import FPS, SAMPLE_RATE
from avse_tf.errors import UserInputError, VideoReadError

CHECKPOINT_HINT = "pass a VCA-GAN .keras checkpoint (or the experiment folder with best.keras)"


def load_vca_gan(checkpoint):
    """A VCA-GAN from a ``.keras`` file or an experiment folder (``best.keras``), in safe mode
    (:func:`avse_tf.training.checkpoints.load_model`); a loaded model passes through."""
    from avse_tf.systems.vca_gan.model import VCAGAN
    from avse_tf.training.checkpoints import load_model

    model = checkpoint
    if isinstance(checkpoint, (str, os.PathLike)):
        model = load_model(os.fspath(checkpoint), "VCA-GAN checkpoint", compile=False)
    if not isinstance(model, VCAGAN):
        raise UserInputError(f"{checkpoint} holds {getattr(model, 'name', type(model).__name__)!r}, not VCA-GAN; "
                             f"{CHECKPOINT_HINT}")
    return model


def read_lips(video_path, shape_predictor=None):
    """``(frames [T, H, W, 3] uint8 RGB at 25 fps, lips [T, 112, 112] uint8, source fps)`` of a video."""
    from avse_tf.systems.vca_gan.mouth import mouth_crops
    from avse_tf.video.io import probe, read_video
    from avse_tf.video.landmarks import LandmarkExtractor

    video_path = os.fspath(video_path)
    if not os.path.isfile(video_path):
        raise VideoReadError(f"video file not found: {video_path}; give a video of one speaker's face")
    source_fps = float(probe(video_path)["fps"])
    frames, _ = read_video(video_path, grayscale=False, fps=FPS)
    lips = mouth_crops(frames, source=video_path, extractor=LandmarkExtractor(shape_predictor))
    return frames, lips, source_fps


def lips_to_waveform(model, lips, iterations=None) -> np.ndarray:
    """float32 waveform (640 samples per frame) of ``[T, 112, 112]`` uint8 lips, batch of one."""
    import tensorflow as tf

    from avse_tf.systems.vca_gan.synthesis import GRIFFIN_LIM_ITERATIONS, linear_to_waveform

    lips = np.asarray(lips, np.uint8)
    if lips.ndim == 4 and lips.shape[-1] == 1:
        lips = lips[..., 0]
    size = int(model.architecture["crop_size"])
    if lips.ndim != 3 or lips.shape[1:] != (size, size) or len(lips) == 0:
        raise UserInputError(f"lips must be [frames, {size}, {size}] uint8 crops, got shape {lips.shape}")
    linear = _graph_forward(model)(tf.constant(lips[None, ..., None]))
    return linear_to_waveform(np.asarray(linear)[0], iterations or GRIFFIN_LIM_ITERATIONS)


_GRAPH_FORWARDS = weakref.WeakKeyDictionary()


def _graph_forward(model):
    """``model``'s inference (uint8 lips ``[1, T, S, S, 1]`` -> linear ``[1, 4T, 321]``) as one
    ``tf.function`` per model, traced once for any ``T``: ~6 x faster than eager calls for a 3 s clip
    at the CPU preset's size (the benchmark's inference rows)."""
    if model not in _GRAPH_FORWARDS:
        import tensorflow as tf

        from avse_tf.systems.vca_gan.pipeline import normalize_video

        size = int(model.architecture["crop_size"])

        def forward(lips):
            lengths = tf.shape(lips)[1:2]
            return model({"video": normalize_video(lips), "video_length": lengths}, training=False)["linear"]

        _GRAPH_FORWARDS[model] = tf.function(forward, input_signature=[
            tf.TensorSpec([1, None, size, size, 1], tf.uint8)])
    return _GRAPH_FORWARDS[model]


def synthesize(model, video_path, shape_predictor=None):
    """``(waveform, info)``: speech for the silent video ``video_path`` (module doc).

    ``model``: a loaded VCA-GAN or a checkpoint path. ``waveform``: float32, 16 kHz, 640 samples per
    25 fps video frame, peak 0.9. ``info``: ``num_frames``, ``source_fps``, ``seconds``, ``frames``
    (the decoded 25 fps RGB picture) and ``lips`` (the 112 x 112 uint8 crops the model read).
    """
    model = load_vca_gan(model)
    frames, lips, source_fps = read_lips(video_path, shape_predictor)
    waveform = lips_to_waveform(model, lips)
    info = {"num_frames": int(len(lips)), "source_fps": source_fps, "seconds": waveform.size / SAMPLE_RATE,
            "frames": frames, "lips": lips}
    return waveform, info


def write_outputs(waveform, frames, output_wav=None, output_mp4=None) -> dict:
    """Write the wav and the mp4 (the picture with ``waveform`` as its sound track), each atomically."""
    from avse_tf.audio.io import write_audio
    from avse_tf.video.io import write_video

    written = {"seconds": waveform.size / SAMPLE_RATE, "num_frames": int(len(frames))}
    if output_wav:
        write_audio(output_wav, waveform, SAMPLE_RATE)
        written["wav"] = os.fspath(output_wav)
    if output_mp4:
        if os.path.splitext(os.fspath(output_mp4))[1].lower() != ".mp4":
            raise UserInputError(f"the video output must be an .mp4 file, got {output_mp4}")
        height, width = frames.shape[1] // 2 * 2, frames.shape[2] // 2 * 2  # H.264 4:2:0 needs even sizes
        write_video(output_mp4, frames[:, :height, :width], FPS, audio=waveform, sample_rate=SAMPLE_RATE)
        written["mp4"] = os.fspath(output_mp4)
    return written


def synthesize_file(checkpoint, video, output_wav, output_mp4=None, shape_predictor=None) -> dict:
    """Speech for ``video`` written to ``output_wav`` (16-bit, 16 kHz) and, if given, ``output_mp4``
    (the original picture at 25 fps with the speech as its sound track). ``checkpoint``: a
    ``.keras`` file, an experiment folder (``best.keras``) or a loaded VCA-GAN.

    Returns ``{"wav", "mp4" (if written), "seconds", "num_frames", "source_fps"}``; the audio lasts
    ``num_frames / 25`` s (640 samples per frame)."""
    waveform, info = synthesize(load_vca_gan(checkpoint), video, shape_predictor)
    written = write_outputs(waveform, info["frames"], output_wav, output_mp4)
    return {**written, "source_fps": info["source_fps"]}


class LipToSpeech:
    """A loaded VCA-GAN (what :func:`avse_tf.load` returns for this system): ``synthesize(video,
    output=None)`` gives the waveform and writes ``output`` (``.wav``, or ``.mp4``: the video with
    the speech) when given.

    ``from_path`` takes a ``.keras`` checkpoint, an experiment folder, a ``--format keras`` export
    folder or a SavedModel export (:mod:`~avse_tf.systems.vca_gan.export`: lips in, waveform out).
    """

    system = "vca_gan"

    def __init__(self, keras_model=None, source=None, serving=None):
        self.keras_model = keras_model
        self.serving = serving  # the SavedModel export's serving_default signature
        self.source = source
        self.model_id = keras_model.name if keras_model is not None else "vca_gan"

    @classmethod
    def from_path(cls, path):
        from avse_tf.utils import task_source

        exported, path = task_source(path)
        if exported:
            import tensorflow as tf

            return cls(source=exported, serving=tf.saved_model.load(exported).signatures["serving_default"])
        return cls(load_vca_gan(path), path)

    def lips_to_waveform(self, lips) -> np.ndarray:
        """float32 waveform of ``[T, 112, 112]`` uint8 lip crops."""
        if self.serving is None:
            return lips_to_waveform(self.keras_model, lips)
        import tensorflow as tf

        lips = np.asarray(lips, np.uint8).reshape(len(lips), *np.shape(lips)[1:3])
        outputs = self.serving(video=tf.constant(lips[None]), video_length=tf.constant([len(lips)], tf.int32))
        return np.asarray(outputs["waveform"])[0]

    def synthesize(self, video, output=None, shape_predictor=None) -> np.ndarray:
        frames, lips, _ = read_lips(video, shape_predictor)
        waveform = self.lips_to_waveform(lips)
        if output:
            is_mp4 = os.fspath(output).lower().endswith(".mp4")
            write_outputs(waveform, frames, None if is_mp4 else output, output if is_mp4 else None)
        return waveform
