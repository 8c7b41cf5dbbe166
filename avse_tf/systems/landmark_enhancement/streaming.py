"""The live processor of face-landmark speech enhancement (Morrone et al. 2019), for ``avse demo``.

:class:`EnhancementProcessor` runs ``vl2m``, ``av_concat_mask`` or ``av_concat_spec`` on chunks of a
stream (:mod:`avse_tf.streaming.chunker`), with the speaker's landmarks from a
:class:`~avse_tf.streaming.sources.LandmarkTimeline` (a video or TXT file) or a camera
(:class:`~avse_tf.streaming.sources.CameraLandmarks`); mask and mixture phase as in
:mod:`avse_tf.systems.landmark_enhancement.serving`. With context and look-ahead covering the whole
signal it equals :func:`~avse_tf.streaming.chunker.process_offline` (<= 1e-5); with less, the BLSTM's
truncated context is the difference.
"""

from __future__ import annotations

import numpy as np

from avse_tf.errors import UserInputError
from avse_tf.streaming.chunker import Chunk, ChunkPlan
from avse_tf.streaming.processors import compiled_model
from avse_tf.streaming.sources import video_features


class EnhancementProcessor:
    """Face-landmark speech enhancement (Morrone et al. 2019) of a stream: the model's mask (or
    spectrogram) on each chunk, the mixture phase, as the serving graph of
    :mod:`avse_tf.systems.landmark_enhancement.serving` does for a whole clip."""

    uses_packet_loss = False  # it enhances what arrives; lost packets are not its job

    def __init__(self, model, settings, stats, landmarks):
        from avse_tf.audio.stft import get_config
        from avse_tf.systems.landmark_enhancement.serving import SERVABLE

        architecture = getattr(model, "architecture", model.name)
        if architecture not in SERVABLE:
            raise UserInputError(f"model {architecture!r} needs VL2M's estimated mask as an input and cannot stream "
                                 f"alone; use one of {', '.join(SERVABLE)}")
        if landmarks is None:
            raise UserInputError(f"model {architecture} needs the speaker's face landmarks: pass --video 0 (camera) "
                                 "or --video FILE (a face video or a landmark TXT)")
        self.architecture = architecture
        self.config = get_config(settings.get("stft", "morrone2019"))
        self.delta = int(settings.get("delta", 1))
        self.model = model
        self.stats = stats
        self.landmarks = landmarks
        self.input_names = [tensor.name for tensor in model.inputs]
        self._model = compiled_model(model)
        self.model_calls = 0
        self.gap_frames = 0

    def check_plan(self, plan: ChunkPlan) -> None:
        return None

    def __call__(self, chunk: Chunk) -> np.ndarray:
        from avse_tf.audio import features, stft
        from avse_tf.systems.landmark_enhancement.evaluate import mask_and_magnitude

        self.model_calls += 1
        magnitude, phase = stft.magnitude_phase(chunk.spectrogram)
        mixed = features.power_law(magnitude).numpy()
        mean, std = self.stats["spectrogram"]
        available = {
            "mixed_spectrogram": ((mixed - mean) / std).astype(np.float32),
            "mixed_magnitude": mixed,
            "video_features": video_features(self.landmarks, chunk.first_frame, chunk.rows, self.config, self.delta,
                                             self.stats["video"]),
        }
        inputs = {name: available[name][None] for name in self.input_names if name != "sequence_length"}
        inputs["sequence_length"] = np.array([chunk.rows], np.int32)
        outputs = {name: value[0] for name, value in self._model(inputs).items()}
        _, enhanced = mask_and_magnitude(self.architecture, outputs, magnitude)
        centre = chunk.centre_rows
        return stft.from_magnitude_phase(enhanced[centre], phase[centre]).numpy()


def build_processor(model, folder, landmarks=None, norm_file=None, griffin_lim_iterations: int = 32,
                    max_gap_ms: float | None = 480.0) -> EnhancementProcessor:
    """The system's ``streaming`` hook: ``model`` with the feature settings and statistics saved in
    ``folder`` (statistics: or ``norm_file``); ``folder=None``: default settings and unit statistics,
    no files read. Gap filling (``griffin_lim_iterations``, ``max_gap_ms``) does not apply."""
    from avse_tf.audio.stft import get_config
    from avse_tf.streaming.processors import unit_stats
    from avse_tf.systems.landmark_enhancement.pipeline import STFT
    from avse_tf.systems.landmark_enhancement.serving import load_preprocessing

    if folder is None:
        settings, stats = {}, unit_stats(get_config(STFT).num_bins)
    else:
        settings, stats = load_preprocessing(folder, norm_file)
    return EnhancementProcessor(model, settings, stats, landmarks)


__all__ = ["EnhancementProcessor", "build_processor"]
