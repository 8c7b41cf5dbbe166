"""Signal generators of the noise bank: one function per kind of non-speech noise.

Hegde et al. (WACV 2021, fact sheet shared/papers/pseudo_visual_denoising.md) mix clean LRS3 speech
with VGGSound clips, i.e. everyday sounds that are not speech. VGGSound is not redistributable here,
so these generators make a seeded stand-in covering the same families: stationary broadband noise,
tonal hum, modulated machinery, impulsive events, dense textures and music. ``--noise_data_root``
(:func:`avse_tf.data.noise.bank.noise_clips`) takes a real VGGSound-style folder instead.

Every generator is ``generate(rng, seconds, sample_rate) -> float32 [samples]``: all randomness from
the ``numpy.random.Generator`` it is given (so a seed fixes the samples), any duration, and the same
level rule (:func:`set_level`: RMS 0.1, i.e. -20 dBFS, unless that would push a peak over 0.9, so a
16-bit wav never clips). Mixing sets the level relative to the speech anyway
(:func:`avse_tf.data.noise.mixing.mix_at_snr`).
"""

from __future__ import annotations

import numpy as np

from avse_tf.constants import SAMPLE_RATE

TARGET_RMS = 0.1
MAX_PEAK = 0.9


def set_level(waveform: np.ndarray) -> np.ndarray:
    """``waveform`` scaled to RMS :data:`TARGET_RMS`, or less if its peak would exceed :data:`MAX_PEAK`."""
    waveform = np.asarray(waveform, np.float64)
    rms = float(np.sqrt(np.mean(waveform ** 2))) if waveform.size else 0.0
    if rms == 0.0:
        return waveform.astype(np.float32)
    gain = min(TARGET_RMS / rms, MAX_PEAK / float(np.max(np.abs(waveform))))
    return (waveform * gain).astype(np.float32)


def _samples(seconds: float, sample_rate: int) -> int:
    count = int(round(float(seconds) * sample_rate))
    if count < 1:
        raise ValueError(f"a noise clip needs a positive duration, got {seconds} s")
    return count


def _sos(kind: str, cutoff, sample_rate: int, order: int = 4):
    from scipy import signal

    return signal.butter(order, cutoff, kind, fs=sample_rate, output="sos")


def _filter(sos, waveform):
    from scipy import signal

    return signal.sosfilt(sos, waveform)


def _smooth_random(rng, count: int, sample_rate: int, rate_hz: float) -> np.ndarray:
    """A slowly varying random curve (mean 0, std ~1) changing about ``rate_hz`` times a second:
    white noise at ``rate_hz`` points per second, linearly interpolated."""
    points = max(2, int(np.ceil(count / sample_rate * rate_hz)) + 2)
    knots = rng.standard_normal(points)
    return np.interp(np.arange(count) * rate_hz / sample_rate, np.arange(points), knots)


def shaped_noise(rng, count: int, exponent: float, sample_rate: int = SAMPLE_RATE,
                 floor_hz: float = 20.0) -> np.ndarray:
    """Gaussian noise with power spectral density ~ f^-exponent (0 white, 1 pink, 2 brown).

    White Gaussian noise shaped in one FFT over the whole clip (amplitude x f^(-exponent/2)); below
    ``floor_hz`` the spectrum is held flat (brown noise's power would otherwise grow without bound
    towards DC) and DC is removed. Made in one FFT, the clip is periodic: it loops without a seam.
    """
    spectrum = np.fft.rfft(rng.standard_normal(count))
    frequencies = np.fft.rfftfreq(count, 1.0 / sample_rate)
    spectrum *= np.maximum(frequencies, floor_hz) ** (-exponent / 2.0)
    spectrum[0] = 0.0
    return np.fft.irfft(spectrum, count)


