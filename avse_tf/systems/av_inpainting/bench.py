"""Benchmark cases of audio-visual speech inpainting (``tools/bench``; see
:mod:`avse_tf.training.benchmark`): the four BLSTM models at paper size and the clip features."""

from __future__ import annotations

from avse_tf.constants import SAMPLE_RATE
from avse_tf.training import benchmark

# The paper's GRID presets, in the table's order: audio-only before AV, plain before MTL.
PRESETS = {"a_blstm": "a_blstm_grid", "av_blstm": "av_blstm_grid", "a_blstm_mtl": "a_blstm_mtl_grid",
           "av_blstm_mtl": "av_blstm_mtl_grid"}
PHONE_SLOTS = 64  # padded phone label length of the MTL targets


def synthetic_batch(model, batch, frames, rng):
    import numpy as np

    gap = benchmark.gap_mask(batch, frames)
    inputs = benchmark.sequence_inputs(model, batch, frames, rng, gap_mask=gap)
    targets = {"inpainted_spectrogram": benchmark.standard_normal(rng, (batch, frames, model.audio_dim))}
    weights = {"inpainted_spectrogram": gap[..., 0]}
    if model.spec["mtl"]:
        phones = np.zeros((batch, PHONE_SLOTS), "int32")
        count = max(1, min(20, frames // 4))
        phones[:, :count] = rng.integers(1, model.num_classes, (batch, count))
        targets["phone_logits"] = phones
        weights["phone_logits"] = np.ones([batch], "float32")
    return inputs, targets, weights


def compile_for_training(model):
    import keras

    from avse_tf.systems.av_inpainting.model import compile_model

    compile_model(model, keras.optimizers.Adam(1e-3))
    return "gap L1" + (" + 0.001 CTC" if model.spec["mtl"] else "") + ", Adam", ()


def demo_processor(model, landmarks):
    from avse_tf import streaming

    return streaming.processor_for_model(model, landmarks)  # the system's streaming hook, unit statistics


def features_setup(data, quick):
    from avse_tf.systems.av_inpainting.pipeline import clip_features

    return ("inpainting clip features (log |STFT|, landmark motion, phones)", data["clips"],
            lambda clip: clip_features(data["corpus"], *clip))


def bench_cases():
    from avse_tf.audio.stft import get_config
    from avse_tf.systems.av_inpainting.pipeline import STFT

    clip_frames = get_config(STFT).num_frames(int(benchmark.CLIP_SECONDS * SAMPLE_RATE))
    cases = [benchmark.blstm_case(model, preset, synthetic_batch=synthetic_batch,
                                  compile_for_training=compile_for_training, clip_frames=clip_frames,
                                  demo_processor=demo_processor, demo_packet_loss=0.05)
             for model, preset in PRESETS.items()]
    return (*cases, benchmark.FeatureCase("features_inpainting", features_setup))
