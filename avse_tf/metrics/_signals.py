"""Input checks shared by the metrics: 1-D float signals, matching lengths, silence.

Length rule (used by every two-signal metric and by :func:`avse_tf.metrics.evaluate`): signals
whose lengths differ by less than 1 % of the longest are trimmed to the shortest (a resampler or
codec often adds or drops a few samples at the end); a larger difference is a mismatch the user
must fix, so it raises :class:`MetricInputError` naming both lengths.

Silence rule: a signal whose peak is below -80 dBFS (1e-4 of full scale, about 3 steps of 16-bit
audio) carries no speech. PESQ and ViSQOL would otherwise crash or score it as perfect.
"""

from __future__ import annotations

import numpy as np

from avse_tf.errors import MetricInputError

SILENCE_PEAK = 1e-4  # -80 dBFS
LENGTH_TOLERANCE = 0.01  # relative length difference that is trimmed rather than refused


def as_signal(waveform, name: str) -> np.ndarray:
    """``waveform`` as a finite, non-empty 1-D float64 array (float64: energies of long signals)."""
    signal = np.asarray(waveform)
    if signal.ndim == 2 and 1 in signal.shape:
        signal = signal.reshape(-1)  # a (1, n) or (n, 1) array is a mono signal
    if signal.ndim != 1:
        raise MetricInputError(
            f"{name} must be a 1-D waveform, got an array of shape {signal.shape}; pass one mono channel"
        )
    if signal.size == 0:
        raise MetricInputError(f"{name} has no samples; give a non-empty waveform")
    if not np.issubdtype(signal.dtype, np.number) or np.iscomplexobj(signal):
        raise MetricInputError(f"{name} must hold real numbers, got dtype {signal.dtype}")
    signal = signal.astype(np.float64)
    if not np.all(np.isfinite(signal)):
        raise MetricInputError(f"{name} contains NaN or infinite samples; check how it was produced")
    return signal


def align_lengths(signals: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Trim ``{name: signal}`` to a common length under the 1 % rule (see the module docstring)."""
    lengths = {name: len(signal) for name, signal in signals.items()}
    shortest, longest = min(lengths.values()), max(lengths.values())
    if shortest == longest:
        return signals
    if longest - shortest >= LENGTH_TOLERANCE * longest:
        described = ", ".join(f"{name} has {length} samples" for name, length in lengths.items())
        raise MetricInputError(
            f"signal lengths differ by more than 1%: {described}; give signals of the same length "
            "(cut from the same utterance, at the same sample rate)"
        )
    return {name: signal[:shortest] for name, signal in signals.items()}


def signal_pair(reference, estimate) -> tuple[np.ndarray, np.ndarray]:
    """Checked float64 reference and estimate trimmed to a common length."""
    pair = align_lengths({"reference": as_signal(reference, "reference"),
                          "estimate": as_signal(estimate, "estimate")})
    return pair["reference"], pair["estimate"]


def check_rate(sample_rate) -> int:
    """``sample_rate`` as a positive int (16000.0 is accepted; 0, -1 or 16000.5 are not)."""
    try:
        rate = float(sample_rate)
    except (TypeError, ValueError):
        rate = float("nan")
    if not (rate > 0 and rate.is_integer()):
        raise MetricInputError(f"sample_rate must be a positive whole number of Hz, got {sample_rate!r}")
    return int(rate)


def is_silent(signal: np.ndarray) -> bool:
    return float(np.max(np.abs(signal))) < SILENCE_PEAK


def require_sound(signal: np.ndarray, name: str, metric: str) -> None:
    """Raise when ``signal`` is silent under the -80 dBFS rule, naming the metric that needs sound."""
    if is_silent(signal):
        peak = float(np.max(np.abs(signal)))
        level = "all zeros" if peak == 0 else f"peak {20 * np.log10(peak):.0f} dBFS"
        raise MetricInputError(
            f"{name} is silent ({level}, below -80 dBFS): {metric} cannot score it; "
            f"check that the {name} is the right file and not muted"
        )
