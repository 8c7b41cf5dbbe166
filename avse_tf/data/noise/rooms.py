"""Room impulse responses by the image-source method, and reverberation of speech with them.

The issue's noise bank includes "room reverberation from simulated impulse responses". This is a
small image-source model (Allen & Berkley 1979) of a shoebox room written here in numpy rather than
a pyroomacoustics dependency (a cp311 wheel exists, but it also pulls Cython at run time, and its
RIRs change with its version and its C extension's defaults, while the bank promises the same bytes
for the same seed on any machine).

Model: a rectangular room ``size`` (metres), point source and microphone, the same
frequency-independent wall absorption on all six walls, chosen for the requested RT60: first by
Eyring's formula ``RT60 = 0.161 V / (-S ln(1 - alpha))``, then corrected by measuring the response
(:func:`estimate_rt60`) and rescaling ``-ln(1 - alpha)`` by measured / requested, a few passes: a
shoebox's axial and tangential images meet fewer walls than the average path, so its decay is
1.5-1.7x slower than Eyring predicts for the rooms used here. Each image source of every reflection order that
arrives within the response length adds ``beta^reflections / (4 pi distance)`` at its delay
(pressure reflection coefficient ``beta = sqrt(1 - alpha)``), split linearly between the two
nearest samples (a fractional delay). No air absorption, no frequency dependence, no diffuse tail:
enough for augmentation; :func:`estimate_rt60` measures the result.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from avse_tf.constants import SAMPLE_RATE
from avse_tf.errors import UserInputError
from avse_tf.validation import require_finite

SPEED_OF_SOUND = 343.0  # m/s at 20 degrees C
EYRING = 0.161  # s/m, the Sabine / Eyring constant


@dataclasses.dataclass(frozen=True)
class ShoeboxRoom:
    """A rectangular room: ``size``, ``source`` and ``microphone`` in metres, ``rt60`` in seconds."""

    size: tuple
    source: tuple
    microphone: tuple
    rt60: float

    def eyring_absorption(self) -> float:
        """Wall absorption coefficient (energy) giving :attr:`rt60` by Eyring's formula."""
        x, y, z = self.size
        volume, surface = x * y * z, 2 * (x * y + x * z + y * z)
        return float(np.clip(1.0 - np.exp(-EYRING * volume / (surface * self.rt60)), 1e-3, 0.999))

    def as_dict(self) -> dict:
        return {"size_m": [round(v, 4) for v in self.size], "source_m": [round(v, 4) for v in self.source],
                "microphone_m": [round(v, 4) for v in self.microphone], "rt60_s": round(self.rt60, 4)}


def draw_room(rng, size_range, rt60_range, wall_margin: float = 0.5, min_distance: float = 1.0) -> ShoeboxRoom:
    """A room drawn uniformly within ``size_range`` (``((xmin, xmax), (ymin, ymax), (zmin, zmax))``)
    and ``rt60_range``; source and microphone at least ``wall_margin`` from every wall and at least
    ``min_distance`` apart (a talker not right at the microphone)."""
    size = tuple(float(rng.uniform(low, high)) for low, high in size_range)
    rt60 = float(rng.uniform(*rt60_range))
    for _ in range(100):
        source = tuple(float(rng.uniform(wall_margin, side - wall_margin)) for side in size)
        microphone = tuple(float(rng.uniform(wall_margin, side - wall_margin)) for side in size)
        if np.linalg.norm(np.subtract(source, microphone)) >= min_distance:
            break
    return ShoeboxRoom(size, source, microphone, rt60)


def _axis_images(length: float, source: float, microphone: float, order: int):
    """Distances along one axis from the microphone to the source's images, and their wall hits.

    Image ``(n, mirrored)`` sits at ``2 n L + source`` (or ``2 n L - source`` mirrored) and has met
    ``|2n - mirrored|`` walls of this axis on its way."""
    n = np.arange(-order, order + 1)
    offsets = np.concatenate([2 * n * length + source, 2 * n * length - source]) - microphone
    hits = np.concatenate([np.abs(2 * n), np.abs(2 * n - 1)])
    return offsets, hits


