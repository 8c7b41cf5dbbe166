"""One run of the live demo, as ``avse demo`` starts it: microphone audio (or ``--input-wav``) streams
through a model block by block (PortAudio, :mod:`avse_tf.streaming.engine`) and is played back
and/or written to a wav.

The checkpoint's system supplies the processor (:mod:`avse_tf.streaming.processors`): models that
fill dropped packets (``uses_packet_loss``: inpainting) fill runs of digital silence in the input,
or packets dropped on purpose with ``--drop_rate``; models that need the speaker's landmarks take
them from a camera (``--video 0``) or a face video / landmark TXT (``--video FILE``, frame 0 at the
stream's start).

The models are bidirectional, so they run on overlapping chunks with a stated look-ahead
(:mod:`avse_tf.streaming.chunker`). The stream has a fixed delay: the chunk being filled, the
look-ahead and one chunk of compute time (``--compute_ms``); a chunk that is not ready in time is a
late block. At the end the run prints the measured end-to-end latency (from PortAudio's capture and
playback timestamps) and the dropped blocks (input overflows, output underflows, late blocks).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time

from avse_tf.constants import SAMPLE_RATE
from avse_tf.errors import UserInputError
from avse_tf.streaming.chunker import Chunker, ChunkPlan, warmup
from avse_tf.streaming.engine import (
    StreamEngine,
    WavSink,
    check_device,
    import_sounddevice,
    list_devices,
    open_stream,
    parse_device,
    realtime_priority,
    stats,
    wait_until_done,
)
from avse_tf.streaming.processors import load_processor
from avse_tf.streaming.sources import PacketLoss, landmark_source

# `avse demo` chunk plan when neither the flags nor the processor (its `default_plan_ms`) set one.
PLAN_DEFAULTS_MS = {"chunk_ms": 96.0, "lookahead_ms": 96.0, "context_ms": 480.0}


def run(args) -> int:
    """One live run with the ``avse demo`` flags (``args``: their argparse namespace); exit code."""
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
    input_device, output_device = parse_device(args.input_device), parse_device(args.output_device)
    input_name = None if args.input_wav else check_device(sd, input_device, "input")
    output_name = None if args.no_playback else check_device(sd, output_device, "output")
    source = None
    if args.input_wav:
        from avse_tf.audio.io import load_audio

        source = load_audio(args.input_wav, SAMPLE_RATE)

    realtime = realtime_priority(args.realtime)  # before TensorFlow starts its threads: they inherit it
    from avse_tf.cli.main import import_tensorflow_quietly

    tf = import_tensorflow_quietly()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    except RuntimeError:
        pass
    landmarks = landmark_source(args.video, args.shape_predictor)
    processor = load_processor(args.model, landmarks, args.norm_file, args.griffin_lim_iterations,
                               args.max_gap_ms if args.max_gap_ms > 0 else None)
    # The processor's own defaults (the denoiser needs more look-ahead than the BLSTMs), then the common ones.
    defaults = {**PLAN_DEFAULTS_MS, **getattr(processor, "default_plan_ms", {})}
    plan = ChunkPlan.from_ms(processor.config, *(defaults[name] if getattr(args, name) is None else getattr(args, name)
                                                 for name in ("chunk_ms", "lookahead_ms", "context_ms")))
    processor.check_plan(plan)
    block = plan.chunk_samples
    compute = block if args.compute_ms is None else int(round(args.compute_ms * SAMPLE_RATE / 1000))
    delay = plan.delay_samples(block, compute)
    fills_packets = getattr(processor, "uses_packet_loss", False)
    packet_loss = None
    if args.drop_rate:
        if not fills_packets:
            raise UserInputError(f"--drop_rate simulates lost packets for models that fill them (inpainting); "
                                 f"{processor.architecture} does not")
        packet_loss = PacketLoss(args.drop_rate, int(round(args.packet_ms * SAMPLE_RATE / 1000)), args.seed)
    total_blocks = math.ceil(args.duration * SAMPLE_RATE / block) if args.duration else None
    if source is not None:
        total_blocks = min(total_blocks or math.inf, max(1, math.ceil(source.size / block)))
    print(f"avse demo: {processor.architecture} ({args.model}); {plan.describe()}"
          + ("; real-time priority" if realtime else "; real-time priority not allowed here" if args.realtime else ""),
          flush=True)
    warmup(processor, plan)

    output_wav = WavSink(args.output_wav) if args.output_wav else None
    record_input = WavSink(args.record_input) if args.record_input else None
    sinks = [sink for sink in (output_wav, record_input) if sink is not None]
    engine = StreamEngine(Chunker(plan, processor), plan, delay, packet_loss, source, output_wav,
                          record_input, total_blocks, args.warmup_blocks)
    interrupted = False
    try:
        stream = open_stream(sd, engine, input_device, output_device, block, bool(args.input_wav),
                             not args.no_playback)
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
                wait_until_done(engine, stream, block, delay, not args.no_playback)
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
    _print_report(report, fills_packets)
    if args.report:
        from avse_tf.utils import atomic_write_text

        atomic_write_text(args.report, json.dumps(report, indent=2) + "\n")
    return 0


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
    compute_stats = stats(engine.compute, 1000.0)
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
                    "measured_ms": stats(latencies, 1000.0),
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


def _print_report(report, fills_packets: bool) -> None:
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
    if fills_packets:
        print(f"inpainted frames: {report['inpainted_frames']}; simulated lost packets: {report['packets_dropped']}")
    for key, label in (("output_wav", "output"), ("record_input", "input")):
        if report[key]:
            print(f"{label} written: {report[key]}")


__all__ = ["run"]
