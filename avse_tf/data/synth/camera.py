"""Camera-like video for the synthetic corpus (``video="camera"``, the default).

The legacy renderer makes the mouth an exact, instantaneous function of espeak's phoneme events,
in perfect sync with the audio, on a face that only sways by 1.5 px: close to an oracle for any
audio-visual model. A take here adds what a real recording has and the legacy one lacks:

- an audio-visual offset per utterance (uniform in +-``MAX_AV_OFFSET_S``, i.e. +-2 frames at
  25 fps; positive: the video lags the audio), recorded in the corpus description;
- coarticulated mouth motion: visemes reached with per-phoneme undershoot and variation, moved
  towards ``ANTICIPATION_S`` before the sound (articulators lead the acoustics) and smoothed so
  short phonemes blend into their neighbours; bilabial closures still close;
- blinks (about one every 3-4 s, 3-6 frames, fast closing and slower opening);
- head motion: a per-utterance pose (translation, in-plane rotation, scale) plus slow drift;
- lighting: per-utterance exposure, white balance and a side-light gradient, a slight flicker,
  and sensor noise before the MPEG-1 encoding.

Every random choice comes from the take's own generator, so a corpus stays bit-exact per seed.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from avse_tf.data.synth.face import HEIGHT, WIDTH
from avse_tf.data.synth.visemes import mouth_intervals

VIDEO_MODES = ("camera", "legacy")
MAX_AV_OFFSET_S = 0.08
ANTICIPATION_S = 0.04
_FINE_RATE = 200.0  # Hz, the grid the mouth trajectory is computed on before sampling at the frame rate


@dataclasses.dataclass(frozen=True)
class CameraTake:
    """The recording conditions of one utterance's video."""

    av_offset: float  # seconds; positive: the video lags the audio
    head: np.ndarray  # [T, 4]: dx, dy (pixels), roll (degrees), scale
    eyelid: np.ndarray  # [T]: 0 open .. 1 closed
    exposure: np.ndarray  # [T]: brightness gain
    white_balance: np.ndarray  # [3]: RGB gains
    side_light: float  # brightness slope across the frame (fraction of the mean per half width)
    noise_sigma: float  # sensor noise, grey levels
    noise_seed: int
    mouth_variation: int  # seed of the per-phoneme articulation variation


def _slow_wave(rng, num_frames: int, fps: float, amplitude: float, low_hz: float = 0.08, high_hz: float = 0.6):
    """A smooth bounded drift: three sinusoids of random frequency and phase, peak ~``amplitude``."""
    t = np.arange(num_frames) / fps
    frequencies = rng.uniform(low_hz, high_hz, size=3)
    phases = rng.uniform(0, 2 * np.pi, size=3)
    weights = rng.uniform(0.5, 1.0, size=3)
    wave = sum(w * np.sin(2 * np.pi * f * t + p) for w, f, p in zip(weights, frequencies, phases))
    return amplitude * wave / weights.sum()


def _blinks(rng, num_frames: int, fps: float) -> np.ndarray:
    eyelid = np.zeros(num_frames)
    time = rng.uniform(0.2, 3.0)
    while time < num_frames / fps:
        start = int(time * fps)
        closing, opening = int(rng.integers(1, 3)), int(rng.integers(2, 4))
        profile = np.concatenate([np.linspace(0.5, 1.0, closing), np.linspace(1.0, 0.0, opening + 1)[1:]])
        end = min(num_frames, start + profile.size)
        eyelid[start:end] = np.maximum(eyelid[start:end], profile[: end - start])
        time += rng.uniform(2.0, 5.0)
    return eyelid