def _image_source_response(room: ShoeboxRoom, absorption: float, count: int, sample_rate: int) -> np.ndarray:
    reach = SPEED_OF_SOUND * count / sample_rate  # no image further than sound travels in the response
    beta = np.sqrt(1.0 - absorption)
    axes = [_axis_images(length, s, m, int(np.ceil(reach / (2 * length))) + 1)
            for length, s, m in zip(room.size, room.source, room.microphone)]
    (dx, hx), (dy, hy), (dz, hz) = axes
    squared = (dx ** 2)[:, None, None] + (dy ** 2)[None, :, None] + (dz ** 2)[None, None, :]
    hits = hx[:, None, None] + hy[None, :, None] + hz[None, None, :]
    keep = squared < reach ** 2
    distance = np.sqrt(squared[keep])
    gain = beta ** hits[keep] / (4 * np.pi * np.maximum(distance, 1e-3))
    delay = distance / SPEED_OF_SOUND * sample_rate
    whole = np.floor(delay).astype(np.int64)
    fraction = delay - whole
    rir = np.bincount(whole, gain * (1 - fraction), minlength=count + 1)[:count + 1]
    rir[1:] += np.bincount(whole + 1, gain * fraction, minlength=count + 1)[1:count + 1]
    return rir[:count]


def simulate_rir(room: ShoeboxRoom, sample_rate: int = SAMPLE_RATE, seconds=None, passes: int = 4) -> np.ndarray:
    """Impulse response (float32) from ``room.source`` to ``room.microphone``, ``seconds`` long
    (default: the room's RT60, the time to decay by 60 dB), peak-normalised to 0.9 (the direct path,
    unless the source is much further than a wall). The absorption is corrected over ``passes``
    measurements so that :func:`estimate_rt60` gives ``room.rt60`` (within a few per cent)."""
    count = max(2, int(round(float(room.rt60 if seconds is None else seconds) * sample_rate)))
    measure = max(count, int(round(room.rt60 * sample_rate)))  # measured over at least the RT60
    exponent = -np.log(1.0 - room.eyring_absorption())
    for _ in range(passes):
        absorption = float(np.clip(1.0 - np.exp(-exponent), 1e-3, 0.999))
        rir = _image_source_response(room, absorption, measure, sample_rate)
        try:
            exponent *= estimate_rt60(rir, sample_rate) / room.rt60
        except UserInputError:  # decays by under 25 dB: absorb more
            exponent *= 2.0
    rir = _image_source_response(room, float(np.clip(1.0 - np.exp(-exponent), 1e-3, 0.999)), count, sample_rate)
    return (rir * (0.9 / np.max(np.abs(rir)))).astype(np.float32)


def estimate_rt60(rir, sample_rate: int = SAMPLE_RATE) -> float:
    """RT60 measured from an impulse response: Schroeder backward integration, a straight line
    fitted to the energy decay curve from -5 to -25 dB (T20), extrapolated to 60 dB."""
    energy = np.asarray(rir, np.float64)[int(np.argmax(np.abs(rir))):] ** 2
    decay = np.cumsum(energy[::-1])[::-1]
    decay_db = 10 * np.log10(np.maximum(decay / decay[0], 1e-30))
    fit = (decay_db <= -5) & (decay_db >= -25)
    if fit.sum() < 2:
        raise UserInputError("the impulse response does not decay by 25 dB; it is too short to measure an RT60")
    slope = np.polyfit(np.flatnonzero(fit) / sample_rate, decay_db[fit], 1)[0]
    return float(-60.0 / slope)


def reverberate(speech, rir) -> np.ndarray:
    """``speech`` convolved with ``rir`` (float32, same length), the direct path kept at sample 0
    (the response's delay before its peak removed, so the sound stays in sync with the lips) and
    the result scaled to the dry speech's RMS (reverberation changes the sound, not its level)."""
    from scipy import signal

    speech = require_finite(np.asarray(speech, np.float64), "speech to reverberate", axes=("sample",))
    rir = require_finite(np.asarray(rir, np.float64), "room impulse response", axes=("sample",))
    if rir.size == 0 or not np.any(rir):
        raise UserInputError("the room impulse response is empty or silent")
    rir = rir[int(np.argmax(np.abs(rir))):]
    wet = signal.fftconvolve(speech, rir)[:speech.size]
    dry_rms, wet_rms = np.sqrt(np.mean(speech ** 2)), np.sqrt(np.mean(wet ** 2))
    return (wet * (dry_rms / wet_rms if wet_rms > 0 else 0.0)).astype(np.float32)
