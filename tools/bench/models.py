"""The per-model sections: a training step and the forward pass of one clip, for each
:class:`avse_tf.training.benchmark.BenchCase` of the chosen systems."""

from __future__ import annotations

import math
import time

from avse_tf.training.benchmark import CLIP_SECONDS, VIDEO_FPS

MODE_LABELS = {"eager": "RTF eager", "graph": "RTF tf.function (graph)", "xla": "RTF tf.function + XLA"}


def build(case, args):
    """The case's model (reduced under ``--quick``) and a one-line description of its size."""
    from avse_tf.systems import presets

    overrides = dict(case.quick_overrides) if args.quick else {}
    model = presets.from_preset(case.preset, **overrides)
    architecture = {**presets.get_preset(case.preset)["architecture"], **overrides}
    size = ", ".join(f"{key}={architecture[key]}" for key in case.size_keys if key in architecture)
    return model, ("paper preset " if not overrides else "REDUCED (--quick) ") + f"{case.preset}: {size}"


def _constants(arrays):
    import tensorflow as tf

    if arrays is None or not isinstance(arrays, dict):  # a single-output model's target: one array
        return None if arrays is None else tf.constant(arrays)
    return {key: tf.constant(value) for key, value in arrays.items()}


def measure_training(family, case, args, peak, gpus):
    import numpy as np

    from tools.bench import flops

    model, size = build(case, args)
    clip_frames = case.clip_frames
    if clip_frames is None:  # per-frame image model: one example is one video frame
        batch, frames = args.s2v_batch, None
    else:  # sequence model: crops of the clip (FLOP/s do not depend on the length)
        batch = args.train_batch if args.train_batch_given or case.train_batch is None else case.train_batch
        frames = max(8, round(args.train_seconds / CLIP_SECONDS * clip_frames))
    loss, loss_models = case.compile_for_training(model)
    inputs, targets, weights = (_constants(value) for value in
                                case.synthetic_batch(model, batch, frames, np.random.default_rng(0)))

    forward = flops.forward_flops(model, frames)
    per_example = 3 * forward["total"] + sum(3 * flops.forward_flops(extra)["total"] for extra in loss_models)
    begin = time.perf_counter()
    model.train_on_batch(inputs, targets, sample_weight=weights)
    first = time.perf_counter() - begin
    steps = []
    for _ in range(args.steps):
        before = peak.sample()
        begin, begin_cpu = time.perf_counter(), time.process_time()
        model.train_on_batch(inputs, targets, sample_weight=weights)
        seconds, cpu = time.perf_counter() - begin, time.process_time() - begin_cpu
        after = peak.sample()
        achieved = batch * per_example / seconds / 1e9
        adjacent = max(before, after)  # the higher of the two: the conservative fraction
        steps.append({"seconds": seconds, "gflops": achieved, "peak_gflops_before": before,
                      "peak_gflops_after": after, "peak_gflops_adjacent": adjacent, "fraction": achieved / adjacent,
                      "cpu_seconds": cpu, "gflops_per_cpu_second": batch * per_example / cpu / 1e9})
    best = max(steps, key=lambda step: step["fraction"])
    examples = batch / best["seconds"]
    return {
        "family": family, "model": case.model, "preset": case.preset, "blstm": case.blstm, "size": size, "loss": loss,
        "batch": batch, "frames": frames, "crop_seconds": None if frames is None else frames * CLIP_SECONDS / clip_frames,
        "first_step_seconds": first, "steps": steps, "step_seconds": best["seconds"],
        "examples_per_second": examples,
        "clips_per_second": examples if frames is None else examples * frames / clip_frames,
        "forward_flops_per_example": forward, "train_flops_per_example": per_example,
        "flops_method": "analytical (tools/bench/flops.py); training = 3 x forward",
        "gflops": best["gflops"], "peak_gflops_adjacent": best["peak_gflops_adjacent"],
        "peak_fraction": best["fraction"],
        "gflops_per_cpu_second": best["gflops_per_cpu_second"],
        "device": "GPU (cuDNN LSTM)" if gpus else "CPU",
    }


