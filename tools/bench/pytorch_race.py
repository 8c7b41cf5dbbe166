#!/usr/bin/env python
"""avse_tf against the same networks written plainly in PyTorch, side by side in one run.

    python tools/bench/pytorch_race.py [--models av_concat_mask,a_blstm] [--threads 2] [--steps 3]
                                       [--precisions float32,bfloat16] [--json race.json]

For every BLSTM model of the registered systems' bench hooks (``BenchCase.blstm``), at its paper
preset: the avse_tf model as the library trains and runs it, and a PyTorch twin with the same
matrix products (``nn.LSTM(..., bidirectional=True)`` per BLSTM stack, ``nn.Linear`` per Dense,
sigmoid heads, MSE, Adam), checked by equal analytical FLOPs (``flops.py``). Rows:

* training step, batch 32 over the whole 3 s clip, and batch 64 over 100 frames: avse_tf's
  ``train_on_batch`` (the library's loss, Adam) against the twin's forward + backward + Adam step;
* inference, batch 1: a 3 s clip and 100 frames; avse_tf as the library runs it (a plain
  ``tf.function``; ``AVSE_BENCH_INFERENCE=xla``: the whole pass XLA-compiled) against the twin under
  ``torch.inference_mode()``;
* (``--cases 4``) the live demo's model call: batch 1 of one chunk at ``avse demo``'s default plan,
  avse_tf through :func:`avse_tf.streaming.compiled_model` as the demo runs it (the demo's default
  is one thread: ``--threads 1``);
* per precision: ``float32``; ``bfloat16`` is Keras' ``mixed_bfloat16`` policy against
  ``torch.autocast("cpu", torch.bfloat16)`` (bfloat16 products, float32 weights in both).

Both frameworks get ``--threads`` threads. Each figure is the best of ``--steps`` timed calls after
a warm-up, taken in two rounds (avse_tf, then PyTorch, then both again), so a slow spell of the
shared machine does not favour one side. The ratio column is PyTorch's time over avse_tf's: above
1, avse_tf is faster. torch is a bench-only extra (``pip install torch``); without it the script
says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

ROUNDS = 2
XLA_TRAINING = os.environ.get("AVSE_BENCH_XLA_TRAINING") == "1"
INFERENCE_XLA = os.environ.get("AVSE_BENCH_INFERENCE", "graph") == "xla"


def blstm_cases(names=None) -> list:
    from avse_tf.systems import all_systems

    cases = [case for system in all_systems() if system.bench
             for case in system.resolve(system.bench)() if getattr(case, "blstm", False)]
    if names:
        known = {case.model: case for case in cases}
        missing = sorted(set(names) - set(known))
        if missing:
            raise SystemExit(f"unknown BLSTM model(s) {', '.join(missing)}; choose from {', '.join(known)}")
        cases = [known[name] for name in names]
    return cases


def product_layers(model) -> list:
    """``[("blstm", inputs, units, layers) | ("dense", inputs, units)]`` in the model's order."""
    import keras

    from avse_tf.layers.recurrent import StackedBLSTM

    found = []
    for layer in model._flatten_layers(include_self=False, recursive=False):
        if isinstance(layer, StackedBLSTM):
            inputs = int(layer.blstms[0].forward_layer.cell.kernel.shape[0])
            found.append(("blstm", inputs, layer.units, layer.num_layers))
        elif isinstance(layer, keras.layers.Dense):
            found.append(("dense", int(layer.kernel.shape[0]), int(layer.kernel.shape[1])))
    return found


def layers_flops(layers, frames: int) -> int:
    """Forward FLOPs of one example (``flops.py``'s conventions) of ``product_layers``."""
    total = 0
    for kind, inputs, units, *rest in layers:
        if kind == "dense":
            total += frames * 2 * inputs * units
        else:
            for index in range(rest[0]):
                width = inputs if index == 0 else 2 * units
                total += 2 * frames * 2 * 4 * units * (width + units)
    return total


