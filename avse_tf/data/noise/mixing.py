"""Speech + non-speech noise at the paper's SNRs, with the paper's short-segment augmentations.

Hegde et al. (WACV 2021; fact sheet shared/papers/pseudo_visual_denoising.md, and the original
data loader): a noise clip is cropped at a random point to the speech's length and scaled so that
the mixture has an SNR drawn from {0, 5, 10} dB, the SNR measured on plain power (mean square over
the whole clip, silences included); then one augmentation is applied to each training crop, drawn
uniformly from three, over one random segment shorter than 0.2 s (the original draws 0 to 3199
samples at 16 kHz):

- ``zero_speech``: the noisy input is zeroed over the segment (speech and noise; a dropout of the
  input, as the original does);
- ``reduce_speech``: the noisy input becomes 0.1 x the clean speech over the segment (noise gone);
- ``increase_noise``: the noisy input becomes speech + 2 x the scaled noise over the segment.

The clean target is never changed: the model learns to recover the speech through all three.

Beyond the original: a noise clip shorter than the speech is looped (from a random point) instead of
rejected; ``level="active"`` measures the speech power over its active frames only (a 20 ms frame is
active when its energy is within 40 dB of the loudest frame), so leading and trailing silence do not
lower the speech level; reverberation (:func:`~avse_tf.data.noise.rooms.reverberate`) can be applied
to the speech before the noise (``rir=``), the target staying the dry speech. Every function returns
float32, draws all its randomness from the ``numpy.random.Generator`` it is given, and raises
:class:`~avse_tf.errors.NonFiniteError` for NaN / Inf input.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from avse_tf.constants import SAMPLE_RATE
from avse_tf.errors import UserInputError
from avse_tf.validation import require_finite

PAPER_SNRS_DB = (0.0, 5.0, 10.0)
SPEECH_LEVELS = ("plain", "active")
# The original draws one of the three per crop, uniformly; a "none" key adds crops left as they are.
PAPER_AUGMENTATION_PROBABILITIES = {"zero_speech": 1 / 3, "reduce_speech": 1 / 3, "increase_noise": 1 / 3}
MAX_AUGMENTED_SECONDS = 0.2
REDUCED_SPEECH_GAIN = 0.1
INCREASED_NOISE_GAIN = 2.0
ACTIVE_FRAME_SECONDS = 0.02
ACTIVE_RANGE_DB = 40.0


def _finite(waveform, what: str) -> np.ndarray:
    array = np.asarray(waveform)
    if array.ndim != 1 or array.size == 0:
        raise UserInputError(f"{what} must be a non-empty mono waveform (1-D), got shape {array.shape}")
    return require_finite(array.astype(np.float64), what, axes=("sample",))


def fit_noise(noise, length: int, rng) -> np.ndarray:
    """``length`` samples of ``noise`` from a random start; a shorter noise is looped round."""
    noise = _finite(noise, "noise")
    start = int(rng.integers(noise.size))
    return np.take(noise, np.arange(start, start + int(length)), mode="wrap").astype(np.float32)


def speech_power(speech, level: str = "plain", sample_rate: int = SAMPLE_RATE) -> float:
    """Mean square of ``speech``: over every sample (``plain``, the paper's) or over its active
    20 ms frames only (``active``: energy within 40 dB of the loudest frame)."""
    speech = _finite(speech, "speech")
    if level not in SPEECH_LEVELS:
        raise UserInputError(f"speech level must be one of {SPEECH_LEVELS}, got {level!r}")
    if level == "plain":
        return float(np.mean(speech ** 2))
    frame = max(1, int(ACTIVE_FRAME_SECONDS * sample_rate))
    frames = np.pad(speech, (0, -speech.size % frame)).reshape(-1, frame)
    energies = np.mean(frames ** 2, axis=1)
    if energies.max() == 0:
        return 0.0
    active = energies >= energies.max() * 10 ** (-ACTIVE_RANGE_DB / 10)
    return float(np.mean(energies[active]))


def snr_gain(signal_power: float, noise_power: float, snr_db: float) -> float:
    """Gain on the noise that sets ``signal_power / (gain^2 noise_power)`` to ``snr_db``; 0 for a
    silent noise, 1 for a silent signal (no level to refer to: the noise keeps its own)."""
    if noise_power <= 0:
        return 0.0
    if signal_power <= 0:
        return 1.0
    return float(np.sqrt(signal_power / (noise_power * 10 ** (float(snr_db) / 10))))


def mix_at_snr(speech, noise, snr_db: float, rng, level: str = "plain", sample_rate: int = SAMPLE_RATE):
    """``(mixture, scaled_noise)``: ``noise`` fitted to the speech's length (:func:`fit_noise`) and
    scaled so that ``speech_power(speech, level) / mean(scaled_noise^2)`` is ``snr_db``; float32.
    No clipping: the caller normalises if it writes 16-bit files."""
    speech = _finite(speech, "speech")
    fitted = fit_noise(noise, speech.size, rng).astype(np.float64)
    gain = snr_gain(speech_power(speech, level, sample_rate), float(np.mean(fitted ** 2)), snr_db)
    scaled = fitted * gain
    return (speech + scaled).astype(np.float32), scaled.astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """The augmentation applied to one mixture: its name and the segment (samples) it covers."""

    kind: str
    start: int
    length: int


def augment_mixture(speech, scaled_noise, rng, probabilities=None, max_seconds: float = MAX_AUGMENTED_SECONDS,
                    sample_rate: int = SAMPLE_RATE):
    """``(mixture, Augmentation)``: ``speech + scaled_noise`` with one of the paper's augmentations
    over one random segment of 1 to ``max_seconds`` x ``sample_rate`` samples (module docstring).
    ``probabilities``: name -> probability (default :data:`PAPER_AUGMENTATION_PROBABILITIES`;
    a ``none`` entry leaves some mixtures unchanged)."""
    speech = _finite(speech, "speech")
    noise = _finite(scaled_noise, "noise")
    if noise.size != speech.size:
        raise UserInputError(f"speech ({speech.size} samples) and noise ({noise.size}) differ in length; "
                             "fit the noise first (mix_at_snr)")
    probabilities = dict(PAPER_AUGMENTATION_PROBABILITIES if probabilities is None else probabilities)
    unknown = set(probabilities) - set(PAPER_AUGMENTATION_PROBABILITIES) - {"none"}
    weights = np.array(list(probabilities.values()), np.float64)
    if unknown or not probabilities or np.any(weights < 0) or weights.sum() <= 0:
        raise UserInputError(f"augmentation probabilities must be non-negative weights of "
                             f"{sorted(PAPER_AUGMENTATION_PROBABILITIES)} or 'none', got {probabilities}")
    kind = list(probabilities)[int(rng.choice(len(weights), p=weights / weights.sum()))]
    longest = max(1, min(speech.size, int(max_seconds * sample_rate)))
    length = int(rng.integers(1, longest + 1))
    start = int(rng.integers(0, speech.size - length + 1))
    mixture = speech + noise
    segment = slice(start, start + length)
    if kind == "zero_speech":
        mixture[segment] = 0.0
    elif kind == "reduce_speech":
        mixture[segment] = REDUCED_SPEECH_GAIN * speech[segment]
    elif kind == "increase_noise":
        mixture[segment] = speech[segment] + INCREASED_NOISE_GAIN * noise[segment]
    else:
        length = 0
    return mixture.astype(np.float32), Augmentation(kind, start if length else 0, length)


@dataclasses.dataclass(frozen=True)
class NoisyExample:
    """One training pair: the noisy ``mixture`` and its clean ``speech`` target (float32)."""

    mixture: np.ndarray
    speech: np.ndarray
    noise: np.ndarray
    snr_db: float
    augmentation: Augmentation | None
    reverberant: bool


def noisy_example(speech, noise, rng, snrs_db=PAPER_SNRS_DB, augment: bool = True, rir=None,
                  level: str = "plain", probabilities=None, sample_rate: int = SAMPLE_RATE) -> NoisyExample:
    """The paper's recipe for one crop: the SNR drawn from ``snrs_db``, the noise mixed at it
    (:func:`mix_at_snr`; with ``rir``, into the reverberated speech), then one augmentation
    (:func:`augment_mixture`) unless ``augment`` is False. The target is the dry, clean speech."""
    from avse_tf.data.noise.rooms import reverberate

    dry = _finite(speech, "speech").astype(np.float32)
    heard = reverberate(dry, rir) if rir is not None else dry
    snr_db = float(snrs_db[int(rng.integers(len(snrs_db)))])
    mixture, scaled = mix_at_snr(heard, noise, snr_db, rng, level, sample_rate)
    augmentation = None
    if augment:
        mixture, augmentation = augment_mixture(heard, scaled, rng, probabilities, sample_rate=sample_rate)
    return NoisyExample(mixture, dry, scaled, snr_db, augmentation, rir is not None)