def clip_inputs(case, model, rng):
    """``(inputs, frames, images per call)`` of one clip: a batch of 1 for sequence models, the
    clip's video frames as one batch for per-frame image models."""
    if case.clip_frames is None:
        images = int(CLIP_SECONDS * VIDEO_FPS)
        return case.synthetic_batch(model, images, None, rng)[0], None, images
    return case.synthetic_batch(model, 1, case.clip_frames, rng)[0], case.clip_frames, 1


def measure_inference(family, case, args, gpus):
    import keras
    import numpy as np
    import tensorflow as tf

    from tools.bench import flops

    model, size = build(case, args)
    arrays, frames, images = clip_inputs(case, model, np.random.default_rng(1))
    inputs = _constants(arrays)
    signature = [{key: tf.TensorSpec(value.shape, value.dtype) for key, value in inputs.items()}]
    batch_note = (f"batch 1, {frames} frames" if frames is not None
                  else f"one {CLIP_SECONDS:g} s clip = {images} video frames in one call")

    def forward(batch):
        return model(batch, training=False)

    def run(function):
        outputs = function(inputs)
        for value in tf.nest.flatten(outputs):
            value.numpy()

    directions = sum(isinstance(layer, keras.layers.LSTM) for layer in model._flatten_layers(include_self=False))
    result = {"family": family, "model": case.model, "preset": case.preset, "blstm": case.blstm,
              "clip_frames": case.clip_frames, "size": size, "input": batch_note, "clip_seconds": CLIP_SECONDS,
              "forward_flops_per_clip": flops.forward_flops(model, frames)["total"] * images,
              "lstm_directions": directions, "sequential_lstm_frames": directions * (frames or 0), "modes": {}}
    for mode, repetitions in case.inference_repetitions.items():
        reps = repetitions[1 if args.quick else 0]
        entry = {}
        try:
            if mode == "eager" and args.quick and case.blstm:
                raise RuntimeError("skipped (--quick): eager BLSTMs run the recurrence frame by frame from Python")
            if mode == "xla" and gpus and case.blstm:
                raise RuntimeError("skipped: Keras runs the LSTMs with cuDNN on GPU, which XLA cannot compile")
            function = forward if mode == "eager" else tf.function(forward, input_signature=signature,
                                                                       jit_compile=(mode == "xla"), reduce_retracing=True)
            if mode == "eager" and case.eager_warmup:
                run(function)
            begin = time.perf_counter()
            if mode != "eager":
                run(function)
                entry["compile_seconds"] = time.perf_counter() - begin
            best = math.inf
            for _ in range(reps):
                begin = time.perf_counter()
                run(function)
                best = min(best, time.perf_counter() - begin)
            entry.update(seconds=best, rtf=best / CLIP_SECONDS, repetitions=reps,
                         gflops=result["forward_flops_per_clip"] / best / 1e9)
        except Exception as error:  # one failing mode must not stop the benchmark
            entry["error"] = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
        result["modes"][mode] = entry
    compiled = [entry["rtf"] for mode, entry in result["modes"].items() if mode != "eager" and "rtf" in entry]
    result["best_compiled_rtf"] = min(compiled) if compiled else None
    return result


def flops_check(case, args):
    """The analytical forward FLOPs of one example against TF's profiler (which counts a loop body
    once, so only for models without recurrences)."""
    import numpy as np

    from tools.bench import flops

    model, _ = build(case, args)
    frames = case.clip_frames
    example = case.synthetic_batch(model, 1, frames, np.random.default_rng(2))[0]
    return {"model": case.model, "analytical": flops.forward_flops(model, frames)["total"],
            "tf_profiler": flops.profiler_forward_flops(model, example)}
