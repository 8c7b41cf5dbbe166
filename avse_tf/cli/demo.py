"""``avse demo``: the live demo. Microphone audio streams through a model block by block (PortAudio,
through the ``sounddevice`` package) and is played back and/or written to a wav.

* Inpainting models (``a_blstm``, ``a_blstm_mtl``; the AV ones with ``--video``): dropped packets,
  i.e. runs of digital silence in the input or packets dropped on purpose with ``--drop_rate``, are
  the gaps the model fills.
* Enhancement models (``vl2m``, ``av_concat_mask``, ``av_concat_spec``): the speaker's landmarks come
  from a camera (``--video 0``) or a face video / landmark TXT (``--video FILE``, frame 0 at the
  stream's start).

The models are bidirectional, so they run on overlapping chunks with a stated look-ahead
(:mod:`avse_tf.streaming`). The stream has a fixed delay: the chunk being filled, the look-ahead and
one chunk of compute time (``--compute_ms``); a chunk that is not ready in time is a late block.
At the end the command prints the measured end-to-end latency (from PortAudio's capture and
playback timestamps) and the dropped blocks (input overflows, output underflows, late blocks).

``sounddevice`` is imported only here: ``pip install "avse_tf[demo]"`` plus the PortAudio library
(``apt-get install libportaudio2``, ``brew install portaudio``).
"""

from __future__ import annotations

import json
import math
import os
import queue
import sys
import threading
import time

import numpy as np

from avse_tf.errors import UserInputError

SAMPLE_RATE = 16000
CLIENT_NAME = b"avse-demo"
INSTALL_HINT = ('the live demo needs the sounddevice package and the PortAudio library: pip install "avse_tf[demo]" '
                "and apt-get install libportaudio2 (macOS: brew install portaudio)")


def register(subparsers) -> None:
    demo = subparsers.add_parser(
        "demo", help="live demo: stream a microphone through an inpainting or enhancement model (PortAudio)",
        description="Stream audio from an input device (or --input-wav) through a model, chunk by chunk with a "
                    "fixed look-ahead, and play the result (and/or write --output-wav). Prints the measured "
                    "end-to-end latency and the dropped blocks at the end. Needs pip install \"avse_tf[demo]\" "
                    "and the PortAudio library.")
    demo.add_argument("--model", help="a .keras checkpoint or an experiment folder (its normalisation.npz beside it)")
    demo.add_argument("--list-devices", "--list_devices", dest="list_devices", action="store_true",
                      help="list the audio devices and exit")
    demo.add_argument("--input-device", "--input_device", dest="input_device", default=None,
                      help="input device number or name (see --list-devices; default: the system's)")
    demo.add_argument("--output-device", "--output_device", dest="output_device", default=None,
                      help="output device number or name (default: the system's)")
    demo.add_argument("--video", default=None,
                      help="landmarks for AV models: a camera number (0) or a face video / landmark TXT file")
    demo.add_argument("--output-wav", "--output_wav", dest="output_wav", default=None,
                      help="write the processed stream (32-bit float wav, sample n = input sample n) here")
    demo.add_argument("--input-wav", "--input_wav", dest="input_wav", default=None,
                      help="stream this file instead of the microphone (paced by the output device's clock)")
    demo.add_argument("--record-input", "--record_input", dest="record_input", default=None,
                      help="also write the input the model saw (after --drop_rate) as a 32-bit float wav")
    demo.add_argument("--no-playback", "--no_playback", dest="no_playback", action="store_true",
                      help="open no output device (write --output-wav only)")
    demo.add_argument("--duration", type=float, default=None,
                      help="seconds to stream (default: until Ctrl-C or the end of --input-wav)")
    demo.add_argument("--chunk_ms", type=float, default=96.0, help="output per model call = audio block (default 96)")
    demo.add_argument("--lookahead_ms", type=float, default=96.0,
                      help="audio after a chunk the model sees (rounded down to frames; default 96)")
    demo.add_argument("--context_ms", type=float, default=480.0, help="audio before a chunk the model sees (480)")
    demo.add_argument("--compute_ms", type=float, default=None,
                      help="time a chunk may take to compute (default: one chunk); adds to the latency")
    demo.add_argument("--drop_rate", type=float, default=0.0,
                      help="inpainting: drop this fraction of --packet_ms packets of the input (simulated loss)")
    demo.add_argument("--packet_ms", type=float, default=20.0, help="packet length for --drop_rate (>= 20 ms)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the simulated packet loss")
    demo.add_argument("--max_gap_ms", type=float, default=480.0,
                      help="inpainting: fill at most this much of a silent run (longer silence stays silent)")
    demo.add_argument("--griffin_lim_iterations", type=int, default=32, help="inpainting: phase iterations (32)")
    demo.add_argument("--norm_file", default=None, help="normalisation statistics (default: beside --model)")
    demo.add_argument("--shape_predictor", default=None, help="dlib 68-point model for --video")
    demo.add_argument("--threads", type=int, default=1, help="TensorFlow threads (default 1: leave the audio a core)")
    demo.add_argument("--realtime", action="store_true",
                      help="run the model's threads at real-time (round-robin) priority 5 where allowed (root or an "
                           "rtprio limit), below the audio server's threads, so other jobs cannot starve the stream")
    demo.add_argument("--warmup_blocks", type=int, default=8,
                      help="blocks played as silence and not counted when the stream opens (default 8: the "
                           "audio server re-plans its graph and the callback thread starts up)")
    demo.add_argument("--report", default=None, help="write the run's figures as JSON here")
    demo.set_defaults(func=run_demo)