def camera_take(rng, num_frames: int, fps: float) -> CameraTake:
    """Draw one utterance's recording conditions from ``rng``."""
    av_offset = float(rng.uniform(-MAX_AV_OFFSET_S, MAX_AV_OFFSET_S))
    pose = np.array([rng.uniform(-6, 6), rng.uniform(-4, 4), rng.uniform(-3, 3), rng.uniform(0.96, 1.04)])
    drift = np.stack([_slow_wave(rng, num_frames, fps, 3.0), _slow_wave(rng, num_frames, fps, 2.0),
                      _slow_wave(rng, num_frames, fps, 2.0), _slow_wave(rng, num_frames, fps, 0.02)], axis=1)
    exposure = rng.uniform(0.8, 1.15) * (1 + _slow_wave(rng, num_frames, fps, 0.02, 1.0, 3.0))
    return CameraTake(
        av_offset=av_offset, head=pose + drift, eyelid=_blinks(rng, num_frames, fps), exposure=exposure,
        white_balance=rng.uniform(0.93, 1.07, size=3), side_light=float(rng.uniform(-0.25, 0.25)),
        noise_sigma=float(rng.uniform(1.0, 3.0)), noise_seed=int(rng.integers(2 ** 31)),
        mouth_variation=int(rng.integers(2 ** 31)),
    )


def coarticulated_mouth_track(phonemes, num_frames: int, fps: float, offset: float, take: CameraTake,
                              language: str = "en"):
    """Per-frame jaw opening and lip width, as :func:`~avse_tf.data.synth.face.mouth_track` but
    with articulation (see the module doc) and the take's audio-visual offset.

    ``offset`` shifts the phoneme times (the clip's leading silence); frame ``i`` shows the mouth
    of audio time ``(i + 0.5) / fps - take.av_offset``. ``language``: how the phonemes are named
    (:func:`~avse_tf.data.synth.visemes.viseme`).
    """
    rng = np.random.default_rng(take.mouth_variation)
    duration = (num_frames + 2) / fps + MAX_AV_OFFSET_S + 1.0
    fine_times = np.arange(int(duration * _FINE_RATE)) / _FINE_RATE
    opening = np.zeros(fine_times.size)
    width = np.ones(fine_times.size)
    bilabial = np.zeros(fine_times.size, bool)
    for start, end, jaw, lips, bilabial_interval in mouth_intervals(phonemes, language):
        # the target is held from ANTICIPATION_S before the sound, undershot or overshot a little
        active = (fine_times >= start + offset - ANTICIPATION_S) & (fine_times < end + offset - ANTICIPATION_S)
        opening[active] = jaw * rng.uniform(0.75, 1.1)
        width[active] = 1.0 + (lips - 1.0) * rng.uniform(0.7, 1.1)
        if bilabial_interval:
            bilabial[active] = True
    # ~40 ms Gaussian smoothing: a short phoneme between two open vowels is partly swallowed
    sigma = 0.04 * _FINE_RATE
    radius = int(3 * sigma)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    opening = np.convolve(np.pad(opening, radius, mode="edge"), kernel, mode="valid")
    width = np.convolve(np.pad(width, radius, mode="edge"), kernel, mode="valid")
    opening[bilabial] = np.minimum(opening[bilabial], 0.08)  # lips do meet for p, b, m
    frame_times = (np.arange(num_frames) + 0.5) / fps - take.av_offset
    return (np.interp(frame_times, fine_times, np.clip(opening, 0.0, 1.0)),
            np.interp(frame_times, fine_times, width))


def film(image: np.ndarray, take: CameraTake, index: int, centre) -> np.ndarray:
    """Frame ``index`` of the take: ``image`` (a rendered face, uint8 RGB) moved by the head pose,
    lit and noised."""
    dx, dy, roll, scale = take.head[index]
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), float(roll), float(scale))
    matrix[:, 2] += (dx, dy)
    moved = cv2.warpAffine(image, matrix, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    columns = (np.arange(WIDTH, dtype=np.float32) - WIDTH / 2) / (WIDTH / 2)
    light = take.exposure[index] * (1.0 + take.side_light * columns)[None, :, None] * take.white_balance[None, None, :]
    noise = np.random.default_rng([take.noise_seed, index]).normal(0.0, take.noise_sigma, moved.shape)
    # in place on the noise buffer: the same values as clip(moved * light + noise).round(), without
    # three more full-frame temporaries (film is most of the corpus generator's time)
    noise += moved.astype(np.float32) * light.astype(np.float32)
    np.clip(noise, 0, 255, out=noise)
    return np.rint(noise, out=noise).astype(np.uint8)
