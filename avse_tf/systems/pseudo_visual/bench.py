"""Benchmark cases of the pseudo-visual denoiser (``tools/bench``; see :mod:`avse_tf.training.benchmark`).

* ``BenchCase`` ``pseudo_visual_denoiser``: one training step of the paper-size denoiser
  (``pseudo_visual_denoiser_lrs3``: L1 to the clean STFT features, Adam) on random STFT features
  and lips of the training shapes (4 STFT frames per lip frame), FLOP/s against the machine's
  matmul peak, and the forward pass of one 3 s clip (300 frames, batch 1). The frozen student that
  draws the lips during training is not in the step (its forward pass adds about a third of the
  denoiser's; the synthesis case below includes it).
* ``FeatureCase`` ``synthesis_pseudo_visual``: the whole test-time path of one 3 s noisy clip, as
  ``avse denoising inference`` runs it (:func:`~avse_tf.systems.pseudo_visual.inference.denoise`):
  the student's mel windows and lips, four 1 s windows of STFT features, the denoiser, the inverse
  STFT and the cross-fade; paper-size denoiser and student. Real-time factor ``1 / (3 x clips/s)``.
"""

from __future__ import annotations

from avse_tf.training import benchmark

STFT_FRAMES_PER_LIP_FRAME = 4
CLIP_FRAMES = int(benchmark.CLIP_SECONDS * 100)  # 300 STFT frames in 3 s (hop 10 ms)
QUICK = {"width": 0.125, "audio_residual": 1, "decoder_residual": 2}


def synthetic_batch(model, batch, frames, rng):
    """Random ``stft`` features and ``lips`` in [0, 1] and clean-feature targets; ``frames`` rounded
    down to whole lip frames."""
    from avse_tf.systems.pseudo_visual.denoiser import LIP_SHAPE

    frames = STFT_FRAMES_PER_LIP_FRAME * max(1, int(frames) // STFT_FRAMES_PER_LIP_FRAME)
    features = int(model.get_layer("stft").output.shape[-1])
    inputs = {"stft": benchmark.uniform(rng, (batch, frames, features)),
              "lips": benchmark.uniform(rng, (batch, frames // STFT_FRAMES_PER_LIP_FRAME, *LIP_SHAPE))}
    return inputs, benchmark.uniform(rng, (batch, frames, features)), None


def compile_for_training(model):
    import keras

    model.compile(keras.optimizers.Adam(1e-3), keras.losses.MeanAbsoluteError())
    return "L1 to the clean STFT features, Adam (the frozen student not in the step)", ()


def synthesis_setup(data, quick):
    """Ignores the corpus: a random 3 s waveform, the paper-size denoiser and student (reduced under --quick)."""
    import keras
    import numpy as np

    from avse_tf.systems import presets
    from avse_tf.systems.pseudo_visual.denoiser_training import DenoiserTraining
    from avse_tf.systems.pseudo_visual.inference import denoise

    keras.utils.set_random_seed(0)
    denoiser = presets.from_preset("pseudo_visual_denoiser_cpu" if quick else "pseudo_visual_denoiser_lrs3")
    student = presets.from_preset("lipsync_student_cpu" if quick else "lipsync_student_lrs3")
    model = DenoiserTraining(denoiser, student, "pseudo")
    waveform = (0.1 * np.random.default_rng(0).standard_normal(int(benchmark.CLIP_SECONDS * 16000))).astype("float32")

    def synthesize(_):
        assert denoise(model, waveform).size == waveform.size

    label = (f"pseudo-visual denoising of a 3 s clip ({'REDUCED --quick: CPU presets' if quick else 'paper-size'} "
             "denoiser and student, batch of four 1 s windows): student lips + denoiser + inverse STFT; "
             "RTF = 1 / (3 x clips/s)")
    return label, [0, 1] if quick else [0, 1, 2], synthesize


def bench_cases():
    case = benchmark.BenchCase("pseudo_visual_denoiser", "pseudo_visual_denoiser_lrs3", synthetic_batch,
                               compile_for_training, clip_frames=CLIP_FRAMES, size_keys=("width", "audio_residual", "decoder_residual"),
                               quick_overrides=QUICK, eager_warmup=True)
    return case, benchmark.FeatureCase("synthesis_pseudo_visual", synthesis_setup, warmup=True)
