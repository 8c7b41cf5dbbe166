"""The live demo's compute margin per model: compute per block / block duration.

``avse demo`` must finish each block's chunk before the next block is due, so the margin is the
figure that decides whether a model can stream on a machine: below 1 it keeps up (the rest of the
block is slack for the audio thread and other jobs), above 1 blocks arrive late. Measured as the
demo runs it: the same processor (model, normalisation, Griffin-Lim for inpainting gaps, landmark
features for AV models), the same chunk plan (96 ms blocks, 96 ms look-ahead, 480 ms context), one
TensorFlow thread (the demo's default), after ``streaming.warmup``; the input is 10 s of noise with
5 % of its 20 ms packets dropped for the models that fill gaps (``BenchCase.demo_packet_loss``),
as they would live.
"""

from __future__ import annotations

import time

SECONDS = 10.0


def _landmarks():
    import numpy as np

    from avse_tf import streaming

    rng = np.random.default_rng(0)
    return streaming.LandmarkTimeline(rng.normal(100, 5, (int(SECONDS * 25) + 50, 136)), source="bench")


def measure_demo_margin(family, case, model) -> dict:
    """Per-block compute of ``model`` streamed as ``avse demo`` streams it (the processor of
    :attr:`BenchCase.demo_processor <avse_tf.training.benchmark.BenchCase>`); see the module docstring."""
    import numpy as np

    from avse_tf import streaming

    processor = case.demo_processor(model, _landmarks())
    plan = streaming.ChunkPlan.from_ms(processor.config, 96, 96, 480)
    streaming.warmup(processor, plan)
    rate = processor.config.sample_rate
    block = plan.chunk_samples
    signal = np.random.default_rng(1).normal(0, 0.05, int(SECONDS * rate)).astype(np.float32)
    if case.demo_packet_loss:  # lost packets, as `avse demo --drop_rate 0.05`
        signal = streaming.PacketLoss(case.demo_packet_loss, int(0.02 * rate), seed=1).apply(signal)
    chunker = streaming.Chunker(plan, processor)
    seconds = []
    for start in range(0, signal.size - block + 1, block):
        chunks = chunker.chunks
        begin = time.perf_counter()
        chunker.push(signal[start:start + block])
        if chunker.chunks > chunks:
            seconds.append((time.perf_counter() - begin) / (chunker.chunks - chunks))
    values = np.asarray(seconds) / (block / rate)
    return {"family": family, "model": case.model, "block_ms": block * 1000 / rate, "chunks": int(values.size),
            "margin_mean": float(values.mean()), "margin_p95": float(np.percentile(values, 95)),
            "margin_max": float(values.max()), "compute_ms_mean": float(np.mean(seconds) * 1000)}
