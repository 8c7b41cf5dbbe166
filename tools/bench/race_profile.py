#!/usr/bin/env python
"""Where the time goes in one row of the PyTorch race, in both frameworks (issue 22, item 3).

    python tools/bench/race_profile.py [--model av_concat_mask] [--precisions float32,bfloat16]
                                       [--frames 302] [--threads 2] [--steps 5]

Batch-1 inference of a BLSTM model at its paper preset, as ``pytorch_race.py`` times it. avse_tf:
the whole forward pass as the library runs it (a plain ``tf.function``), and, on the same weights
and shapes, the two parts of every BLSTM layer timed apart: the input projections (both
directions, one product each, in the graph) and the recurrences (each direction one XLA-compiled
loop, both directions at once); the rest (dense heads, masks, transposes) is the difference, less
what the parts overlap in the whole pass (the graph runs one direction's projection while the
other direction's loop runs), so it can be negative. PyTorch: ``torch.profiler`` over ``--steps`` calls of its twin, the operators
with the most self time, per call. Both in one run, each framework with ``--threads`` threads.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from tools.bench.pytorch_race import (  # noqa: E402
    TorchWorker, best_of, blstm_cases, keras_runner, product_layers, start_threads, torch_missing)


def blstm_parts(model, frames: int, precision: str, steps: int) -> dict:
    """Seconds of all BLSTM layers' input projections and of their recurrences, timed apart."""
    import tensorflow as tf

    from avse_tf.layers.lstm_sequence import compiled_lstm_inference
    from avse_tf.layers.recurrent import StackedBLSTM, _project

    dtype = tf.bfloat16 if precision == "bfloat16" else tf.float32
    stacks = [layer for layer in model._flatten_layers(include_self=False, recursive=False)
              if isinstance(layer, StackedBLSTM)]
    layers = [(blstm.forward_layer.cell, blstm.backward_layer.cell) for stack in stacks for blstm in stack.blstms]
    inputs = [tf.cast(tf.random.normal([1, frames, int(forward.kernel.shape[0])]), dtype) for forward, _ in layers]
    # the recurrences run in float32 under mixed precision too (compiled_bidirectional_lstm)
    projected = [tf.random.normal([frames, 1, 4 * forward.units]) for forward, _ in layers]
    valid = tf.ones([frames, 1, 1])

    @tf.function
    def projections():
        return [_project(x, cell, dtype) for x, cells in zip(inputs, layers) for cell in cells]

    @tf.function
    def recurrences():
        outputs = []
        for sequence, cells in zip(projected, layers):
            zeros = tf.zeros([1, cells[0].units])
            outputs += [compiled_lstm_inference(sequence, tf.cast(tf.cast(cell.recurrent_kernel.value, dtype),
                                                                  tf.float32), valid, zeros, zeros)[0]
                        for cell in cells]
        return outputs

    seconds = {}
    for name, function in (("projections", projections), ("recurrences", recurrences)):
        run = (lambda function=function: [value.numpy() for value in function()])
        run()
        seconds[name] = min(best_of(run, steps) for _ in range(2))
    seconds["layers"] = len(layers)
    return seconds


def profile(model_name: str, precision: str, frames: int, steps: int, worker) -> dict:
    import keras

    from avse_tf.systems import presets

    case = blstm_cases([model_name])[0]
    model = presets.from_preset(case.preset)
    keras.backend.clear_session()
    whole = keras_runner(case, precision, 1, frames, training=False)
    whole()
    total = min(best_of(whole, steps) for _ in range(2))
    parts = blstm_parts(model, frames, precision, steps)
    worker.ask(op="setup", layers=product_layers(model), precision=precision, batch=1, frames=frames, training=False)
    torch_total = worker.ask(op="time", steps=steps)["seconds"]
    torch_ops = worker.ask(op="profile", steps=steps)["ops"]
    return {"model": model_name, "precision": precision, "frames": frames, "avse_tf_s": total, "parts": parts,
            "pytorch_s": torch_total, "pytorch_ops": torch_ops}


def format_profile(result) -> str:
    total, parts = result["avse_tf_s"], result["parts"]
    rest = total - parts["projections"] - parts["recurrences"]
    lines = [f"### {result['model']}, {result['precision']}, batch 1, {result['frames']} frames",
             "", f"avse_tf {1e3 * total:.1f} ms, PyTorch {1e3 * result['pytorch_s']:.1f} ms "
             f"(PyTorch / avse_tf {result['pytorch_s'] / total:.2f})", "",
             "| avse_tf part | ms | share |", "| --- | --- | --- |"]
    for name, value in ((f"input projections, alone ({parts['layers']} layers x 2 directions, graph)",
                         parts["projections"]),
                        ("recurrences, alone (XLA loops, float32, 2 directions at once)", parts["recurrences"]),
                        ("the rest (heads, masks, transposes) less the parts' overlap", rest)):
        lines.append(f"| {name} | {1e3 * value:.1f} | {value / total:.0%} |")
    lines += ["", "| PyTorch operator (self time, under the profiler) | ms per call | share of the profiled time | "
              "calls per call |", "| --- | --- | --- | --- |"]
    for op in result["pytorch_ops"]:
        lines.append(f"| {op['name']} | {op['ms']:.2f} | {op['share']:.0%} | {op['calls']:g} |")
    return "\n".join(lines)


def torch_profile(runner, steps: int, top: int = 8) -> list:
    """The ``top`` operators by self CPU time over ``steps`` calls of ``runner``, per call."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profiler

    with torch_profiler(activities=[ProfilerActivity.CPU]) as profiler:
        for _ in range(steps):
            runner()
    rows = sorted(profiler.key_averages(), key=lambda row: row.self_cpu_time_total, reverse=True)
    total = sum(row.self_cpu_time_total for row in rows)
    return [{"name": row.key, "ms": row.self_cpu_time_total / 1e3 / steps, "calls": row.count / steps,
             "share": row.self_cpu_time_total / total} for row in rows[:top]]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="av_concat_mask")
    parser.add_argument("--precisions", default="float32,bfloat16")
    parser.add_argument("--frames", type=int, default=302, help="frames of the batch-1 clip (302: 3 s)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if torch_missing("nothing profiled"):
        return 0
    start_threads(args.threads)
    worker = TorchWorker(args.threads)
    results = []
    try:
        for precision in args.precisions.split(","):
            results.append(profile(args.model, precision, args.frames, args.steps, worker))
            print(format_profile(results[-1]) + "\n", flush=True)
    finally:
        worker.close()
    if args.json:
        from avse_tf.utils import atomic_write_text

        atomic_write_text(args.json, json.dumps(results, indent=1) + "\n")
    return 0 if all(math.isfinite(result["avse_tf_s"]) for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
