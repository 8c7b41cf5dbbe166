"""The live-audio engine of ``avse demo``: PortAudio (through ``sounddevice``) on one side, a
:class:`~avse_tf.streaming.chunker.Chunker` on the other.

The audio callback only moves data (:class:`StreamEngine`); a worker thread applies the simulated
packet loss, runs the chunker and fills a ring buffer the callback plays from, ``delay`` samples
behind the input. Here too: the wav sink written as the stream goes, the PortAudio helpers (import,
JACK client name, device checks, real-time priority) and the figures of a run. One run of it, as the
command starts it: :mod:`avse_tf.streaming.live`.

``sounddevice`` is imported only here (:func:`import_sounddevice`): ``pip install "avse_tf[demo]"``
plus the PortAudio library (``apt-get install libportaudio2``, ``brew install portaudio``).
"""

from __future__ import annotations

import math
import os
import queue
import threading
import time

import numpy as np

from avse_tf.constants import SAMPLE_RATE
from avse_tf.errors import UserInputError

CLIENT_NAME = b"avse-demo"
INSTALL_HINT = ('the live demo needs the sounddevice package and the PortAudio library: pip install "avse_tf[demo]" '
                "and apt-get install libportaudio2 (macOS: brew install portaudio)")


# ----------------------------------------------------------------------------------------------
# PortAudio

def import_sounddevice():
    """``sounddevice``, or one line saying what to install."""
    try:
        import sounddevice
    except (ImportError, OSError):
        raise UserInputError(INSTALL_HINT) from None
    name_jack_client(sounddevice)
    return sounddevice


def name_jack_client(sd, name: bytes = CLIENT_NAME) -> None:
    """Name this process's JACK client (PortAudio's default is "PortAudio"), best effort; PortAudio is
    restarted for it, so call it before opening streams."""
    import ctypes

    try:
        library = ctypes.CDLL(sd._libname)
        setter = library.PaJack_SetClientName
    except (AttributeError, OSError):
        return
    global _JACK_NAME
    _JACK_NAME = ctypes.create_string_buffer(name)  # PortAudio keeps the pointer
    try:
        sd._terminate()
        setter(_JACK_NAME)
    finally:
        sd._initialize()


_JACK_NAME = None


def parse_device(value):
    """``--input-device`` / ``--output-device``: a number, a name, or ``None`` for the system's default."""
    if value is None:
        return None
    text = str(value).strip()
    return int(text) if text.lstrip("-").isdigit() else text


def check_device(sd, device, kind: str) -> str:
    """The device's name; a bad number or name, or one that cannot do 16 kHz mono, is one line."""
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    try:
        info = sd.query_devices(device, kind)
        check(device=device, channels=1, dtype="float32", samplerate=SAMPLE_RATE)
    except (ValueError, sd.PortAudioError) as error:
        label = "the default" if device is None else repr(device)
        raise UserInputError(f"{kind} device {label}: {str(error).splitlines()[0]}; list them with "
                             f"avse demo --list-devices (it must take {SAMPLE_RATE} Hz mono: with JACK start the "
                             f"server at -r {SAMPLE_RATE}, with ALSA use a 'default' or plughw device)") from None
    host = sd.query_hostapis(info["hostapi"])["name"]
    return f"{info['name']} ({host})"


def realtime_priority(wanted: bool):
    """Round-robin priority 5 for this thread and the threads it starts later (TensorFlow's pools, the
    worker); ``True`` if in force. Best effort: ``False`` where the system does not allow it."""
    if not wanted:
        return False
    try:
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(5))
    except (OSError, AttributeError):
        return False
    return True


def list_devices(sd) -> int:
    print(sd.query_devices())
    apis = ", ".join(api["name"] for api in sd.query_hostapis())
    print(f"host APIs: {apis}. Pick a device with --input-device N / --output-device N (number or name).")
    return 0


# ----------------------------------------------------------------------------------------------
# The real-time engine

class WavSink:
    """A 32-bit float wav written as the stream goes, renamed onto ``path`` at the end (atomic)."""

    def __init__(self, path):
        import soundfile

        from avse_tf.utils import temporary_beside

        self.path = os.fspath(path)
        self.temporary = temporary_beside(self.path, ".wav")
        self.file = soundfile.SoundFile(self.temporary, "w", SAMPLE_RATE, 1, subtype="FLOAT", format="WAV")
        self.samples = 0

    def write(self, samples) -> None:
        if len(samples):
            self.file.write(np.asarray(samples, np.float32))
            self.samples += len(samples)

    def commit(self) -> None:
        self.file.close()
        os.replace(self.temporary, self.path)

    def discard(self) -> None:
        if not self.file.closed:
            self.file.close()
        if os.path.exists(self.temporary):
            os.remove(self.temporary)


