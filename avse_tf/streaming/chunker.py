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

What runs on a chunk is a *processor* (:class:`Chunk` in, complex centre frames out), which a
system supplies (:mod:`avse_tf.streaming.processors`).

Offline references: :func:`process_offline` (one chunk holding the whole signal: the model sees
everything, as the offline commands do) and :func:`process_chunked` (the streaming chunker run on a
whole array: what the live demo must output, sample for sample). Tolerance (asserted in
``tests/test_demo.py`` through a real PortAudio stream): the live output equals
:func:`process_chunked` of the same input to max |diff| <= 1e-4 (measured: bit-identical); how far
that is from :func:`process_offline` depends on the processor (its system's ``streaming.py`` says).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from avse_tf.errors import UserInputError

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
    """Run the chunker once on noise with a dropped packet in every chunk, so that every
    ``tf.function`` (STFT, model, Griffin-Lim, inverse STFT) is traced, and run at every chunk
    length a live stream uses (its start, context still growing, included: XLA-compiled BLSTM
    loops compile once per length), before a live stream starts; counters are reset. A packet in
    every chunk, because a gap-filling processor calls its model only on chunks with a gap."""
    config, hop = plan.config, plan.config.frame_step
    chunks = max(3, math.ceil(plan.context_frames / plan.chunk_frames) + 2)
    frames = plan.context_frames + chunks * plan.chunk_frames + plan.lookahead_frames
    samples = np.random.default_rng(0).normal(0, 0.05, frames * hop).astype(np.float32)
    packet = int(0.04 * config.sample_rate)
    for index in range(chunks):
        start = (index * plan.chunk_frames + plan.chunk_frames // 2) * hop
        samples[start: start + packet] = 0.0
    process_chunked(processor, samples, plan)
    processor.model_calls = processor.gap_frames = 0


def snr_db(reference, estimate) -> float:
    """``10 log10(|ref|^2 / |ref - est|^2)`` (inf when equal)."""
    reference = np.asarray(reference, np.float64)
    error = float(np.sum((reference - np.asarray(estimate, np.float64)) ** 2))
    energy = float(np.sum(reference ** 2))
    return math.inf if error == 0 else 10 * math.log10(max(energy, 1e-30) / error)


__all__ = ["Chunk", "ChunkPlan", "Chunker", "process_chunked", "process_offline", "snr_db", "warmup"]
