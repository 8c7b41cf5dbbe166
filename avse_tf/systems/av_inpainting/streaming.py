"""The live processor of speech inpainting (Morrone et al. 2021), for ``avse demo``.

:class:`InpaintingProcessor` runs ``a_blstm`` / ``a_blstm_mtl`` (and the AV models, with a landmark
source) on chunks of a stream (:mod:`avse_tf.streaming.chunker`): runs of digital silence (dropped
packets) are the gaps; frames away from gaps are copied from the input (the model's
:class:`~avse_tf.systems.av_inpainting.model.GapMerge` does the same), gap frames get the model's
magnitude and a Griffin-Lim phase in which the reliable and already-emitted frames are fixed
(:func:`avse_tf.audio.phase.compiled_gap_griffin_lim`). Chunks with no gap in their centre skip the
model (their output is the input).

Tolerance against :func:`~avse_tf.streaming.chunker.process_offline` (full context, what
``avse inpainting inpaint`` computes): identical (<= 1e-5) farther than one window (24 ms) from
every gap; inside the gaps it differs by the truncated context and the per-chunk Griffin-Lim phase:
>= 25 dB SNR overall (the bound the tests assert) for a 64-unit ``a_blstm`` with 5 % of 20 ms
packets lost and the default 96 / 96 / 480 ms chunk / look-ahead / context; the measured SNRs are in
the model card (``avse_tf/systems/av_inpainting/README.md``, streaming).
"""

from __future__ import annotations

import os

import numpy as np

from avse_tf.errors import UserInputError
from avse_tf.streaming.chunker import Chunk, ChunkPlan
from avse_tf.streaming.processors import compiled_model
from avse_tf.streaming.sources import video_features