class StreamEngine:
    """Audio callback + worker thread around a :class:`~avse_tf.streaming.chunker.Chunker`.

    The callback only moves data: it queues each input block (with its capture time) and hands the
    device the output block due now, which is the processed input delayed by ``delay`` samples; if
    that is not computed yet the block is late (silence is played for the missing part). The worker
    applies the simulated packet loss, runs the chunker and appends the result to a ring buffer.
    """

    def __init__(self, chunker, plan, delay: int, packet_loss=None, source=None, output_wav=None,
                 record_input=None, total_blocks=None, warmup_blocks: int = 0):
        self.chunker = chunker
        self.plan = plan
        self.block = plan.chunk_samples
        self.delay = int(delay)
        self.packet_loss = packet_loss
        self.source = source  # --input-wav samples, or None for the microphone
        self.output_wav = output_wav
        self.record_input = record_input
        self.total_blocks = total_blocks
        size = 1 << math.ceil(math.log2(self.delay + 64 * self.block + 4 * SAMPLE_RATE))
        self.ring = np.zeros(size, np.float32)
        self.ready = 0  # processed samples in the ring (absolute count)
        self.inbox = queue.SimpleQueue()
        self.blocks_in = 0
        self.blocks_out = 0
        self.input_times = []
        self.output_times = []  # (block, dac time, complete)
        self.input_overflows = 0
        self.output_underflows = 0
        self.late = 0
        self.compute = []
        self.compute_blocks = []
        self.late_blocks = []
        self.xrun_blocks = []  # input block index of every callback PortAudio flagged
        # Callbacks ignored at the start (silence out, input discarded): a new JACK client's first
        # cycles run while the graph is re-sorted and its thread first takes the GIL, and may xrun.
        self.warmup_left = int(warmup_blocks)
        self.warmup_xruns = 0
        self.processed_blocks = 0
        self.input_done = threading.Event()
        self.worker_error = None
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._work, name="avse-demo-worker", daemon=True)

    # -- audio thread ------------------------------------------------------------------------
    def callback(self, indata, outdata, frames, time_info, status) -> None:
        if self.warmup_left > 0:
            self.warmup_left -= 1
            self.warmup_xruns += bool(status.input_overflow or status.output_underflow)
            if outdata is not None:
                outdata.fill(0.0)
            return
        if status.input_overflow:
            self.input_overflows += 1
        if status.output_underflow:
            self.output_underflows += 1
        if status.input_overflow or status.output_underflow:
            self.xrun_blocks.append(self.blocks_in)
        now = time_info.currentTime
        if self.total_blocks is None or self.blocks_in < self.total_blocks:
            if self.source is not None:
                start = self.blocks_in * self.block
                block = np.zeros(frames, np.float32)
                piece = self.source[start:start + frames]
                block[:piece.size] = piece
                capture = now
                if start + frames >= self.source.size:
                    self.total_blocks = self.blocks_in + 1
            else:
                block = np.array(indata[:, 0], np.float32)
                capture = time_info.inputBufferAdcTime or now
            self.input_times.append(capture)
            self.inbox.put((self.blocks_in, block))
            self.blocks_in += 1
            if self.total_blocks is not None and self.blocks_in >= self.total_blocks:
                self.input_done.set()
        if outdata is not None:
            self._play(outdata, frames, time_info.outputBufferDacTime or now)

    def _play(self, outdata, frames, dac) -> None:
        index = self.blocks_out
        self.blocks_out += 1
        start = index * self.block - self.delay
        end = start + frames
        out = outdata[:, 0]
        out.fill(0.0)
        first = max(start, 0)
        available = min(end, self.ready)
        if available > first:
            size = self.ring.size
            positions = np.arange(first, available) % size
            out[first - start: available - start] = self.ring[positions]
        if end <= 0:
            return  # before the first processed sample: silence by design
        complete = self.ready >= end
        if not complete and self.input_done.is_set() and self.processed_blocks >= self.blocks_in:
            return  # the input has ended and everything computable was played: the tail is for the wav
        if not complete:
            self.late += 1
            self.late_blocks.append(index)
        self.output_times.append((index, dac, complete))

    # -- worker thread -----------------------------------------------------------------------
    def _work(self) -> None:
        try:
            while True:
                try:
                    index, block = self.inbox.get(timeout=0.05)
                except queue.Empty:
                    if self._stop.is_set():
                        return
                    continue
                if self.packet_loss is not None:
                    block = self.packet_loss.apply(block)
                if self.record_input is not None:
                    self.record_input.write(block)
                chunks = self.chunker.chunks
                started = time.perf_counter()
                output = self.chunker.push(block)
                if self.chunker.chunks > chunks:
                    self.compute.append((time.perf_counter() - started) / (self.chunker.chunks - chunks))
                    self.compute_blocks.append(index)
                self._append(output)
                self.processed_blocks = index + 1
        except BaseException as error:  # reported by the main thread
            self.worker_error = error

    def _append(self, output) -> None:
        if not len(output):
            return
        size = self.ring.size
        positions = np.arange(self.ready, self.ready + len(output)) % size
        self.ring[positions] = output
        self.ready += len(output)  # after the copy: the callback reads only below `ready`
        if self.output_wav is not None:
            self.output_wav.write(output)

    def start_worker(self) -> None:
        self._worker.start()

    def stop_worker(self) -> None:
        self._stop.set()
        self._worker.join()
        if self.worker_error is not None:
            raise self.worker_error

    def finish(self) -> None:
        """The rest of the input (the look-ahead of the last chunks), written but not played."""
        tail = self.chunker.flush()
        if self.output_wav is not None:
            self.output_wav.write(tail)

    # -- figures -----------------------------------------------------------------------------
    def latencies(self) -> list:
        """End-to-end latency of every complete output block: playback time of its first sample minus
        the capture time of that sample."""
        values = []
        for index, dac, complete in self.output_times:
            sample = index * self.block - self.delay
            if not complete or sample < 0:
                continue
            source_block, offset = divmod(sample, self.block)
            if source_block >= len(self.input_times):
                continue
            values.append(dac - (self.input_times[source_block] + offset / SAMPLE_RATE))
        return values


