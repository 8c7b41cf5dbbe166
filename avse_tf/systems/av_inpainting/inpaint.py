"""Inpainting a user's own file: ``avse inpainting inpaint``."""

from __future__ import annotations

import logging
import os

import numpy as np

from avse_tf.constants import NORM_FILE, SAMPLE_RATE
from avse_tf.errors import UserInputError
from avse_tf.systems.av_inpainting.evaluate import inpaint_magnitude, save_figure
from avse_tf.systems.av_inpainting.pipeline import STFT, log_spectrogram, video_motion
from avse_tf.training.checkpoints import load_model

log = logging.getLogger(__name__)


class Inpainter:
    """A loaded inpainting model (what :func:`avse_tf.load` returns for this system).

    ``inpaint_file(input, output, gaps=None, video=None, ...)`` runs :func:`inpaint_file` with the
    model loaded once and the normalisation statistics saved beside it.
    """

    system = "av_inpainting"

    def __init__(self, keras_model, norm_file, source):
        self.keras_model = keras_model
        self.norm_file = norm_file
        self.source = source
        self.model_id = getattr(keras_model, "architecture", keras_model.name)

    @classmethod
    def from_path(cls, path, norm_file=None):
        """A ``.keras`` checkpoint, an experiment folder or a keras export (with ``normalization.npz``)."""
        from avse_tf.constants import BEST_CHECKPOINT

        path = os.fspath(path)
        if os.path.isdir(path) and not os.path.isfile(os.path.join(path, BEST_CHECKPOINT)):
            path = os.path.join(path, "model.keras")
        folder = os.path.dirname(os.path.abspath(path)) if os.path.isfile(path) else path
        return cls(load_model(path, flag="model path"), norm_file or os.path.join(folder, NORM_FILE), path)

    def inpaint_file(self, input_path, output_path, gaps=None, video=None, phase="auto", figure=None,
                     shape_predictor=None, reference=None, griffin_lim_iterations=100, length_policy="error") -> dict:
        return inpaint_file(input_path, output_path, self.keras_model, gaps, video, phase, figure, self.norm_file,
                            shape_predictor, reference, griffin_lim_iterations, length_policy)


def inpaint_file(input_path, output_path, checkpoint, gaps=None, video=None, phase="auto", figure=None,
                 stats_path=None, shape_predictor=None, reference=None, griffin_lim_iterations=100,
                 length_policy="error") -> dict:
    """Inpaint ``gaps`` (``[(start_s, end_s), ...]``; ``None``: runs of digital silence) of a wav.

    ``checkpoint``: a ``.keras`` file or experiment folder, or a loaded model (then ``stats_path``
    names its normalisation statistics).

    ``video``: the speaker's face video (needed by AV models); its landmarks are extracted here.
    A video shorter than the audio by up to 5 of 75 frames is padded as in the paper
    (:func:`~avse_tf.systems.av_inpainting.pipeline.video_motion`, with a warning); other
    mismatches beyond two frames are an error unless ``length_policy`` is ``pad`` or ``trim``
    (:func:`avse_tf.validation.match_durations`).
    Frames whose window overlaps a gap are replaced; all others are the input's, magnitude and phase,
    so the output equals the input away from the gaps. ``figure``: PNG path for the gapped /
    inpainted (/ ``reference``, a clean wav, if given) log spectrograms. Returns a description.
    """
    from avse_tf.audio.io import load_audio, write_audio
    from avse_tf.audio.phase import reconstruct_waveform
    from avse_tf.audio.stft import get_config
    from avse_tf.data import gaps as gap_lib
    from avse_tf.data.normalization import load_stats, normalize

    model = load_model(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else checkpoint
    architecture = getattr(model, "architecture", model.name)
    from avse_tf.systems.av_inpainting.model import INPAINTING_MODELS, MODEL_SPECS

    if architecture not in INPAINTING_MODELS:
        raise UserInputError(f"{checkpoint} holds {model.name!r}, not an inpainting model")
    if stats_path is None:
        checkpoint = os.fspath(checkpoint)
        checkpoint_dir = checkpoint if os.path.isdir(checkpoint) else os.path.dirname(os.path.abspath(checkpoint))
        stats_path = os.path.join(checkpoint_dir, NORM_FILE)
    stats = load_stats(stats_path)
    waveform = load_audio(input_path, SAMPLE_RATE)
    landmarks = None
    if MODEL_SPECS[architecture]["video"]:
        if video is None:
            raise UserInputError(f"model {architecture} is audio-visual: pass --video with the speaker's face video "
                                 "(or use an audio-only model)")
        from avse_tf.constants import FPS
        from avse_tf.validation import match_durations
        from avse_tf.video.landmarks import LandmarkExtractor

        landmarks = LandmarkExtractor(shape_predictor).extract_file(video).flat()
        if length_policy != "error":  # otherwise the paper's rule in video_motion: 70-74 of 75 frames are padded
            waveform, landmarks = match_durations(waveform, landmarks, SAMPLE_RATE, FPS, length_policy,
                                                  os.fspath(input_path), os.fspath(video))
    config = get_config(STFT)
    if waveform.size < config.frame_length:
        raise UserInputError(f"{input_path} is {waveform.size / SAMPLE_RATE * 1000:.0f} ms long; inpainting needs at "
                             f"least {config.frame_length / SAMPLE_RATE * 1000:.0f} ms")
    log_magnitude, phase_in = log_spectrogram(waveform)
    frames = log_magnitude.shape[0]
    if gaps is None:
        gaps = gap_lib.detect_silent_gaps(waveform, SAMPLE_RATE)
        if not gaps:
            raise UserInputError(f"no gaps given and no digital silence (>= 20 ms of zeros) found in {input_path}; "
                                 "pass --gaps START:END,...")
    mask = gap_lib.intervals_to_frame_mask(gaps, waveform.size, frames, SAMPLE_RATE, config.frame_length,
                                           config.frame_step, input_path)
    normalised = normalize(log_magnitude, *stats["spectrogram"])
    inputs = {"gapped_spectrogram": (normalised * (1 - mask[:, None]))[None],
              "gap_mask": mask[None, :, None], "sequence_length": np.array([frames], np.int32)}
    if landmarks is not None:
        motion = video_motion(landmarks, frames, waveform.size, video)
        inputs["video_features"] = normalize(motion, *stats["video"])[None]
    prediction = model.predict_on_batch(inputs)["inpainted_spectrogram"][0]
    magnitude = np.exp(log_magnitude) - 1e-6
    estimate = inpaint_magnitude(prediction, np.maximum(magnitude, 0.0), mask, stats)
    output = reconstruct_waveform(estimate, phase_in, mask, phase, STFT, waveform.size,
                                  iterations=griffin_lim_iterations)
    write_audio(output_path, output, SAMPLE_RATE)
    if figure:
        mean, std = stats["spectrogram"]
        reference_log = log_spectrogram(load_audio(reference, SAMPLE_RATE)[: waveform.size])[0] if reference else None
        if reference_log is not None and reference_log.shape != log_magnitude.shape:
            reference_log = None
        save_figure(figure, np.where(mask[:, None] > 0.5, np.log(1e-6), log_magnitude), prediction * std + mean,
                    reference_log)
    return {"gaps_seconds": [(float(a), float(b)) for a, b in gaps], "gap_frames": gap_lib.mask_to_gaps(mask),
            "model": architecture, "phase": phase, "output": output_path, "figure": figure}
