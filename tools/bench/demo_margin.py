"""The live demo's compute margin per model: compute per block / block duration.

``avse demo`` must finish each block's chunk before the next block is due, so the margin is the
figure that decides whether a model can stream on a machine: below 1 it keeps up (the rest of the
block is slack for the audio thread and other jobs), above 1 blocks arrive late. Measured as the
demo runs it: the same processor (model, normalisation, Griffin-Lim for inpainting gaps, landmark
features for AV models), the same chunk plan (96 ms blocks, 96 ms look-ahead, 480 ms context), one
TensorFlow thread (the demo's default), after ``streaming.warmup``; the input is 10 s of noise with
5 % of its 20 ms packets dropped, so the inpainting models fill gaps as they would live.
"""

from __future__ import annotations

import time

SECONDS = 10.0


def _landmarks():
    import numpy as np

    from avse_tf import streaming

    rng = np.random.default_rng(0)
    return streaming.LandmarkTimeline(rng.normal(100, 5, (int(SECONDS * 25) + 50, 136)), source="bench")


def _unit_stats(bins):
    import numpy as np

    return {"spectrogram": (np.zeros(bins, np.float32), np.ones(bins, np.float32)),
            "video": (np.zeros(136, np.float32), np.ones(136, np.float32))}


def _inpainting_processor(model):
    from avse_tf import streaming

    return streaming.InpaintingProcessor(model, _unit_stats(model.inputs[0].shape[-1]), _landmarks())


def _enhancement_processor(model):
    from avse_tf import streaming
    from avse_tf.audio.stft import get_config

    # vl2m sees no spectrogram, but the processor scales one: the STFT's bins, not the model's inputs.
    stats = _unit_stats(get_config("morrone2019").num_bins)
    return streaming.EnhancementProcessor(model, {"stft": "morrone2019", "delta": 1}, stats, _landmarks())


# The streamed models and how the demo builds their processor (issue 13 moves this into the systems
# registry's bench cases).
STREAMED = {"enhancement": (("vl2m", "av_concat_mask", "av_concat_spec"), _enhancement_processor),
            "inpainting": (("a_blstm", "av_blstm", "a_blstm_mtl", "av_blstm_mtl"), _inpainting_processor)}


def measure_demo_margin(family, name, model) -> dict:
    """Per-block compute of ``model`` streamed as ``avse demo`` streams it; see the module docstring."""
    import numpy as np

    from avse_tf import streaming

    processor = STREAMED[family][1](model)
    plan = streaming.ChunkPlan.from_ms(processor.config, 96, 96, 480)
    streaming.warmup(processor, plan)
    rate = processor.config.sample_rate
    block = plan.chunk_samples
    signal = np.random.default_rng(1).normal(0, 0.05, int(SECONDS * rate)).astype(np.float32)
    if isinstance(processor, streaming.InpaintingProcessor):  # lost packets, as `avse demo --drop_rate 0.05`
        signal = streaming.PacketLoss(0.05, int(0.02 * rate), seed=1).apply(signal)
    chunker = streaming.Chunker(plan, processor)
    seconds = []
    for start in range(0, signal.size - block + 1, block):
        chunks = chunker.chunks
        begin = time.perf_counter()
        chunker.push(signal[start:start + block])
        if chunker.chunks > chunks:
            seconds.append((time.perf_counter() - begin) / (chunker.chunks - chunks))
    values = np.asarray(seconds) / (block / rate)
    return {"family": family, "model": name, "block_ms": block * 1000 / rate, "chunks": int(values.size),
            "margin_mean": float(values.mean()), "margin_p95": float(np.percentile(values, 95)),
            "margin_max": float(values.max()), "compute_ms_mean": float(np.mean(seconds) * 1000)}