def stats(values, scale=1.0):
    """Mean, max, min and count of ``values * scale`` (``None`` s when empty), for the report."""
    if not values:
        return {"mean": None, "max": None, "min": None, "count": 0}
    array = np.asarray(values, np.float64) * scale
    return {"mean": float(array.mean()), "max": float(array.max()), "min": float(array.min()),
            "count": int(array.size)}


def open_stream(sd, engine, input_device, output_device, block: int, from_file: bool, playback: bool):
    """The PortAudio stream feeding ``engine.callback``: output only for a file source, input only
    without playback, duplex otherwise; a refused device is one line."""
    try:
        if from_file:
            return sd.OutputStream(samplerate=SAMPLE_RATE, blocksize=block, device=output_device, channels=1,
                                   dtype="float32",
                                   callback=lambda out, frames, info, status: engine.callback(
                                       None, out, frames, info, status))
        if not playback:
            return sd.InputStream(samplerate=SAMPLE_RATE, blocksize=block, device=input_device, channels=1,
                                  dtype="float32",
                                  callback=lambda data, frames, info, status: engine.callback(
                                      data, None, frames, info, status))
        return sd.Stream(samplerate=SAMPLE_RATE, blocksize=block, device=(input_device, output_device),
                         channels=1, dtype="float32", callback=engine.callback)
    except (sd.PortAudioError, ValueError) as error:
        raise UserInputError(f"cannot open the audio stream: {str(error).splitlines()[0]}; check the devices "
                             "with avse demo --list-devices") from None


def wait_until_done(engine, stream, block: int, delay: int, playing: bool) -> None:
    """Until the input is complete, processed and (when playing) played out, or the stream stops."""
    while True:
        time.sleep(0.05)
        if engine.worker_error is not None or not stream.active:
            return
        if engine.input_done.is_set() and engine.processed_blocks >= engine.blocks_in:
            if not playing or engine.blocks_out * block - delay >= engine.ready:
                return


__all__ = [
    "StreamEngine",
    "WavSink",
    "check_device",
    "import_sounddevice",
    "list_devices",
    "name_jack_client",
    "open_stream",
    "parse_device",
    "realtime_priority",
    "stats",
    "wait_until_done",
]