class InpaintingProcessor:
    """Speech inpainting (Morrone et al. 2021) of the digital-silence runs of a stream.

    A run of at least ``min_gap_ms`` of exact zeros (a dropped packet) is a gap; as in
    ``avse inpainting inpaint``, every frame whose window overlaps it is inpainted. Only the first
    ``max_gap_ms`` of a run are (``None``: all): a longer silence is a muted or idle input, not a
    lost packet, and stays silent. Deciding that needs the run's start, so ``max_gap_ms`` must not
    exceed the left context. The model sees the normalised log spectrogram with the gap frames zeroed
    (and, for AV models, the landmark motion); gap frames get its magnitude and a Griffin-Lim phase
    (``griffin_lim_iterations``) over the last ``griffin_lim_context`` emitted frames, the centre and
    the look-ahead, in which only the gap frames of the centre and look-ahead are free.
    """

    uses_packet_loss = True  # dropped packets are its gaps: `avse demo --drop_rate` applies

    def __init__(self, model, stats, landmarks=None, griffin_lim_iterations: int = 32, min_gap_ms: float = 20.0,
                 max_gap_ms: float | None = 480.0, griffin_lim_context: int = 4):
        from avse_tf.audio.phase import compiled_gap_griffin_lim
        from avse_tf.audio.stft import get_config
        from avse_tf.systems.av_inpainting.model import INPAINTING_MODELS, MODEL_SPECS
        from avse_tf.systems.av_inpainting.pipeline import STFT

        architecture = getattr(model, "architecture", model.name)
        if architecture not in INPAINTING_MODELS:
            raise UserInputError(f"model {model.name!r} is not an inpainting model ({', '.join(INPAINTING_MODELS)})")
        self.architecture = architecture
        self.video = MODEL_SPECS[architecture]["video"]
        if self.video and landmarks is None:
            raise UserInputError(f"model {architecture} is audio-visual: pass --video 0 (camera) or --video FILE "
                                 "(or use a_blstm / a_blstm_mtl)")
        if self.video and "video" not in stats:
            raise UserInputError(f"the normalisation statistics of {architecture} have no video entry")
        self.config = get_config(STFT)
        self.model = model
        self.stats = stats
        self.landmarks = landmarks
        self.min_gap_ms = float(min_gap_ms)
        self.max_gap_ms = None if max_gap_ms is None else float(max_gap_ms)
        self.griffin_lim_context = int(griffin_lim_context)
        self.iterations = int(griffin_lim_iterations)
        self._model = compiled_model(model)
        self._griffin_lim = compiled_gap_griffin_lim(self.config, self.iterations) if self.iterations else None
        self.model_calls = 0
        self.gap_frames = 0

    def check_plan(self, plan: ChunkPlan) -> None:
        """The plan must see a gap's start (``max_gap_ms`` <= context) and the end of a short run
        (look-ahead >= 2 frames)."""
        rate = self.config.sample_rate
        if self.max_gap_ms is not None and self.max_gap_ms * rate / 1000 > plan.context_frames * plan.hop:
            raise UserInputError(f"--max_gap_ms {self.max_gap_ms:g} is longer than the left context "
                                 f"({plan.context_frames * plan.hop * 1000 / rate:g} ms); raise --context_ms")
        if plan.lookahead_frames < 2:
            raise UserInputError("inpainting needs a look-ahead of at least 2 frames (--lookahead_ms 36) to see "
                                 "where a dropped packet ends")

    def gap_mask(self, chunk: Chunk) -> np.ndarray:
        """``[rows]`` float32, 1 for frames overlapping a (capped) run of digital silence."""
        from avse_tf.data.gaps import detect_silent_gaps

        config, rate = self.config, self.config.sample_rate
        length, hop = config.frame_length, config.frame_step
        lo, hi = chunk.signal
        mask = np.zeros(chunk.rows, np.float32)
        cap = None if self.max_gap_ms is None else int(round(self.max_gap_ms * rate / 1000))
        for start, end in detect_silent_gaps(chunk.samples[lo:hi], rate, self.min_gap_ms / 1000):
            # Back to whole samples (exact: the run ends are sample counts / rate), so that a run that
            # starts on a frame boundary gives the same frames whatever the chunk's offset
            # (frames_for_interval's rule: frame t is hit if [tH, tH + W) overlaps the run).
            start, end = int(round(start * rate)) + lo, int(round(end * rate)) + lo
            if cap is not None:
                end = min(end, start + cap)
            first, last = max(0, (start - length) // hop + 1), min(chunk.rows, -(-end // hop))
            mask[first:last] = 1.0
        return mask

    def __call__(self, chunk: Chunk) -> np.ndarray:
        from avse_tf.audio import features, stft
        from avse_tf.data.normalization import normalize
        from avse_tf.systems.av_inpainting.evaluate import inpaint_magnitude

        centre = chunk.centre_rows
        gap = self.gap_mask(chunk)
        if not gap[centre].any():
            return chunk.spectrogram[centre]
        self.model_calls += 1
        self.gap_frames += int(gap[centre].sum())
        magnitude, phase = (value.numpy() for value in stft.magnitude_phase(chunk.spectrogram))
        log_magnitude = features.log_magnitude(magnitude).numpy()
        normalised = normalize(log_magnitude, *self.stats["spectrogram"])
        inputs = {"gapped_spectrogram": (normalised * (1 - gap[:, None]))[None], "gap_mask": gap[None, :, None],
                  "sequence_length": np.array([chunk.rows], np.int32)}
        if self.video:
            inputs["video_features"] = video_features(self.landmarks, chunk.first_frame, chunk.rows, self.config, 1,
                                                      self.stats["video"])[None]
        prediction = self._model(inputs)["inpainted_spectrogram"][0].numpy()
        # As `avse inpainting inpaint`: the input magnitude outside the gap, the model's inside.
        estimate = inpaint_magnitude(prediction, np.maximum(np.exp(log_magnitude) - 1e-6, 0.0), gap, self.stats)
        left = chunk.left
        if left:  # the context frames were emitted already: keep what was emitted
            estimate[:left] = np.abs(chunk.previous)
            phase[:left] = np.angle(chunk.previous)
        free = (gap > 0.5) & (np.arange(chunk.rows) >= left)
        if self._griffin_lim is not None:
            begin = max(0, left - self.griffin_lim_context)
            span = (chunk.rows - begin - 1) * self.config.frame_step + self.config.frame_length
            num_samples = min(span, chunk.signal[1] - begin * self.config.frame_step) if chunk.final else span
            phase[begin:] = self._griffin_lim(estimate[begin:], phase[begin:].astype(np.float32),
                                              free[begin:, None], np.int32(num_samples)).numpy()
        else:
            phase = np.where(free[:, None], 0.0, phase)
        return stft.from_magnitude_phase(estimate[centre], phase[centre].astype(np.float32)).numpy()


def build_processor(model, folder, landmarks=None, norm_file=None, griffin_lim_iterations: int = 32,
                    max_gap_ms: float | None = 480.0) -> InpaintingProcessor:
    """The system's ``streaming`` hook: ``model`` with the statistics saved in ``folder`` (or
    ``norm_file``); ``folder=None``: unit statistics, no files read."""
    from avse_tf.audio.stft import get_config
    from avse_tf.constants import NORM_FILE
    from avse_tf.data.normalization import load_stats
    from avse_tf.streaming.processors import unit_stats
    from avse_tf.systems.av_inpainting.pipeline import STFT

    if folder is None:
        stats = unit_stats(get_config(STFT).num_bins)
    else:
        stats = load_stats(norm_file or os.path.join(folder, NORM_FILE))
    return InpaintingProcessor(model, stats, landmarks, griffin_lim_iterations, max_gap_ms=max_gap_ms)


__all__ = ["InpaintingProcessor", "build_processor"]