def torch_twin(layers):
    """The PyTorch network of ``layers``: each layer reads the newest unread output of its width
    (a chain, or parallel branches as in the ``_ref`` models), or a model input of that width."""
    import torch
    from torch import nn

    class Twin(nn.Module):
        def __init__(self):
            super().__init__()
            self.parts = nn.ModuleList(
                nn.LSTM(inputs, units, num_layers=rest[0], bidirectional=True, batch_first=True) if kind == "blstm"
                else nn.Linear(inputs, units) for kind, inputs, units, *rest in layers)
            self.widths = [inputs for _, inputs, *_ in layers]

        def make_inputs(self, batch, frames, generator):
            unread, needed = [], []
            for (kind, inputs, units, *_) in layers:
                if inputs in unread:
                    unread.remove(inputs)
                else:
                    needed.append(inputs)
                unread.append(2 * units if kind == "blstm" else units)
            return [torch.randn(batch, frames, width, generator=generator) for width in needed]

        def forward(self, inputs):
            fresh, unread = list(inputs), []
            for part, width in zip(self.parts, self.widths):
                match = [index for index, value in enumerate(unread) if value.shape[-1] == width]
                source = unread.pop(match[-1]) if match else fresh.pop(0)
                output = part(source)[0] if isinstance(part, nn.LSTM) else torch.sigmoid(part(source))
                unread.append(output)
            return unread  # the heads (and any output nothing reads): all enter the loss

    return Twin()


def torch_missing(what: str = "no PyTorch column; nothing run") -> bool:
    """Whether torch is not installed (then one line says so): it is a bench-only extra."""
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        return False
    print(f"PyTorch is not installed (pip install torch, a bench-only extra): {what}")
    return True


