"""Phase for inpainted frames (Morrone et al. 2021, §2.4 and the original ``reconstruct_wav``).

The inpainting models estimate only the log magnitude of the missing frames. The original
reconstructs the phase with LWS (Le Roux et al.; ``lws`` package, 384/192/512, mode ``"speech"``)
initialised with the corrupted signal's phase in the reliable frames and 0 in the gap, and then
keeps the original phase in the reliable frames and uses the estimate only in the gap.

* ``"lws"``: that procedure, when the ``lws`` package is installed (optional: it is built from
  source, with no wheel for Python 3.11; ``pip install "avse_tf[lws]"`` where a C compiler exists);
* ``"griffin_lim"``: fast Griffin-Lim (Perraudin et al. 2013, momentum 0.99) in which only the gap's
  phases are free: after every projection the reliable frames get their known phase back, so the
  gap's phase becomes consistent with its fixed neighbours (the unconstrained version,
  :func:`avse_tf.audio.features.griffin_lim`, would let the reliable phases drift too);
* ``"auto"``: LWS when importable, Griffin-Lim otherwise (the fallback the issue asks for);
* ``"oracle"``: the clean signal's phase in the gap (analysis only: it needs the reference).

In every method the reliable frames keep exactly the input's magnitude and phase, so the output
spectrogram equals the input's there.
"""

from __future__ import annotations

import numpy as np

from avse_tf.errors import UserInputError

PHASE_METHODS = ("auto", "lws", "griffin_lim", "oracle")
GRIFFIN_LIM_ITERATIONS = 100


def lws_available() -> bool:
    try:
        import lws  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_method(method: str) -> str:
    if method not in PHASE_METHODS:
        raise UserInputError(f"unknown phase method {method!r}; choose one of {', '.join(PHASE_METHODS)}")
    if method == "auto":
        return "lws" if lws_available() else "griffin_lim"
    if method == "lws" and not lws_available():
        raise UserInputError("the lws package is not installed (it builds from source: pip install lws); "
                             "use --phase griffin_lim or auto")
    return method


def _gap_griffin_lim_iterations(magnitude, known, free, config, num_samples, iterations, momentum):
    """The Griffin-Lim iterations of :func:`gap_griffin_lim` on tensors: ``magnitude`` and ``known``
    ``[T, F]``, ``free`` ``[T, 1]`` bool, ``num_samples`` an int or scalar tensor. Plain TF ops, so the
    same loop runs eagerly or inside a ``tf.function`` (:func:`compiled_gap_griffin_lim`)."""
    import tensorflow as tf

    from avse_tf.audio.stft import from_magnitude_phase, istft, stft

    def step(index, current, previous):
        rebuilt = stft(istft(from_magnitude_phase(magnitude, current), config, num_samples), config)
        rebuilt = rebuilt[: tf.shape(magnitude)[0]]
        accelerated = rebuilt + tf.cast(momentum, rebuilt.dtype) * (rebuilt - previous)
        return index + 1, tf.where(free, tf.math.angle(accelerated), known), rebuilt

    current = tf.where(free, tf.zeros_like(magnitude), known)
    previous = from_magnitude_phase(magnitude, current)
    _, current, _ = tf.while_loop(lambda index, *_: index < int(iterations), step,
                                  (tf.constant(0), current, previous))
    return current


def gap_griffin_lim(magnitude, phase, gap, config="morrone2021", num_samples=None,
                    iterations: int = GRIFFIN_LIM_ITERATIONS, momentum: float = 0.99) -> np.ndarray:
    """Phase ``[T, F]`` whose gap frames are estimated by Griffin-Lim and the others are ``phase``.

    ``gap``: ``[T]`` 0/1 (1 = frame to estimate). The gap starts from zero phase (as the original's
    LWS initialisation).
    """
    import tensorflow as tf

    from avse_tf.audio.stft import get_config

    config = get_config(config)
    magnitude = tf.convert_to_tensor(np.asarray(magnitude, np.float32))
    known = tf.convert_to_tensor(np.asarray(phase, np.float32))
    free = tf.constant(np.asarray(gap, np.float32).reshape(-1, 1) > 0.5)
    if num_samples is None:
        num_samples = int(magnitude.shape[0]) * config.frame_step
    return _gap_griffin_lim_iterations(magnitude, known, free, config, num_samples, iterations, momentum).numpy()


def compiled_gap_griffin_lim(config="morrone2021", iterations: int = GRIFFIN_LIM_ITERATIONS,
                             momentum: float = 0.99):
    """:func:`gap_griffin_lim` as a ``tf.function`` traced once for any number of frames (the live
    demo calls it once per chunk): ``f(magnitude [T, F], phase [T, F], free [T, 1] bool, num_samples)
    -> phase [T, F]`` (tensors)."""
    import tensorflow as tf

    from avse_tf.audio.stft import get_config

    config = get_config(config)
    bins = config.num_bins
    signature = [tf.TensorSpec([None, bins], tf.float32), tf.TensorSpec([None, bins], tf.float32),
                 tf.TensorSpec([None, 1], tf.bool), tf.TensorSpec([], tf.int32)]

    @tf.function(input_signature=signature)
    def run(magnitude, known, free, num_samples):
        return _gap_griffin_lim_iterations(magnitude, known, free, config, num_samples, iterations, momentum)

    return run


def gap_lws(magnitude, phase, gap, config="morrone2021") -> np.ndarray:
    """The original's LWS step: ``lws.lws(384, 192, fftsize=512, mode="speech").run_lws`` on the
    magnitude with the corrupted phase as initial estimate (0 in the gap); reliable phases kept."""
    import lws

    from avse_tf.audio.stft import get_config

    config = get_config(config)
    gap = np.asarray(gap, np.float32).reshape(-1, 1) > 0.5
    initial = np.where(gap, 0.0, np.asarray(phase, np.float64))
    processor = lws.lws(config.frame_length, config.frame_step, fftsize=config.fft_length, mode="speech")
    estimate = processor.run_lws(np.asarray(magnitude, np.float64) * np.exp(1j * initial))
    return np.where(gap, np.angle(estimate), phase).astype(np.float32)


def reconstruct_waveform(magnitude, phase, gap, method="auto", config="morrone2021", num_samples=None,
                         oracle_phase=None, iterations: int = GRIFFIN_LIM_ITERATIONS) -> np.ndarray:
    """Waveform from an inpainted magnitude ``[T, F]``: reliable frames keep ``phase``, the gap gets
    its phase from ``method`` (see the module doc); least-squares iSTFT."""
    from avse_tf.audio.stft import from_magnitude_phase, istft

    method = resolve_method(method)
    gap = np.asarray(gap, np.float32).reshape(-1)
    if method == "oracle":
        if oracle_phase is None:
            raise UserInputError("oracle phase needs the reference signal; it is for analysis on test sets only")
        full_phase = np.where(gap[:, None] > 0.5, oracle_phase, phase)
    elif not gap.any():
        full_phase = np.asarray(phase, np.float32)
    elif method == "lws":
        full_phase = gap_lws(magnitude, phase, gap, config)
    else:
        full_phase = gap_griffin_lim(magnitude, phase, gap, config, num_samples, iterations)
    spectrogram = from_magnitude_phase(np.asarray(magnitude, np.float32), np.asarray(full_phase, np.float32))
    return istft(spectrogram, config, num_samples).numpy()


__all__ = ["PHASE_METHODS", "lws_available", "resolve_method", "gap_griffin_lim", "compiled_gap_griffin_lim", "gap_lws",
           "reconstruct_waveform"]