def pink_noise(rng, seconds: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Pink noise (-3 dB per octave): imitates broadband ambience such as a waterfall, wind in
    trees, distant traffic or a ventilation system. Gaussian noise shaped to a 1/f power spectrum."""
    return set_level(shaped_noise(rng, _samples(seconds, sample_rate), 1.0, sample_rate))


def brown_noise(rng, seconds: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Brown (red) noise (-6 dB per octave): imitates low rumble such as a car or plane cabin, surf
    or thunder far away. Gaussian noise shaped to a 1/f^2 power spectrum (flat below 20 Hz)."""
    return set_level(shaped_noise(rng, _samples(seconds, sample_rate), 2.0, sample_rate))


def mains_hum(rng, seconds: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mains hum: imitates the 50 Hz (Europe, Asia) or 60 Hz (Americas) buzz of a ground loop,
    a transformer, fluorescent lights or an amplifier. A fundamental (50 or 60 Hz, drawn) and its
    harmonics up to ~1 kHz, odd harmonics stronger than even (rectifier-like buzz), each with a
    random phase and +-3 dB level; a slow +-3 % level wobble and a noise floor 45 dB down."""
    count = _samples(seconds, sample_rate)
    fundamental = float(rng.choice([50.0, 60.0]))
    time = np.arange(count) / sample_rate
    hum = np.zeros(count)
    for harmonic in range(1, int(1000 // fundamental) + 1):
        level = (1.0 if harmonic % 2 else 0.4) / harmonic * 10 ** (rng.uniform(-3, 3) / 20)
        hum += level * np.sin(2 * np.pi * harmonic * fundamental * time + rng.uniform(0, 2 * np.pi))
    hum *= 1.0 + 0.03 * np.tanh(_smooth_random(rng, count, sample_rate, 0.5))
    hum += rng.standard_normal(count) * np.sqrt(np.mean(hum ** 2)) * 10 ** (-45 / 20)
    return set_level(hum)


def machinery(rng, seconds: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Machinery: imitates an engine, a fan, a compressor or a drill. Band-limited pink noise
    (80 Hz - 3 kHz) amplitude-modulated at a rotation rate of 8-30 Hz (drawn; drifting +-2 %
    with the load) and its second harmonic, plus a tone at the blade/cylinder-pass frequency
    (3-8 x the rotation rate) with two harmonics: the periodic envelope and the low tonal whine
    that distinguish a machine from stationary noise."""
    count = _samples(seconds, sample_rate)
    rotation = rng.uniform(8.0, 30.0)
    rate = rotation * (1.0 + 0.02 * np.tanh(_smooth_random(rng, count, sample_rate, 0.3)))
    phase = 2 * np.pi * np.cumsum(rate) / sample_rate
    carrier = _filter(_sos("bandpass", (80.0, 3000.0), sample_rate, 2), shaped_noise(rng, count, 1.0, sample_rate))
    carrier /= np.sqrt(np.mean(carrier ** 2)) + 1e-12
    depth, second = rng.uniform(0.6, 0.9), rng.uniform(0.1, 0.3)
    envelope = 1.0 + depth * np.cos(phase) + second * np.cos(2 * phase + rng.uniform(0, 2 * np.pi))
    envelope = np.maximum(envelope, 0.0)
    blades = int(rng.integers(3, 9))
    whine = sum(np.sin(harmonic * blades * phase + rng.uniform(0, 2 * np.pi)) / harmonic for harmonic in (1, 2, 3))
    return set_level(carrier * envelope + rng.uniform(0.2, 0.5) * whine)


def _click(rng, sample_rate):
    """A click: 0.2-1 ms exponentially decaying white noise (a switch, a keyboard, a clock)."""
    decay = rng.uniform(0.2e-3, 1e-3) * sample_rate
    length = int(decay * 6) + 1
    return rng.standard_normal(length) * np.exp(-np.arange(length) / decay)


def _impact(rng, sample_rate):
    """An impact: 2-4 damped resonances (80-1200 Hz, 10-60 ms decay) struck by a 2 ms noise burst
    (a door, a footstep, a dropped object, a hammer)."""
    decay = rng.uniform(10e-3, 60e-3) * sample_rate
    length = int(decay * 6) + 1
    time = np.arange(length)
    event = np.zeros(length)
    for _ in range(int(rng.integers(2, 5))):
        frequency = rng.uniform(80.0, 1200.0)
        event += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * frequency * time / sample_rate) \
            * np.exp(-time / (decay * rng.uniform(0.5, 1.0)))
    burst = min(length, int(2e-3 * sample_rate))
    event[:burst] += rng.standard_normal(burst) * np.linspace(1.0, 0.0, burst)
    return event


def clicks_impacts(rng, seconds: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Clicks and impacts: imitates keyboards, switches, footsteps, doors, cutlery, hammering.
    Sparse events (a Poisson process of 0.5-3 events per second, at least one per clip), each a
    click or an impact (half each; :func:`_click`, :func:`_impact`) at a level spread over 20 dB,
    on a floor 70 dB down: mostly near-silence with loud, short, broadband events."""
    count = _samples(seconds, sample_rate)
    events_per_second = rng.uniform(0.5, 3.0)
    events = max(1, int(rng.poisson(events_per_second * count / sample_rate)))
    signal = rng.standard_normal(count) * 10 ** (-70 / 20)
    for start in np.sort(rng.integers(0, count, size=events)):
        event = _click(rng, sample_rate) if rng.random() < 0.5 else _impact(rng, sample_rate)
        event *= 10 ** (rng.uniform(-20, 0) / 20) / (np.max(np.abs(event)) + 1e-12)
        end = min(count, start + event.size)
        signal[start:end] += event[:end - start]
    return set_level(signal)


def rain(rng, seconds: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Rain: imitates rain on a roof or a window, a shower, frying, applause far away. A dense
    train of drops (100-600 per second, Poisson; heavy-tailed amplitudes) each a 0.3-3 ms decaying
    noise burst, over a hiss bed, all high-passed at 0.8-1.5 kHz (drawn), with 0.5-2 s gusts of
    intensity: filtered bursts, brighter and burstier than stationary noise."""
    count = _samples(seconds, sample_rate)
    drops = np.zeros(count)
    total = int(rng.poisson(rng.uniform(100.0, 600.0) * count / sample_rate))
    np.add.at(drops, rng.integers(0, count, size=total), rng.pareto(2.5, size=total) + 0.2)
    decay = rng.uniform(0.3e-3, 3e-3) * sample_rate
    burst = rng.standard_normal(int(decay * 6) + 1) * np.exp(-np.arange(int(decay * 6) + 1) / decay)
    drops = np.convolve(drops, burst)[:count]
    bed = rng.standard_normal(count) * np.sqrt(np.mean(drops ** 2)) * rng.uniform(0.2, 0.5)
    gusts = np.exp(0.4 * _smooth_random(rng, count, sample_rate, rng.uniform(0.5, 2.0)))
    cutoff = rng.uniform(800.0, 1500.0)
    return set_level(_filter(_sos("highpass", cutoff, sample_rate), (drops + bed) * gusts))


A4_HZ = 440.0  # equal temperament on A4 = 440 Hz (MIDI note 69)


def midi_frequency(note) -> np.ndarray:
    """Frequency in Hz of MIDI note number(s) in equal temperament (A4 = MIDI 69 = 440 Hz)."""
    return A4_HZ * 2.0 ** ((np.asarray(note, np.float64) - 69) / 12)


def music(rng, seconds: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Music-like tones and chords: imitates a piano, a guitar, a music box or a radio playing in
    the room. A sequence at 70-150 beats per minute of events lasting 1-2 beats, each a major or
    minor triad (root MIDI 48-72) or a single melody note (MIDI 60-84), half each, in equal
    temperament; one timbre per clip (4-8 harmonic partials, amplitude k^-(1..2)); a 10 ms attack
    and an exponential 0.2-0.8 s decay, so notes ring over each other. Tonal: strong spectral peaks
    at note frequencies and their harmonics, like voiced speech but at musical intervals."""
    count = _samples(seconds, sample_rate)
    beat = 60.0 / rng.uniform(70.0, 150.0)
    partials = int(rng.integers(4, 9))
    rolloff = rng.uniform(1.0, 2.0)
    decay = rng.uniform(0.2, 0.8)
    amplitudes = np.arange(1, partials + 1) ** -rolloff
    signal = np.zeros(count)
    start = 0.0
    while start * sample_rate < count:
        length = beat * int(rng.integers(1, 3))
        if rng.random() < 0.5:
            root = int(rng.integers(48, 73))
            notes = [root, root + (4 if rng.random() < 0.5 else 3), root + 7]
        else:
            notes = [int(rng.integers(60, 85))]
        first = int(start * sample_rate)
        ring = min(count - first, int((length + 4 * decay) * sample_rate))
        time = np.arange(ring) / sample_rate
        envelope = np.minimum(time / 0.01, 1.0) * np.exp(-time / decay)
        for frequency in midi_frequency(notes):
            for number, amplitude in enumerate(amplitudes, start=1):
                if number * frequency < sample_rate / 2 * 0.95:  # no partial folds back
                    signal[first:first + ring] += amplitude * envelope * np.sin(
                        2 * np.pi * number * frequency * time + rng.uniform(0, 2 * np.pi))
        start += length
    return set_level(signal)
