"""Streaming inference on overlapping chunks, for the live demo (``avse demo``) and its tests.

The models of this project are bidirectional (stacks of BLSTMs): every output frame depends on the
whole utterance. A live stream has no whole utterance, so the stream is cut into **chunks** on the
STFT frame grid of the model's paper (:mod:`avse_tf.audio.stft`; window ``W``, hop ``H``, ``P``
leading zeros):

* chunk ``j`` emits the ``C`` frames ``[jC, (j+1)C)`` (its *centre*);
* the model sees them with ``L`` frames of *left context* before them (already emitted) and ``R``
  frames of *look-ahead* after them; the output of the context and look-ahead frames is discarded
  (centre-crop stitching), so every frame is emitted exactly once;
* the emitted frames are turned back into samples by the project's least-squares inverse STFT on
  the centre frames plus the ``ceil(W / H) - 1`` frames before them, cropped to the centre's
  ``C * H`` samples. Those samples see exactly the frames (and window sums) the whole-signal
  inverse gives them, so stitching adds no error: for a processor whose receptive field is at most
  ``L`` frames back and ``R`` frames ahead, streaming equals offline processing (up to float
  rounding, < 1e-5); for a BLSTM it differs by what the frames beyond the context would have changed.

Look-ahead arithmetic (:class:`ChunkPlan`): chunk ``j`` needs the padded input up to sample
``((j+1)C + R - 1)H + W``, i.e. ``(R - 1)H + W`` samples past its last emitted sample (the
*signal look-ahead*, 96 ms for the 2021 settings with ``R = 7``), and its first sample waits for
``(C + R - 1)H + W`` samples (the *algorithmic latency*). A live stream delivers audio in blocks
and needs time to compute; :meth:`ChunkPlan.delay_samples` gives the fixed output delay that
covers the block, the look-ahead and a compute allowance, and the demo's end-to-end latency is that
delay plus the audio device's own buffering.

Processors (what runs on a chunk; :class:`Chunk` in, complex centre frames out):

* :class:`InpaintingProcessor` — Morrone et al. 2021 (``a_blstm``, ``a_blstm_mtl``; the AV models
  with a landmark source): runs of digital silence (dropped packets) are the gaps; frames away
  from gaps are copied from the input (the model's :class:`~avse_tf.systems.av_inpainting.model.GapMerge`
  does the same), gap frames get the model's magnitude and a Griffin-Lim phase in which the
  reliable and already-emitted frames are fixed (:func:`avse_tf.audio.phase.compiled_gap_griffin_lim`).
  Chunks with no gap in their centre skip the model (their output is the input).
* :class:`EnhancementProcessor` — Morrone et al. 2019 (``vl2m``, ``av_concat_mask``,
  ``av_concat_spec``): landmarks from a :class:`LandmarkTimeline` (a video or TXT file) or a
  camera (:class:`CameraLandmarks`), mask and mixture phase as in :mod:`avse_tf.systems.landmark_enhancement.serving`.

Offline references: :func:`process_offline` (one chunk holding the whole signal: the model sees
everything, as ``avse inpainting inpaint`` does) and :func:`process_chunked` (the streaming
chunker run on a whole array: what the live demo must output, sample for sample).

Tolerance (asserted in ``tests/test_demo.py`` through a real PortAudio stream): the live output
equals :func:`process_chunked` of the same input to max |diff| <= 1e-4 (measured: bit-identical).
Against :func:`process_offline`, an inpainting stream is identical (<= 1e-5) farther than one window
(24 ms) from every gap; inside the gaps it differs by the truncated context and the per-chunk
Griffin-Lim phase: >= 25 dB SNR overall for a 64-unit ``a_blstm`` with 5 % of 20 ms packets lost and
the default 96 / 96 / 480 ms chunk / look-ahead / context (measured 34-36 dB; 62 dB with the gap
phase left at zero, i.e. the model's truncated context alone).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import threading
import time

import numpy as np

from avse_tf.errors import UserInputError

SAMPLE_RATE = 16000
FPS = 25.0


# ----------------------------------------------------------------------------------------------
# Chunk plan: look-ahead and latency arithmetic

@dataclasses.dataclass(frozen=True)
class ChunkPlan:
    """Chunks of ``chunk_frames`` (C) emitted frames with ``context_frames`` (L) of left context and
    ``lookahead_frames`` (R) of look-ahead, on the frame grid of ``config`` (a :class:`StftConfig`)."""

    config: object
    chunk_frames: int
    lookahead_frames: int
    context_frames: int

    def __post_init__(self):
        if self.chunk_frames < 1 or self.lookahead_frames < 0 or self.context_frames < 0:
            raise ValueError(f"bad chunk plan: C={self.chunk_frames}, R={self.lookahead_frames}, "
                             f"L={self.context_frames}")

    @classmethod
    def from_ms(cls, config, chunk_ms: float, lookahead_ms: float, context_ms: float) -> "ChunkPlan":
        """Chunk and context rounded up to whole hops; the look-ahead rounded *down* so that the
        signal look-ahead (:attr:`lookahead_samples`) is at most ``lookahead_ms`` (its minimum is
        ``W - H``, the last emitted frame's own window)."""
        from avse_tf.audio.stft import get_config

        config = get_config(config)
        hop, rate = config.frame_step, config.sample_rate
        for name, value in (("--chunk_ms", chunk_ms), ("--lookahead_ms", lookahead_ms), ("--context_ms", context_ms)):
            if not math.isfinite(value) or value < 0:
                raise UserInputError(f"{name} must be a non-negative number of milliseconds, got {value}")
        chunk = max(1, math.ceil(chunk_ms * rate / 1000 / hop - 1e-9))
        overhang = config.frame_length - hop
        lookahead = max(0, math.floor((lookahead_ms * rate / 1000 - overhang) / hop + 1e-9))
        context = math.ceil(context_ms * rate / 1000 / hop - 1e-9)
        return cls(config, chunk, lookahead, context)

    @property
    def hop(self) -> int:
        return self.config.frame_step

    @property
    def chunk_samples(self) -> int:
        """Samples emitted per chunk (the demo's audio block)."""
        return self.chunk_frames * self.hop

    @property
    def stitch_frames(self) -> int:
        """Emitted frames before a chunk that the inverse STFT of its samples needs: ``ceil(W/H) - 1``."""
        return math.ceil(self.config.frame_length / self.hop) - 1

    @property
    def lookahead_samples(self) -> int:
        """Input samples needed past a chunk's last emitted sample: ``(R - 1) H + W``."""
        return (self.lookahead_frames - 1) * self.hop + self.config.frame_length

    @property
    def algorithmic_latency_samples(self) -> int:
        """From a chunk's first emitted sample to the last input sample it needs: ``(C + R - 1) H + W``."""
        return self.chunk_samples + self.lookahead_samples

    def input_end(self, chunk_index: int) -> int:
        """Unpadded input samples chunk ``chunk_index`` needs (exclusive end)."""
        padded = ((chunk_index + 1) * self.chunk_frames + self.lookahead_frames - 1) * self.hop \
            + self.config.frame_length
        return padded - self.config.pad_start

    def output_start(self, chunk_index: int) -> int:
        """First unpadded output sample of chunk ``chunk_index`` (0 for the first chunk)."""
        return max(0, chunk_index * self.chunk_samples - self.config.pad_start)

    def delay_samples(self, block: int | None = None, compute: int | None = None) -> int:
        """Fixed output delay ``D`` (samples) of a live stream: input sample ``n`` is played as
        output sample ``n + D``.

        Audio arrives in blocks of ``block`` samples (default: one chunk); a chunk can start once the
        block holding its last needed sample has arrived, and gets ``compute`` samples of time
        (default: one block) before its output must be handed to the device, which happens one block
        at a time. ``D`` is the smallest delay meeting every chunk's deadline:
        ``max_j (ceil(ready_j / B) - 1) B - start_j`` with ``ready_j = ceil(end_j / B) B + compute``.
        With blocks of one chunk and the default allowance this is ``B + ceil(lookahead / B) B``:
        the block being filled, the look-ahead rounded to blocks, and one block to compute in.
        """
        block = int(block or self.chunk_samples)
        compute = block if compute is None else int(compute)
        period = math.lcm(block, self.chunk_samples) // self.chunk_samples
        delay = 0
        for index in range(2 * period + 2 + math.ceil(self.config.pad_start / self.chunk_samples)):
            ready = math.ceil(self.input_end(index) / block) * block + compute
            delay = max(delay, (math.ceil(ready / block) - 1) * block - self.output_start(index))
        return delay

    def describe(self) -> str:
        rate = self.config.sample_rate / 1000
        return (f"chunk {self.chunk_samples / rate:g} ms ({self.chunk_frames} frames), look-ahead "
                f"{self.lookahead_samples / rate:g} ms ({self.lookahead_frames} frames), left context "
                f"{self.context_frames * self.hop / rate:g} ms ({self.context_frames} frames), "
                f"{self.config.name} STFT")


# ----------------------------------------------------------------------------------------------
# The chunker

@dataclasses.dataclass
class Chunk:
    """What a processor sees: ``rows`` frames starting at global frame ``first_frame``.

    ``spectrogram`` ``[rows, bins]`` complex64 (the input's STFT, exactly the whole-signal frames);
    rows ``[0, left)`` are left context, ``[left, left + centre)`` are to be emitted, the rest is
    look-ahead. ``previous`` ``[left, bins]``: what was emitted for the context rows. ``samples``:
    the padded input those frames cover (``samples[0]`` is padded sample ``first_frame * H``);
    ``signal`` ``(start, end)``: the part of ``samples`` that is real input (the rest is the STFT's
    start padding or, after the end of a stream, end padding).
    """

    spectrogram: np.ndarray
    first_frame: int
    left: int
    centre: int
    previous: np.ndarray
    samples: np.ndarray
    signal: tuple
    final: bool = False

    @property
    def rows(self) -> int:
        return int(self.spectrogram.shape[0])

    @property
    def centre_rows(self) -> slice:
        return slice(self.left, self.left + self.centre)


def _unpadded(config, **changes):
    return dataclasses.replace(config, **changes)


@functools.lru_cache(maxsize=None)
def _compiled_stft(config):
    """The paper's STFT of a slice of the padded signal (no padding of its own: exactly the
    whole-signal frames it covers) and its least-squares inverse, as ``tf.function`` s traced once
    (eager ops cost ~10x more per chunk)."""
    import tensorflow as tf

    from avse_tf.audio import stft

    analysis = _unpadded(config, pad_start=0, pad_end=False)
    synthesis = _unpadded(config, pad_start=0)
    forward = tf.function(lambda samples: stft.stft(samples, analysis),
                          input_signature=[tf.TensorSpec([None], tf.float32)])
    inverse = tf.function(lambda frames: stft.istft(frames, synthesis),
                          input_signature=[tf.TensorSpec([None, config.num_bins], tf.complex64)])
    return forward, inverse


class Chunker:
    """Push samples in, get the processed samples out; :meth:`flush` at the end of the input.

    Output sample ``n`` is the processed input sample ``n``: the total output has the input's length.
    ``processor(chunk) -> complex [chunk.centre, bins]``; ``processor.config`` is its STFT.
    """

    def __init__(self, plan: ChunkPlan, processor):
        if plan.config.name != processor.config.name:
            raise ValueError(f"plan uses {plan.config.name} frames but the processor {processor.config.name}")
        self.plan = plan
        self.processor = processor
        config = plan.config
        self._stft, self._istft = _compiled_stft(config)
        self._buffer = np.zeros(config.pad_start, np.float32)
        self._buffer_start = 0  # padded index of _buffer[0]
        self._received = config.pad_start  # padded samples received (leading zeros included)
        self._next = 0  # first frame of the next chunk
        self._history = np.zeros((0, config.num_bins), np.complex64)
        self._finished = False
        self.chunks = 0

    @property
    def received(self) -> int:
        """Input samples pushed so far."""
        return self._received - self.plan.config.pad_start

    def ready(self) -> bool:
        """Whether the next chunk has all its input."""
        return self.received >= self.plan.input_end(self._next // self.plan.chunk_frames)

    def push(self, samples) -> np.ndarray:
        """Add input samples; returns the output samples that became final (possibly none)."""
        if self._finished:
            raise RuntimeError("push after flush")
        samples = np.asarray(samples, np.float32).reshape(-1)
        self._buffer = np.concatenate([self._buffer, samples])
        self._received += samples.size
        outputs = []
        while self.ready():
            outputs.append(self._run())
        return np.concatenate(outputs) if outputs else np.zeros(0, np.float32)

    def flush(self) -> np.ndarray:
        """End of input: process what is left (the end zero-padded as the offline STFT pads it)."""
        if self._finished:
            return np.zeros(0, np.float32)
        self._finished = True
        config, hop = self.plan.config, self.plan.hop
        end = self._received
        if end <= config.pad_start:
            return np.zeros(0, np.float32)
        total = math.ceil(end / hop)
        needed = (total - 1) * hop + config.frame_length - self._buffer_start
        if needed > self._buffer.size:
            self._buffer = np.concatenate([self._buffer, np.zeros(needed - self._buffer.size, np.float32)])
        outputs = []
        while self._next < total:
            outputs.append(self._run(total_frames=total, signal_end=end))
        return np.concatenate(outputs) if outputs else np.zeros(0, np.float32)

    def _run(self, total_frames=None, signal_end=None) -> np.ndarray:
        plan, config, hop = self.plan, self.plan.config, self.plan.hop
        start = self._next
        left = min(plan.context_frames, start)
        first = start - left
        centre_end = start + plan.chunk_frames
        rows_end = centre_end + plan.lookahead_frames
        if total_frames is not None:
            centre_end, rows_end = min(centre_end, total_frames), min(rows_end, total_frames)
        lo = first * hop - self._buffer_start
        hi = (rows_end - 1) * hop + config.frame_length - self._buffer_start
        samples = self._buffer[lo:hi]
        spectrogram = self._stft(samples).numpy()
        signal_lo = max(0, config.pad_start - first * hop)
        signal_hi = samples.size if signal_end is None else min(samples.size, signal_end - first * hop)
        chunk = Chunk(spectrogram=spectrogram, first_frame=first, left=left, centre=centre_end - start,
                      previous=self._history[self._history.shape[0] - left:], samples=samples,
                      signal=(signal_lo, signal_hi), final=signal_end is not None)
        emitted = np.asarray(self.processor(chunk), np.complex64)
        if emitted.shape != (chunk.centre, config.num_bins):
            raise ValueError(f"processor returned {emitted.shape}, expected {(chunk.centre, config.num_bins)}")
        # Stitch: the inverse STFT of the emitted frames with the stitch_frames before them is exact on
        # the centre's samples (every window covering them is there).
        before = min(plan.stitch_frames, start, self._history.shape[0])
        frames = np.concatenate([self._history[self._history.shape[0] - before:], emitted])
        waveform = self._istft(frames).numpy()[before * hop: (before + chunk.centre) * hop]
        keep = max(plan.context_frames, plan.stitch_frames)
        self._history = np.concatenate([self._history, emitted])[-keep:] if keep else self._history[:0]
        self._next = centre_end
        self.chunks += 1
        # Padded sample range [start * hop, centre_end * hop) -> unpadded, clipped to the real signal.
        out_lo, out_hi = start * hop, centre_end * hop
        if signal_end is not None:
            out_hi = min(out_hi, signal_end)
        skip = max(0, config.pad_start - out_lo)
        waveform = waveform[skip: max(skip, out_hi - out_lo)]
        # Keep the input the next chunk's context needs.
        drop = max(0, (self._next - plan.context_frames) * hop - self._buffer_start)
        if drop and total_frames is None:
            self._buffer = self._buffer[drop:]
            self._buffer_start += drop
        return waveform.astype(np.float32)


def process_chunked(processor, waveform, plan: ChunkPlan) -> np.ndarray:
    """The streaming computation on a whole array: what the live demo outputs for this input."""
    chunker = Chunker(plan, processor)
    return np.concatenate([chunker.push(waveform), chunker.flush()])


def process_offline(processor, waveform) -> np.ndarray:
    """Offline processing: one chunk holding the whole signal (full context, nothing cut)."""
    from avse_tf.audio.stft import get_config

    config = get_config(processor.config)
    waveform = np.asarray(waveform, np.float32).reshape(-1)
    frames = max(1, config.num_frames(waveform.size))
    return process_chunked(processor, waveform, ChunkPlan(config, frames, 0, 0))


def warmup(processor, plan: ChunkPlan) -> None:
    """Run the chunker once on noise with a dropped packet, so that every ``tf.function`` (STFT,
    model, Griffin-Lim, inverse STFT) is traced before a live stream starts; counters are reset."""
    config = plan.config
    frames = plan.context_frames + 3 * plan.chunk_frames + plan.lookahead_frames
    samples = np.random.default_rng(0).normal(0, 0.05, frames * config.frame_step).astype(np.float32)
    middle = (plan.context_frames + plan.chunk_frames) * config.frame_step
    samples[middle: middle + int(0.04 * config.sample_rate)] = 0.0
    process_chunked(processor, samples, plan)
    processor.model_calls = processor.gap_frames = 0


def snr_db(reference, estimate) -> float:
    """``10 log10(|ref|^2 / |ref - est|^2)`` (inf when equal)."""
    reference = np.asarray(reference, np.float64)
    error = float(np.sum((reference - np.asarray(estimate, np.float64)) ** 2))
    energy = float(np.sum(reference ** 2))
    return math.inf if error == 0 else 10 * math.log10(max(energy, 1e-30) / error)


# ----------------------------------------------------------------------------------------------
# Landmark sources (25 fps, stream time 0 = video frame 0)

class LandmarkTimeline:
    """Landmarks ``[frames, 136]`` at ``fps``: ``at(positions)`` interpolates linearly at fractional
    video-frame positions, holding the first / last frame outside the clip."""

    def __init__(self, landmarks, fps: float = FPS, source: str = "landmarks"):
        landmarks = np.asarray(landmarks, np.float32)
        if landmarks.ndim != 2 or len(landmarks) == 0:
            raise UserInputError(f"{source}: landmarks must be [frames, dims] with at least one frame, "
                                 f"got {landmarks.shape}")
        self.landmarks = landmarks
        self.fps = float(fps)
        self.source = source

    @classmethod
    def from_file(cls, path, shape_predictor=None) -> "LandmarkTimeline":
        """A landmark TXT (``avse landmarks``) or a face video (landmarks extracted here)."""
        import os

        from avse_tf.video.landmarks import LandmarkExtractor, load_landmarks_txt

        path = os.fspath(path)
        if not os.path.isfile(path):
            raise UserInputError(f"--video {path} not found; give a face video, a landmark TXT, or a camera number")
        if path.endswith(".txt"):
            return cls(load_landmarks_txt(path), source=path)
        return cls(LandmarkExtractor(shape_predictor).extract_file(path).flat(), source=path)

    def at(self, positions) -> np.ndarray:
        positions = np.clip(np.asarray(positions, np.float64), 0, len(self.landmarks) - 1)
        lower = np.floor(positions).astype(np.int64)
        upper = np.minimum(lower + 1, len(self.landmarks) - 1)
        weight = (positions - lower).astype(np.float32)[:, None]
        return self.landmarks[lower] * (1 - weight) + self.landmarks[upper] * weight


class CameraLandmarks:
    """Landmarks of a live camera (``cv2.VideoCapture(index)``), tracked in a background thread.

    Each detected frame is stamped with its time since :meth:`start` (the audio stream's start);
    ``at(positions)`` interpolates them at 25 fps positions of that clock (before the first face:
    zeros, i.e. no motion). Detection follows :class:`avse_tf.video.landmarks.LandmarkExtractor`'s
    policy (re-detect every 8 frames or when the tracker's quality drops).
    """

    def __init__(self, index: int, shape_predictor=None, fps: float = FPS, capture=None):
        from avse_tf.video.landmarks import LandmarkExtractor

        self.fps = float(fps)
        self.extractor = LandmarkExtractor(shape_predictor)
        if capture is None:
            import cv2

            capture = cv2.VideoCapture(int(index))
            if not capture.isOpened():
                raise UserInputError(f"cannot open camera {index}; check --video (a camera number or a file)")
        self.capture = capture
        self._times, self._points = [], []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self._start = None
        self.frames = 0

    def start(self, start_time=None) -> None:
        self._start = time.monotonic() if start_time is None else start_time
        self._thread = threading.Thread(target=self._loop, name="avse-camera", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        release = getattr(self.capture, "release", None)
        if release:
            release()

    def _loop(self) -> None:
        import cv2
        import dlib

        tracker, index = None, 0
        while not self._stop.is_set():
            ok, frame = self.capture.read()
            if not ok:
                break
            stamp = time.monotonic() - self._start
            gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            box, quality = None, 0.0
            if tracker is not None:
                quality = tracker.update(gray)
                box = tracker.get_position()
            if tracker is None or index % self.extractor.redetect_every == 0 or quality < self.extractor.min_quality:
                found = self.extractor.detect(gray)
                if found is not None:
                    box = found
                    tracker = dlib.correlation_tracker()
                    tracker.start_track(gray, found)
            index += 1
            self.frames = index
            if box is None:
                continue
            points = self.extractor.shape(gray, box).reshape(-1)
            with self._lock:
                self._times.append(stamp)
                self._points.append(points)

    def at(self, positions) -> np.ndarray:
        times = np.asarray(positions, np.float64) / self.fps
        with self._lock:
            stamps = np.asarray(self._times, np.float64)
            points = np.asarray(self._points, np.float32)
        if len(stamps) == 0:
            return np.zeros((len(times), 136), np.float32)
        return np.stack([np.interp(times, stamps, points[:, dim]) for dim in range(points.shape[1])],
                        axis=1).astype(np.float32)


def landmark_source(video, shape_predictor=None):
    """``--video``: a camera number (``0``) or a file (a face video or a landmark TXT)."""
    if video is None:
        return None
    text = str(video)
    if text.isdigit():
        return CameraLandmarks(int(text), shape_predictor)
    return LandmarkTimeline.from_file(text, shape_predictor)


def video_features(source, first_frame: int, rows: int, config, delta: int, stats=None) -> np.ndarray:
    """Landmark motion of audio frames ``[first_frame, first_frame + rows)``, ``[rows, 136]``.

    Audio frame ``t`` sits at video position ``t * H * fps / rate`` (time-based, so it can be computed
    frame by frame; the offline pipelines stretch a clip's video over its audio frames instead, a
    < 2 % difference for 3 s clips). ``delta`` differences as :func:`avse_tf.video.align.deltas`
    (frames before 0 repeat frame 0, so the first ``delta`` frames are zero as offline);
    ``stats``: the ``(mean, std)`` to normalise with.
    """
    from avse_tf.video.align import deltas

    frames = np.arange(first_frame - delta, first_frame + rows)
    positions = np.maximum(frames, 0) * config.frame_step * source.fps / config.sample_rate
    features = deltas(source.at(positions), delta)[delta:] if delta else source.at(positions)
    if stats is not None:
        features = (features - stats[0]) / stats[1]
    return features.astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Processors

def compiled_model(model):
    """``model(inputs, training=False)`` as a ``tf.function`` traced once for batch 1 and any length."""
    import tensorflow as tf

    signature = {}
    for tensor in model.inputs:
        # [batch] lengths -> [1]; [batch, time, dim] sequences -> [1, None, dim].
        shape = (1,) + tuple(None for _ in tensor.shape[1:-1]) + tuple(tensor.shape[-1:]) \
            if len(tensor.shape) > 1 else (1,)
        signature[tensor.name] = tf.TensorSpec(shape, tensor.dtype, name=tensor.name)

    @tf.function(input_signature=[signature])
    def run(inputs):
        return model(inputs, training=False)

    return run


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


class EnhancementProcessor:
    """Face-landmark speech enhancement (Morrone et al. 2019) of a stream: the model's mask (or
    spectrogram) on each chunk, the mixture phase, as the serving graph of
    :mod:`avse_tf.systems.landmark_enhancement.serving` does for a whole clip."""

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


# ----------------------------------------------------------------------------------------------
# Loading a model for streaming

def load_processor(path, landmarks=None, norm_file=None, griffin_lim_iterations: int = 32,
                   max_gap_ms: float | None = 480.0):
    """The processor for a ``.keras`` checkpoint or an experiment folder (safe mode), with the
    normalisation statistics (and, for enhancement, the feature settings) saved beside it."""
    import os

    import avse_tf.systems.av_inpainting.model  # noqa: F401
    import avse_tf.systems.landmark_enhancement.model  # noqa: F401  (registers the classes of both families)
    from avse_tf.training.checkpoints import load_model

    path = os.fspath(path)
    if not os.path.exists(path):
        raise UserInputError(f"--model {path} not found; give a .keras file or an experiment folder")
    model = load_model(path, what="model", flag="--model", compile=False)
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    architecture = getattr(model, "architecture", model.name)
    from avse_tf.systems.av_inpainting.model import INPAINTING_MODELS

    if architecture in INPAINTING_MODELS:
        from avse_tf.constants import NORM_FILE
        from avse_tf.data.normalization import load_stats

        stats = load_stats(norm_file or os.path.join(folder, NORM_FILE))
        return InpaintingProcessor(model, stats, landmarks, griffin_lim_iterations, max_gap_ms=max_gap_ms)
    from avse_tf.systems.landmark_enhancement.model import MODEL_SPECS

    if architecture in MODEL_SPECS:
        from avse_tf.systems.landmark_enhancement.serving import load_preprocessing

        settings, stats = load_preprocessing(folder, norm_file)
        return EnhancementProcessor(model, settings, stats, landmarks)
    raise UserInputError(f"--model {path} holds {architecture!r}; the demo streams inpainting models "
                         f"({', '.join(INPAINTING_MODELS)}) and enhancement models (vl2m, av_concat_mask, "
                         "av_concat_spec)")


# ----------------------------------------------------------------------------------------------
# Simulated packet loss

class PacketLoss:
    """Drops packets of ``packet_samples`` with probability ``rate`` (seeded): their samples become
    digital silence, which the inpainting processor treats as gaps. Sequential: call :meth:`apply`
    on consecutive blocks."""

    def __init__(self, rate: float, packet_samples: int, seed: int = 0):
        if not 0.0 <= rate < 1.0:
            raise UserInputError(f"--drop_rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.packet = int(packet_samples)
        self.rng = np.random.default_rng(seed)
        self.position = 0
        self.dropped = 0
        self._current = -1
        self._drop = False

    def apply(self, block) -> np.ndarray:
        block = np.array(block, np.float32, copy=True).reshape(-1)
        if self.rate <= 0:
            self.position += block.size
            return block
        offset = 0
        while offset < block.size:
            packet = (self.position + offset) // self.packet
            if packet != self._current:
                self._current = packet
                self._drop = bool(self.rng.random() < self.rate)
                self.dropped += int(self._drop)
            end = min(block.size, (packet + 1) * self.packet - self.position)
            if self._drop:
                block[offset:end] = 0.0
            offset = end
        self.position += block.size
        return block


__all__ = ["ChunkPlan", "Chunk", "Chunker", "process_chunked", "process_offline", "warmup", "snr_db",
           "LandmarkTimeline", "CameraLandmarks", "landmark_source", "video_features", "compiled_model",
           "InpaintingProcessor", "EnhancementProcessor", "load_processor", "PacketLoss"]
