"""Benchmark cases of VCA-GAN (``tools/bench``; see :mod:`avse_tf.training.benchmark`).

* ``BenchCase`` ``vca_gan``: one GAN training step of the paper-size preset (``vca_gan_grid``; the
  model's own ``train_step``: discriminator and generator updates, two Adam optimisers) on
  random windows of the training shapes, its FLOP/s against the machine's matmul peak (the
  analytical count of ``tools/bench/flops.py`` counts the generator's mel-rate layers at the video
  frame rate: a lower bound), and the forward pass of one 3 s clip (75 frames, batch 1). Training
  examples need at least 20 frames (the discriminators' receptive field): ``--quick``'s 0.5 s crops
  (12 frames) are refused with that message; ``--train_seconds 1.6`` gives the paper's 40 frames.
* ``FeatureCase`` ``synthesis_vca_gan``: the whole test-time path of one 3 s clip after face
  tracking, as :func:`~avse_tf.systems.vca_gan.predict.lips_to_waveform` runs it: 75 lip crops ->
  generator -> Griffin-Lim 60 + de-emphasis (the cached ``tf.function``). Its real-time factor is
  ``1 / (3 x clips per second)``; the preprocessing table shows clips/s.
"""

from __future__ import annotations

from avse_tf.training import benchmark
from avse_tf.systems.vca_gan.features import MEL_FRAMES_PER_VIDEO_FRAME, NUM_LINEAR_BINS, NUM_MELS

CLIP_FRAMES = int(benchmark.CLIP_SECONDS * benchmark.VIDEO_FPS)  # 75 video frames in 3 s
# The 20-row mel discriminator downsamples time by 4 before a valid 5 x 5 convolution (measured:
# 16 frames fail, "Negative dimension size").
MIN_TRAIN_FRAMES = 20
# The paper trains with 88 clips on 4 GPUs (22 each). The sequence models' default of 64 crops of
# 25 frames was killed for memory on a 24 GB machine (24.2 GB resident); 8 is the lip-to-speech race's.
TRAIN_BATCH = 8
QUICK = {"width": 0.125, "resnet_blocks": [1, 1, 1, 1], "gru_layers": 1, "blocks_per_stage": 1, "postnet_blocks": 1}


def synthetic_batch(model, batch, frames, rng):
    """Random lips (normalised), full lengths, and mel / linear targets of the reader's shapes."""
    import numpy as np

    if frames < MIN_TRAIN_FRAMES:
        raise ValueError(f"VCA-GAN's mel discriminators need at least {MIN_TRAIN_FRAMES} video frames per training "
                         f"example, got {frames} (the paper trains on 40-frame windows); run with --train_seconds 1.6")
    size = int(model.architecture["crop_size"])
    mel_frames = MEL_FRAMES_PER_VIDEO_FRAME * frames
    inputs = {"video": benchmark.standard_normal(rng, (batch, frames, size, size, 1)),
              "video_length": np.full([batch], frames, "int32"),
              "mel": rng.uniform(-1.0, 1.0, (batch, mel_frames, NUM_MELS)).astype("float32"),
              "linear": benchmark.uniform(rng, (batch, mel_frames, NUM_LINEAR_BINS))}
    return inputs, None, None


def compile_for_training(model):
    model.compile()  # the paper's two Adam (amsgrad) optimisers, loss weights of model.LOSS_WEIGHTS
    # The discriminators are layers of the model, so forward_flops counts them with it.
    return "VCA-GAN step: discriminators (3 mel scales + sync, R1, InfoNCE), then generator " \
           "(adversarial + sync + 50 x L1), Adam amsgrad x 2", ()


def synthesis_setup(data, quick):
    """Ignores the corpus: random crops of one 3 s clip, the preset's model (reduced under --quick)."""
    import keras
    import numpy as np

    from avse_tf.systems import presets
    from avse_tf.systems.vca_gan.predict import lips_to_waveform

    keras.utils.set_random_seed(0)
    model = presets.from_preset("vca_gan_grid", **(QUICK if quick else {}))
    crops = np.random.default_rng(0).integers(0, 256, (CLIP_FRAMES, 112, 112), dtype=np.uint8)

    def synthesize(_):
        waveform = lips_to_waveform(model, crops)
        assert waveform.size == CLIP_FRAMES * 640

    label = (f"VCA-GAN synthesis of a 3 s clip ({'REDUCED --quick ' if quick else ''}vca_gan_grid, 75 frames, "
             "batch 1): generator + Griffin-Lim 60 + de-emphasis; RTF = 1 / (3 x clips/s)")
    return label, [0, 1] if quick else [0, 1, 2], synthesize


def bench_cases():
    case = benchmark.BenchCase("vca_gan", "vca_gan_grid", synthetic_batch, compile_for_training,
                               clip_frames=CLIP_FRAMES, size_keys=("width", "resnet_blocks", "gru_layers"),
                               quick_overrides=QUICK, eager_warmup=True, train_batch=TRAIN_BATCH)
    return case, benchmark.FeatureCase("synthesis_vca_gan", synthesis_setup, warmup=True)