def start_threads(threads: int) -> None:
    """TensorFlow's intra- and inter-op threads, before anything runs (the twins get as many)."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def best_of(function, steps: int) -> float:
    best = math.inf
    for _ in range(steps):
        begin = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - begin)
    return best


def keras_runner(case, precision, batch, frames, training, streaming=False):
    """A no-argument callable running one avse_tf step (``training``) or forward pass (``streaming``:
    the live demo's model call, :func:`avse_tf.streaming.compiled_model`)."""
    import keras
    import numpy as np
    import tensorflow as tf

    from avse_tf.systems import presets

    keras.mixed_precision.set_global_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    try:
        model = presets.from_preset(case.preset)
        inputs, targets, weights = case.synthetic_batch(model, batch, frames, np.random.default_rng(0))
        if training:
            case.compile_for_training(model)
            if XLA_TRAINING:
                model.jit_compile = True
            return lambda: model.train_on_batch(inputs, targets, sample_weight=weights)
        constants = {key: tf.constant(value) for key, value in inputs.items()}
        if streaming:
            from avse_tf.streaming import compiled_model

            forward = compiled_model(model)
            return lambda: [value.numpy() for value in tf.nest.flatten(forward(constants))]
        forward = tf.function(lambda values: model(values, training=False), jit_compile=INFERENCE_XLA,
                              reduce_retracing=True)
        return lambda: [value.numpy() for value in tf.nest.flatten(forward(constants))]
    finally:
        keras.mixed_precision.set_global_policy("float32")


def torch_runner(layers, precision, batch, frames, training):
    import contextlib

    import torch

    generator = torch.Generator().manual_seed(0)
    twin = torch_twin(layers)
    inputs = twin.make_inputs(batch, frames, generator)

    def precision_scope():
        if precision == "bfloat16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    if not training:
        twin.eval()

        def forward():
            with torch.inference_mode(), precision_scope():
                return twin(inputs)

        return forward
    with torch.no_grad():
        targets = [torch.rand_like(output.float()) for output in twin(inputs)]
    optimizer = torch.optim.Adam(twin.parameters(), lr=1e-3)

    def step():
        optimizer.zero_grad(set_to_none=True)
        with precision_scope():
            outputs = twin(inputs)
        loss = sum(torch.nn.functional.mse_loss(output.float(), target) for output, target in zip(outputs, targets))
        loss.backward()
        optimizer.step()

    return step


class TorchWorker:
    """PyTorch in a child process (``--worker``): TensorFlow and PyTorch in one process crash (their
    bundled native libraries clash), and a separate process keeps each framework's thread pool its own.
    One JSON line per request and reply; between requests the child waits on its input."""

    def __init__(self, threads, script=__file__):
        import subprocess

        self.process = subprocess.Popen([sys.executable, os.path.abspath(script), "--worker", "--threads",
                                         str(threads)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, **request):
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        reply = self.process.stdout.readline()
        if not reply:
            raise RuntimeError(f"the PyTorch worker ended (exit {self.process.wait()})")
        return json.loads(reply)

    def close(self):
        self.process.stdin.close()
        self.process.wait()


def serve(threads) -> int:
    """The ``--worker`` loop: ``setup`` builds and warms a runner; ``time`` returns its best of
    ``steps``; ``profile`` its operators' self times (``race_profile.py``)."""
    import torch

    torch.set_num_threads(threads)
    runner = None
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "setup":
            runner = torch_runner(request["layers"], request["precision"], request["batch"], request["frames"],
                                  request["training"])
            runner()
            reply = {"version": torch.__version__}
        elif request["op"] == "profile":  # race_profile.py: the operators' self times
            from tools.bench.race_profile import torch_profile

            reply = {"ops": torch_profile(runner, request["steps"])}
        else:
            reply = {"seconds": best_of(runner, request["steps"])}
        print(json.dumps(reply), flush=True)
    return 0


def race(worker, case, precision, label, batch, frames, training, steps, streaming=False) -> dict:
    import keras

    from avse_tf.systems import presets
    from tools.bench import flops

    model = presets.from_preset(case.preset)
    layers = product_layers(model)
    model_flops = flops.forward_flops(model, frames)["total"]
    twin_flops = layers_flops(layers, frames)
    keras.backend.clear_session()
    ours = keras_runner(case, precision, batch, frames, training, streaming)
    ours()  # warm-up: tracing, XLA compilation, allocation
    worker.ask(op="setup", layers=layers, precision=precision, batch=batch, frames=frames, training=training)
    seconds = {"avse_tf": math.inf, "pytorch": math.inf}
    for _ in range(ROUNDS):
        seconds["avse_tf"] = min(seconds["avse_tf"], best_of(ours, steps))
        seconds["pytorch"] = min(seconds["pytorch"], worker.ask(op="time", steps=steps)["seconds"])
    return {"model": case.model, "preset": case.preset, "precision": precision, "case": label, "batch": batch,
            "frames": frames, "training": training, "avse_tf_s": seconds["avse_tf"], "pytorch_s": seconds["pytorch"],
            "pytorch_over_avse_tf": seconds["pytorch"] / seconds["avse_tf"],
            "same_flops": model_flops == twin_flops, "forward_flops": model_flops, "twin_flops": twin_flops}


def demo_chunk_frames(case) -> int:
    """Frames of one model call of ``avse demo`` at its default plan (96 ms blocks, 96 ms look-ahead,
    480 ms context, as ``demo_margin.py`` measures it): context + block + look-ahead."""
    from avse_tf import streaming
    from avse_tf.systems import presets
    from tools.bench.demo_margin import _landmarks

    processor = case.demo_processor(presets.from_preset(case.preset), _landmarks())
    plan = streaming.ChunkPlan.from_ms(processor.config, 96, 96, 480)
    return plan.context_frames + plan.chunk_frames + plan.lookahead_frames


def cases_of(case) -> list:
    """``(label, batch, frames, training, streaming)`` per row index (``--cases``)."""
    clip = case.clip_frames
    rows = [(f"training step, batch 32, {clip} frames (whole 3 s clips)", 32, clip, True, False),
            ("training step, batch 64, 100 frames", 64, 100, True, False),
            (f"inference, batch 1, 3 s clip ({clip} frames)", 1, clip, False, False),
            ("inference, batch 1, 100 frames", 1, 100, False, False)]
    if case.demo_processor is not None:
        frames = demo_chunk_frames(case)
        rows.append((f"live demo chunk, batch 1, {frames} frames (96 ms block + 96 ms look-ahead + 480 ms "
                     "context), as the demo runs it", 1, frames, False, True))
    return rows


def format_table(rows, threads) -> str:
    lines = ["| model | precision | case | avse_tf | PyTorch | PyTorch / avse_tf | same FLOPs |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        unit, scale = ("s", 1.0) if row["training"] else ("ms", 1000.0)
        lines.append(f"| {row['model']} | {row['precision']} | {row['case']} | {row['avse_tf_s'] * scale:.3g} {unit} | "
                     f"{row['pytorch_s'] * scale:.3g} {unit} | {row['pytorch_over_avse_tf']:.2f} | "
                     f"{'yes' if row['same_flops'] else 'NO'} |")
    lines.append(f"\n{threads} threads each; ratio above 1: avse_tf faster.")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="av_concat_mask,a_blstm",
                        help="comma-separated BLSTM models, or 'all' (default: av_concat_mask,a_blstm)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3, help="timed calls per round (best taken)")
    parser.add_argument("--precisions", default="float32,bfloat16")
    parser.add_argument("--cases", default="0,1,2,3",
                        help="which rows of each model (0-4, see the doc; 4, the live demo's chunk, is best "
                             "measured with --threads 1, the demo's default)")
    parser.add_argument("--json", default=None, help="also write the rows here")
    parser.add_argument("--per_direction", action="store_true",
                        help="avse_tf's BLSTM inference in Keras' own loops, one per direction (no fused or "
                             "compiled loop): the levers' effect")
    parser.add_argument("--training_recurrence", default="compiled", choices=("compiled", "graph", "autodiff"),
                        help="avse_tf's LSTM training loop (avse_tf.layers.recurrent.TRAINING_RECURRENCE): the "
                             "hand-written backward pass XLA-compiled (the library's default) or in the graph, or "
                             "Keras' loop differentiated by TensorFlow: the lever's effect")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return serve(args.threads)
    if torch_missing():
        return 0
    import tensorflow as tf

    from avse_tf.layers import recurrent

    recurrent.FUSE_DIRECTIONS = recurrent.COMPILE_INFERENCE_LOOPS = not args.per_direction
    recurrent.TRAINING_RECURRENCE = args.training_recurrence
    start_threads(args.threads)
    worker = TorchWorker(args.threads)
    cases = blstm_cases(None if args.models == "all" else args.models.split(","))
    chosen = [int(index) for index in args.cases.split(",")]
    rows = []
    for case in cases:
        rows_of_case = cases_of(case)  # builds the live demo's processor: once per model
        for precision in args.precisions.split(","):
            for index in chosen:
                if index >= len(rows_of_case):
                    continue  # no live demo for this model
                label, batch, frames, training, streaming = rows_of_case[index]
                row = race(worker, case, precision, label, batch, frames, training, args.steps, streaming)
                rows.append(row)
                print(f"{case.model} {precision} {label}: avse_tf {row['avse_tf_s']:.4f} s, PyTorch "
                      f"{row['pytorch_s']:.4f} s, ratio {row['pytorch_over_avse_tf']:.2f}", file=sys.stderr, flush=True)
    torch_version = worker.ask(op="setup", layers=[["dense", 1, 1]], precision="float32", batch=1, frames=1,
                               training=False)["version"]
    worker.close()
    print(f"avse_tf (TF {tf.__version__}) against PyTorch {torch_version}, {os.cpu_count()} cores")
    print(format_table(rows, args.threads))
    if args.json:
        from avse_tf.utils import atomic_write_text

        atomic_write_text(args.json, json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
