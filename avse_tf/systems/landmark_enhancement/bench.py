"""Benchmark cases of face-landmark speech enhancement (``tools/bench``; see
:mod:`avse_tf.training.benchmark`): the five BLSTM models at paper size, the record features, and
the records in both layouts."""

from __future__ import annotations

from avse_tf.constants import SAMPLE_RATE
from avse_tf.training import benchmark

# The paper's GRID presets, in the table's order (the system's model order).
PRESETS = {"vl2m": "vl2m_grid", "vl2m_ref": "vl2m_ref_grid", "av_concat_mask": "av_concat_mask_grid",
           "av_concat_mask_ref": "av_concat_mask_ref_grid", "av_concat_spec": "av_concat_spec_grid"}


def synthetic_batch(model, batch, frames, rng):
    import numpy as np

    inputs = benchmark.sequence_inputs(model, batch, frames, rng, tbm=benchmark.binary,
                                       mixed_magnitude=benchmark.uniform)
    spec = model.spec
    draw = benchmark.binary if spec["target"] == "tbm" else benchmark.uniform
    target = draw(rng, (batch, frames, model.audio_dim))
    return inputs, {spec["output"]: target}, {spec["output"]: np.ones((batch, frames), "float32")}


def compile_for_training(model):
    import keras

    from avse_tf.systems.landmark_enhancement.model import compile_model

    compile_model(model, keras.optimizers.Adam(1e-3))
    return "library loss (" + model.spec["loss"] + "), Adam", ()


def demo_processor(model, landmarks):
    from avse_tf import streaming

    return streaming.processor_for_model(model, landmarks)  # the system's streaming hook, unit statistics


def features_setup(data, quick):
    from avse_tf.data.mixing import load_manifest
    from avse_tf.systems.landmark_enhancement.pipeline import example_features

    samples = int(benchmark.CLIP_SECONDS * SAMPLE_RATE)
    return ("enhancement record features (mixture, |STFT|^0.3, landmark motion, TBM)", load_manifest(data["mixtures"]),
            lambda entry: example_features(entry, data["corpus"], num_audio_samples=samples))


def write_records(corpus, mode, dest_dir, norm_dir, examples_per_shard):
    from avse_tf.systems.landmark_enhancement.pipeline import generate_records

    generate_records(corpus, num_speakers=2, mode=mode, dest_dir=dest_dir, norm_data_dir=norm_dir,
                     examples_per_shard=examples_per_shard, sets=("TRAINING_SET",))


def model_inputs(batch):
    from avse_tf.systems.landmark_enhancement.pipeline import model_batch

    # What av_concat_mask's training reads: model_batch adds |M|^0.3 and |T|^0.3 (two STFTs).
    return model_batch(batch, "av_concat_mask")


def bench_cases():
    from avse_tf.audio.stft import get_config
    from avse_tf.systems.landmark_enhancement import SYSTEM
    from avse_tf.systems.landmark_enhancement.pipeline import STFT
    from avse_tf.systems.landmark_enhancement.serving import SERVABLE

    clip_frames = get_config(STFT).num_frames(int(benchmark.CLIP_SECONDS * SAMPLE_RATE))
    cases = [benchmark.blstm_case(model, PRESETS[model], synthetic_batch=synthetic_batch,
                                  compile_for_training=compile_for_training, clip_frames=clip_frames,
                                  demo_processor=demo_processor if model in SERVABLE else None)
             for model in SYSTEM.models]
    cases.append(benchmark.FeatureCase("features_enhancement", features_setup))
    cases.append(benchmark.RecordsCase(
        SYSTEM.cli_group, ("fixed", "var"), write_records, model_inputs,
        model_inputs_label="records -> model inputs (+2 STFT)",
        model_inputs_doc="avse_tf.systems.landmark_enhancement.pipeline.model_batch",
        slow_notes={"var": "var mode stores waveforms as one feature per sample: parsing 3 x 48000 protobuf "
                           "features per example dominates"}))
    return tuple(cases)