# ----------------------------------------------------------------------------------------------
# PortAudio

def import_sounddevice():
    """``sounddevice``, or one line saying what to install."""
    try:
        import sounddevice
    except (ImportError, OSError):
        raise UserInputError(INSTALL_HINT) from None
    _name_jack_client(sounddevice)
    return sounddevice


def _name_jack_client(sd, name: bytes = CLIENT_NAME) -> None:
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


def _device(value):
    if value is None:
        return None
    text = str(value).strip()
    return int(text) if text.lstrip("-").isdigit() else text


def _check_device(sd, device, kind: str) -> str:
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


def _realtime_priority(wanted: bool):
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

class _WavSink:
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
    """Audio callback + worker thread around a :class:`avse_tf.streaming.Chunker`.

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


def _stats(values, scale=1.0):
    if not values:
        return {"mean": None, "max": None, "min": None, "count": 0}
    array = np.asarray(values, np.float64) * scale
    return {"mean": float(array.mean()), "max": float(array.max()), "min": float(array.min()),
            "count": int(array.size)}


# ----------------------------------------------------------------------------------------------
# The command

def run_demo(args) -> int:
    if not args.list_devices:
        if not args.model:
            raise UserInputError("--model is required (a .keras checkpoint or an experiment folder); "
                                 "or use --list-devices")
        if not os.path.exists(args.model):
            raise UserInputError(f"--model {args.model} not found; give a .keras file or an experiment folder")
        if args.input_wav and not os.path.isfile(args.input_wav):
            raise UserInputError(f"--input-wav {args.input_wav} not found; check the path")
    sd = import_sounddevice()
    if args.list_devices:
        return list_devices(sd)
    if args.input_wav and args.no_playback:
        raise UserInputError("--input-wav with --no-playback leaves nothing to stream; drop one of them")
    if args.duration is not None and not (math.isfinite(args.duration) and args.duration > 0):
        raise UserInputError(f"--duration must be a positive number of seconds, got {args.duration}")
    if args.packet_ms < 20:
        raise UserInputError(f"--packet_ms {args.packet_ms:g}: dropped packets are found as >= 20 ms of digital "
                             "silence; use --packet_ms 20 or more")
    if args.griffin_lim_iterations < 0 or args.threads < 1 or args.warmup_blocks < 0:
        raise UserInputError("--griffin_lim_iterations and --warmup_blocks must be >= 0 and --threads >= 1")
    input_device, output_device = _device(args.input_device), _device(args.output_device)
    input_name = None if args.input_wav else _check_device(sd, input_device, "input")
    output_name = None if args.no_playback else _check_device(sd, output_device, "output")
    source = None
    if args.input_wav:
        from avse_tf.audio.io import load_audio

        source = load_audio(args.input_wav, SAMPLE_RATE)

    realtime = _realtime_priority(args.realtime)  # before TensorFlow starts its threads: they inherit it
    from avse_tf.cli.main import import_tensorflow_quietly

    tf = import_tensorflow_quietly()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    except RuntimeError:
        pass
    from avse_tf import streaming

    landmarks = streaming.landmark_source(args.video, args.shape_predictor)
    processor = streaming.load_processor(args.model, landmarks, args.norm_file, args.griffin_lim_iterations,
                                         args.max_gap_ms if args.max_gap_ms > 0 else None)
    plan = streaming.ChunkPlan.from_ms(processor.config, args.chunk_ms, args.lookahead_ms, args.context_ms)
    processor.check_plan(plan)
    block = plan.chunk_samples
    compute = block if args.compute_ms is None else int(round(args.compute_ms * SAMPLE_RATE / 1000))
    delay = plan.delay_samples(block, compute)
    inpainting = isinstance(processor, streaming.InpaintingProcessor)
    packet_loss = None
    if args.drop_rate:
        if not inpainting:
            raise UserInputError("--drop_rate simulates lost packets for inpainting models; this is an enhancement "
                                 "model")
        packet_loss = streaming.PacketLoss(args.drop_rate, int(round(args.packet_ms * SAMPLE_RATE / 1000)), args.seed)
    total_blocks = math.ceil(args.duration * SAMPLE_RATE / block) if args.duration else None
    if source is not None:
        total_blocks = min(total_blocks or math.inf, max(1, math.ceil(source.size / block)))
    print(f"avse demo: {processor.architecture} ({args.model}); {plan.describe()}"
          + ("; real-time priority" if realtime else "; real-time priority not allowed here" if args.realtime else ""),
          flush=True)
    streaming.warmup(processor, plan)

    output_wav = _WavSink(args.output_wav) if args.output_wav else None
    record_input = _WavSink(args.record_input) if args.record_input else None
    sinks = [sink for sink in (output_wav, record_input) if sink is not None]
    engine = StreamEngine(streaming.Chunker(plan, processor), plan, delay, packet_loss, source, output_wav,
                          record_input, total_blocks, args.warmup_blocks)
    interrupted = False
    try:
        stream = _open_stream(sd, args, engine, input_device, output_device, block)
        sys.setswitchinterval(0.001)  # the audio callback waits for the GIL at most ~1 ms
        engine.start_worker()
        started = time.monotonic()
        if hasattr(landmarks, "start"):
            landmarks.start()
        with stream:
            device_latency = stream.latency
            print(f"streaming {input_name or args.input_wav} -> {output_name or args.output_wav}; "
                  f"{'Ctrl-C to stop' if total_blocks is None else f'{total_blocks * block / SAMPLE_RATE:.1f} s'}",
                  flush=True)
            try:
                _wait(engine, stream, block, delay, not args.no_playback)
            except KeyboardInterrupt:
                interrupted = True
        elapsed = time.monotonic() - started
        if hasattr(landmarks, "stop"):
            landmarks.stop()
        engine.total_blocks = engine.blocks_in
        engine.stop_worker()
        engine.finish()
        for sink in sinks:
            sink.commit()
    except BaseException:
        for sink in sinks:
            sink.discard()
        raise
    report = _report(args, engine, processor, plan, delay, compute, device_latency, packet_loss, elapsed,
                     input_name, output_name, interrupted, realtime)
    _print_report(report)
    if args.report:
        from avse_tf.utils import atomic_write_text

        atomic_write_text(args.report, json.dumps(report, indent=2) + "\n")
    return 0


def _open_stream(sd, args, engine, input_device, output_device, block):
    try:
        if args.input_wav:
            return sd.OutputStream(samplerate=SAMPLE_RATE, blocksize=block, device=output_device, channels=1,
                                   dtype="float32",
                                   callback=lambda out, frames, info, status: engine.callback(
                                       None, out, frames, info, status))
        if args.no_playback:
            return sd.InputStream(samplerate=SAMPLE_RATE, blocksize=block, device=input_device, channels=1,
                                  dtype="float32",
                                  callback=lambda data, frames, info, status: engine.callback(
                                      data, None, frames, info, status))
        return sd.Stream(samplerate=SAMPLE_RATE, blocksize=block, device=(input_device, output_device),
                         channels=1, dtype="float32", callback=engine.callback)
    except (sd.PortAudioError, ValueError) as error:
        raise UserInputError(f"cannot open the audio stream: {str(error).splitlines()[0]}; check the devices "
                             "with avse demo --list-devices") from None


def _wait(engine, stream, block: int, delay: int, playing: bool) -> None:
    """Until the input is complete, processed and (when playing) played out, or the stream stops."""
    while True:
        time.sleep(0.05)
        if engine.worker_error is not None or not stream.active:
            return
        if engine.input_done.is_set() and engine.processed_blocks >= engine.blocks_in:
            if not playing or engine.blocks_out * block - delay >= engine.ready:
                return


def _report(args, engine, processor, plan, delay, compute, device_latency, packet_loss, elapsed, input_name,
            output_name, interrupted, realtime) -> dict:
    rate = SAMPLE_RATE
    block = plan.chunk_samples
    # PortAudio's own figure for the host's buffering, where it gives a sane one (JACK's input latency
    # can come back as ~5e5 s).
    host = [value for value in (device_latency if isinstance(device_latency, (tuple, list)) else (device_latency,))
            if isinstance(value, (int, float)) and 0 <= value < 10]
    host_latency = float(sum(host))
    # A callback receives a complete block (its first sample is one block old) and its output block is
    # played after it: up to one more block of buffering, then the host's latency.
    device = 2 * block / rate + host_latency
    bound = delay / rate + device
    latencies = engine.latencies()
    dropped = engine.input_overflows + engine.output_underflows + engine.late
    compute_stats = _stats(engine.compute, 1000.0)
    return {
        "model": processor.architecture,
        "model_path": os.fspath(args.model),
        "input": input_name or args.input_wav,
        "output": output_name,
        "sample_rate": rate,
        "interrupted": interrupted,
        "realtime_priority": realtime,
        "streamed_seconds": engine.blocks_in * block / rate,
        "wall_seconds": elapsed,
        "plan": {"chunk_ms": block * 1000 / rate, "chunk_frames": plan.chunk_frames,
                 "lookahead_ms": plan.lookahead_samples * 1000 / rate, "lookahead_frames": plan.lookahead_frames,
                 "context_ms": plan.context_frames * plan.hop * 1000 / rate, "context_frames": plan.context_frames,
                 "stft": plan.config.name, "block_samples": block},
        "latency": {"delay_ms": delay * 1000 / rate, "compute_allowance_ms": compute * 1000 / rate,
                    "device_ms": device * 1000, "host_ms": host_latency * 1000, "bound_ms": bound * 1000,
                    "measured_ms": _stats(latencies, 1000.0),
                    "measured_from": "PortAudio capture (ADC) and playback (DAC) times" if not args.no_playback
                    else None},
        "dropped_blocks": {"total": dropped, "input_overflow": engine.input_overflows,
                           "output_underflow": engine.output_underflows, "late": engine.late,
                           "late_blocks": engine.late_blocks[:100], "xrun_blocks": engine.xrun_blocks[:100]},
        "warmup": {"blocks": args.warmup_blocks, "xruns": engine.warmup_xruns},
        "blocks": {"in": engine.blocks_in, "out": len(engine.output_times)},
        "compute_ms_per_chunk": compute_stats,
        "chunks": engine.chunker.chunks,
        "model_calls": processor.model_calls,
        "inpainted_frames": processor.gap_frames,
        "packets_dropped": packet_loss.dropped if packet_loss else 0,
        "output_wav": args.output_wav,
        "record_input": args.record_input,
    }


def _print_report(report) -> None:
    latency, dropped = report["latency"], report["dropped_blocks"]
    measured = latency["measured_ms"]
    plan = report["plan"]
    print(f"streamed {report['streamed_seconds']:.1f} s in {report['blocks']['in']} blocks of "
          f"{plan['chunk_ms']:g} ms{' (interrupted)' if report['interrupted'] else ''}")
    print(f"dropped blocks: {dropped['total']} (input overflows {dropped['input_overflow']}, output underflows "
          f"{dropped['output_underflow']}, late {dropped['late']})")
    if measured["count"]:
        print(f"end-to-end latency: mean {measured['mean']:.1f} ms, max {measured['max']:.1f} ms; stated <= "
              f"{latency['bound_ms']:.0f} ms = look-ahead {plan['lookahead_ms']:g} + compute "
              f"{latency['compute_allowance_ms']:g} ms in whole blocks ({latency['delay_ms']:g}) + the block being "
              f"filled ({plan['chunk_ms']:g}) + output buffering (<= {plan['chunk_ms']:g}) + host "
              f"({latency['host_ms']:.0f})")
    else:
        print(f"end-to-end latency: not measured (nothing played); stated {latency['bound_ms']:.0f} ms")
    compute = report["compute_ms_per_chunk"]
    if compute["count"]:
        print(f"compute per chunk: mean {compute['mean']:.1f} ms, max {compute['max']:.1f} ms "
              f"({report['model_calls']} model calls in {report['chunks']} chunks)")
    if report["model"] in ("a_blstm", "a_blstm_mtl", "av_blstm", "av_blstm_mtl"):
        print(f"inpainted frames: {report['inpainted_frames']}; simulated lost packets: {report['packets_dropped']}")
    for key, label in (("output_wav", "output"), ("record_input", "input")):
        if report[key]:
            print(f"{label} written: {report[key]}")
