"""Why the BLSTM figures are what they are: one paper-size LSTM layer against a plain matrix
product of the same FLOPs, at several batch sizes, and its batch-1 recurrence per frame."""

from __future__ import annotations

import math
import time


def measure_profile(args, peak):
    """One paper-size LSTM layer (D=500 -> H=250, as layers 2+ of every BLSTM stack), forward +
    backward, at several batch sizes, against one plain matrix product with the same FLOPs;
    and the per-frame cost of the batch-1 recurrence (inference), graph vs XLA."""
    import tensorflow as tf

    from avse_tf.layers.recurrent import ProjectedLSTM

    units, inputs_dim = (64, 128) if args.quick else (250, 500)
    frames = 50 if args.quick else 101
    layer = ProjectedLSTM(units, return_sequences=True)
    layer.build((None, frames, inputs_dim))
    flops_per_example = 3 * frames * 2 * 4 * units * (inputs_dim + units)
    results = {"layer": f"LSTM {inputs_dim} -> {units}, {frames} frames, forward + backward", "batches": {}}

    @tf.function(reduce_retracing=True)
    def train_like(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)  # the training recurrence (hand-written backward pass)
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, [x] + layer.trainable_variables)

    @tf.function(reduce_retracing=True)
    def gemm(a, b):  # the layer's FLOPs as one product [B*T, 3(D+H)] x [3(D+H), 4H]
        return [tf.linalg.matmul(a, b)]

    for batch in ((1, 8, 64) if args.quick else (1, 8, 64, 128)):
        x = tf.random.normal([batch, frames, inputs_dim])
        a = tf.random.normal([batch * frames, 3 * (inputs_dim + units)])
        b = tf.random.normal([3 * (inputs_dim + units), 4 * units])
        timings = {}
        for label, function, operands in (("lstm", train_like, (x,)), ("gemm", gemm, (a, b))):
            function(*operands)
            best = math.inf
            for _ in range(2 if args.quick else 3):
                begin = time.perf_counter()
                for value in function(*operands):
                    value.numpy()
                best = min(best, time.perf_counter() - begin)
            timings[label] = best
        peak_now = max(peak.sample(), peak.sample())
        gflops = batch * flops_per_example / timings["lstm"] / 1e9
        results["batches"][batch] = {
            "lstm_seconds": timings["lstm"], "lstm_gflops": gflops, "lstm_peak_fraction": gflops / peak_now,
            "gemm_same_flops_seconds": timings["gemm"],
            "gemm_peak_fraction": batch * flops_per_example / timings["gemm"] / 1e9 / peak_now,
            "beyond_gemm_us_per_frame": (timings["lstm"] - timings["gemm"]) / frames * 1e6,
            "peak_gflops_adjacent": peak_now}

    # Batch-1 inference: microseconds per frame and direction, graph vs XLA.
    x = tf.random.normal([1, 302 if not args.quick else 100, inputs_dim])
    per_frame = {}
    for label, jit in (("graph", False), ("xla", True)):
        function = tf.function(lambda value: layer(value), jit_compile=jit)
        function(x).numpy()
        best = math.inf
        for _ in range(3):
            begin = time.perf_counter()
            function(x).numpy()
            best = min(best, time.perf_counter() - begin)
        per_frame[label] = best / int(x.shape[1]) * 1e6
    results["batch1_forward_us_per_frame"] = per_frame
    results["recurrent_kernel_bytes"] = 4 * units * 4 * units
    return results
