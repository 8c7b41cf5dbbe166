"""The live processor of the pseudo-visual denoiser (Hegde et al., WACV 2021), for ``avse demo``:
audio only - the lips are the student's, drawn from the same noisy stream, so no camera is needed.

The chunker (:mod:`avse_tf.streaming.chunker`) hands :class:`DenoiserProcessor` chunks of the
denoiser's STFT (``hegde2021``: 512 / 160 / 400; streamed with 200 leading zeros in place of the
offline STFT's reflected start, which changes only the first two frames of a stream). Per chunk:
the STFT features of its frames (:func:`~.denoiser_data.spectrogram_features`), the student's lips
for its video frames (4 STFT frames each; the mel windows cut from the chunk's own samples, a window
reaching past them reads zeros), the denoiser on the whole chunk (it is fully convolutional, so any
length), and the centre frames' complex spectrum back. The original runs 1 s windows with 0.2 s of
overlap (``avse denoising inference``); streaming instead crops each chunk's centre out of its
context, so the chunk plan sets how far each output frame sees.

Defaults (:data:`DEFAULT_PLAN_MS`, used when ``avse demo`` is not given ``--chunk_ms`` and the
others): 160 ms chunks, 200 ms of look-ahead, 160 ms of context. Measured on a briefly trained CPU
denoiser, the output then equals the whole-signal pass
(:func:`~avse_tf.streaming.chunker.process_offline`) to float rounding (SNR 112 dB) away from the
stream's last 0.3 s, where each chunk pads the end differently; 96 ms of look-ahead gave 36 dB. The
tests assert >= 50 dB; the model card has the figures, the compute per chunk and the latency bound.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from avse_tf.errors import UserInputError
from avse_tf.streaming.chunker import Chunk, ChunkPlan
from avse_tf.systems.pseudo_visual.features import MEL_STEP

STFT_FRAMES_PER_VIDEO_FRAME = 4  # hop 160 vs 640 samples per 25 fps frame
DEFAULT_PLAN_MS = {"chunk_ms": 160.0, "lookahead_ms": 200.0, "context_ms": 160.0}
MEL_HOP, MEL_WINDOW = 200, 800  # Wav2Lip's mel STFT (features.py)


def streaming_config():
    """``hegde2021`` with 200 leading zeros instead of the reflected start (module doc)."""
    from avse_tf.audio.stft import get_config

    config = get_config("hegde2021")
    return dataclasses.replace(config, name="hegde2021_stream", reflect_pad=0, pad_start=config.reflect_pad)


class DenoiserProcessor:
    """The denoiser (with its frozen student, or zeros for the audio-only one) on stream chunks."""

    uses_packet_loss = False
    default_plan_ms = DEFAULT_PLAN_MS  # `avse demo` uses these when --chunk_ms etc. are not given

    def __init__(self, model):
        import tensorflow as tf

        from avse_tf.systems.pseudo_visual.denoiser_data import features_spectrogram, spectrogram_features
        from avse_tf.systems.pseudo_visual.denoiser import LIP_SHAPE
        from avse_tf.systems.pseudo_visual.features import wav2lip_mel_tf

        if model.visual == "real":
            raise UserInputError("this denoiser was trained on real lips (--visual real); the demo streams the "
                                 "pseudo-lip or the audio-only denoiser")
        self.model = model
        self.architecture = model.architecture
        self.config = streaming_config()
        self.model_calls = 0
        self.gap_frames = 0
        denoiser, student, visual = model.denoiser, model.student, model.visual

        @tf.function(input_signature=[tf.TensorSpec([None, self.config.num_bins], tf.complex64),
                                      tf.TensorSpec([None], tf.float32), tf.TensorSpec([None, MEL_STEP], tf.int32)])
        def run(spectrogram, mel_audio, window_index):
            if visual == "none":
                lips = tf.zeros(tf.concat([tf.shape(window_index)[:1], LIP_SHAPE], 0), tf.float32)
            else:
                mel_windows = tf.gather(wav2lip_mel_tf(mel_audio, centred=False), window_index)
                lips = tf.cast(student(mel_windows, training=False), tf.float32)
            features = denoiser({"stft": spectrogram_features(spectrogram)[None], "lips": lips[None]}, training=False)
            return features_spectrogram(tf.cast(features[0], tf.float32))

        self._run = run

    def check_plan(self, plan: ChunkPlan) -> None:
        """Chunks and context of whole video frames (4 STFT frames), so chunks start on a lip frame."""
        if plan.chunk_frames % STFT_FRAMES_PER_VIDEO_FRAME or plan.context_frames % STFT_FRAMES_PER_VIDEO_FRAME:
            raise UserInputError("the pseudo-visual denoiser reads lips at 25 fps: --chunk_ms and --context_ms must "
                                 "be multiples of 40 ms")

    def mel_audio(self, chunk: Chunk, video_frames: int) -> tuple:
        """``(samples, [video_frames, 16] indices)``: the input the student's mel windows of the chunk's
        lip frames read, and which uncentred mel frames of it each window takes (module doc)."""
        first_video = chunk.first_frame // STFT_FRAMES_PER_VIDEO_FRAME
        # features.window_starts of the whole signal, int(80 t / 25), without its end clamp (a stream has no end yet).
        starts = (16 * np.arange(first_video, first_video + video_frames)) // 5
        low, high = int(starts[0]), int(starts[-1]) + MEL_STEP
        # Mel frame m (centred) reads input samples [200 m - 400, 200 m + 400); chunk.samples[0] is input
        # sample first_frame * 160 - 200 (the streaming STFT's leading zeros).
        offset = chunk.first_frame * self.config.frame_step - self.config.pad_start
        begin = MEL_HOP * low - MEL_WINDOW // 2 - offset
        needed = MEL_HOP * (high - low - 1) + MEL_WINDOW
        lo, hi = chunk.signal
        audio = np.zeros(needed, np.float32)
        source_lo, source_hi = max(lo, begin), min(hi, begin + needed)
        if source_hi > source_lo:
            audio[source_lo - begin:source_hi - begin] = chunk.samples[source_lo:source_hi]
        return audio, ((starts - low)[:, None] + np.arange(MEL_STEP)).astype(np.int32)

    def __call__(self, chunk: Chunk) -> np.ndarray:
        rows = chunk.rows
        video_frames = -(-rows // STFT_FRAMES_PER_VIDEO_FRAME)
        spectrogram = np.asarray(chunk.spectrogram, np.complex64)
        if rows % STFT_FRAMES_PER_VIDEO_FRAME:  # whole lip frames: repeat the last STFT frame
            spectrogram = np.concatenate([spectrogram, np.repeat(spectrogram[-1:], video_frames * 4 - rows, 0)])
        self.model_calls += 1
        output = self._run(spectrogram, *self.mel_audio(chunk, video_frames)).numpy()
        return output[chunk.centre_rows]


def build_processor(model, folder, landmarks=None, norm_file=None, griffin_lim_iterations: int = 32,
                    max_gap_ms: float | None = 480.0) -> DenoiserProcessor:
    """The system's ``streaming`` hook: a ``denoising train`` checkpoint (no statistics: the features
    are fixed-range); a camera (``landmarks``) is not used."""
    from avse_tf.systems.pseudo_visual.denoiser_training import DenoiserTraining

    if not isinstance(model, DenoiserTraining):
        raise UserInputError("the demo streams the whole denoiser: give the `denoising train` folder or its best.keras "
                             "(denoiser.keras alone has no student)")
    if landmarks is not None:
        raise UserInputError("the pseudo-visual denoiser draws its lips from the audio: drop --video")
    return DenoiserProcessor(model)


__all__ = ["DenoiserProcessor", "build_processor", "streaming_config", "DEFAULT_PLAN_MS"]
