"""A rendered talking face for the synthetic corpus: identity per speaker, mouth shape per phoneme.

The face is drawn with OpenCV primitives and a light blur so that dlib's HOG frontal detector and
its 68-point shape predictor treat it as a face (checked by the tests: detection in >= 95 % of
frames, lip landmarks that open and close with the speech). Mouth shapes are visemes chosen per
espeak phoneme of the corpus language (closed for p/b/m, rounded for u/o, wide open for a, ...:
:mod:`avse_tf.data.synth.visemes`), smoothed over time for coarticulation, so the landmarks carry
phonetic information beyond the loudness envelope.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from avse_tf.constants import FPS
from avse_tf.data.synth.visemes import mouth_intervals

WIDTH, HEIGHT = 360, 288  # GRID's frame size

def mouth_track(phonemes, num_frames: int, fps: float = FPS, offset: float = 0.0,
                smoothing_frames: float = 0.8, language: str = "en"):
    """Per-frame jaw opening and lip width from ``(phoneme, start_s, end_s)`` intervals.

    ``offset`` shifts the phoneme times (the leading silence of the clip). A frame takes the
    viseme of the phoneme sounding at its centre; a Gaussian of ``smoothing_frames`` frames
    blends neighbours the way articulators anticipate the next sound. ``language``: how the
    phonemes are named (:func:`~avse_tf.data.synth.visemes.viseme`).
    """
    opening = np.zeros(num_frames, np.float64)
    width = np.ones(num_frames, np.float64)
    times = (np.arange(num_frames) + 0.5) / fps
    for start, end, jaw, lips, _ in mouth_intervals(phonemes, language):
        active = (times >= start + offset) & (times < end + offset)
        opening[active] = jaw
        width[active] = lips
    if smoothing_frames > 0:
        radius = int(np.ceil(3 * smoothing_frames))
        kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / smoothing_frames) ** 2)
        kernel /= kernel.sum()
        opening = np.convolve(np.pad(opening, radius, mode="edge"), kernel, mode="valid")
        width = np.convolve(np.pad(width, radius, mode="edge"), kernel, mode="valid")
    return opening, width


@dataclasses.dataclass(frozen=True)
class FaceIdentity:
    """What makes one synthetic speaker look like themself."""

    skin: tuple
    hair: tuple
    background: tuple
    iris: tuple
    lips: tuple
    face_width: int
    face_height: int
    eye_spacing: int
    mouth_width: int
    centre_x: int
    centre_y: int
    long_hair: bool

    @classmethod
    def random(cls, rng, female: bool = False) -> "FaceIdentity":
        tone = rng.uniform(0.45, 1.0)
        skin = tuple(int(c) for c in np.array([225, 185, 150]) * (0.55 + 0.45 * tone))
        hair = tuple(int(c) for c in rng.uniform(15, 110) * np.array([1.0, 0.8, 0.6]))
        background = tuple(int(c) for c in rng.uniform(60, 160, size=3))
        return cls(
            skin=skin, hair=hair, background=background,
            iris=tuple(int(c) for c in rng.uniform(30, 110, size=3)),
            lips=tuple(int(c) for c in np.array([170, 80, 90]) * rng.uniform(0.8, 1.05)),
            face_width=int(rng.integers(56, 68)), face_height=int(rng.integers(74, 86)),
            eye_spacing=int(rng.integers(23, 28)), mouth_width=int(rng.integers(19, 25)),
            centre_x=int(rng.integers(170, 191)), centre_y=int(rng.integers(140, 156)),
            long_hair=bool(female),
        )


def render_face(identity: FaceIdentity, opening: float, lip_width: float = 1.0,
                head_dx: float = 0.0, head_dy: float = 0.0, eyelid: float = 0.0) -> np.ndarray:
    """One RGB uint8 ``[288, 360, 3]`` frame with the jaw ``opening`` (0..1), ``lip_width`` factor and
    ``eyelid`` closure (0 open .. 1 closed)."""
    image = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    image[:] = identity.background
    cx = int(round(identity.centre_x + head_dx))
    cy = int(round(identity.centre_y + head_dy))
    skin = identity.skin
    shade = tuple(int(c * 0.72) for c in skin)
    jaw = int(round(9 * opening))
    if identity.long_hair:
        cv2.rectangle(image, (cx - identity.face_width - 12, cy - 20), (cx + identity.face_width + 12, cy + 95), identity.hair, -1)
    cv2.ellipse(image, (cx, cy - 20), (identity.face_width + 10, identity.face_height + 8), 0, 0, 360, identity.hair, -1)
    cv2.rectangle(image, (cx - 28, cy + 60), (cx + 28, HEIGHT), tuple(int(c * 0.85) for c in skin), -1)
    cv2.ellipse(image, (cx, cy + 5 + jaw // 2), (identity.face_width, identity.face_height + jaw // 2), 0, 0, 360, skin, -1)
    for side in (-1, 1):
        eye_x = cx + side * identity.eye_spacing
        cv2.ellipse(image, (eye_x, cy - 30), (16, 5), 0, 180, 360, tuple(int(c * 0.6) for c in identity.hair), 3)
        cv2.ellipse(image, (eye_x, cy - 15), (12, 6), 0, 0, 360, (245, 245, 245), -1)
        cv2.circle(image, (eye_x, cy - 15), 5, identity.iris, -1)
        cv2.circle(image, (eye_x, cy - 15), 2, (10, 10, 10), -1)
        if eyelid > 0:  # the upper lid comes down from the top of the eye; its lashes are a dark edge
            drop = int(round(13 * eyelid))
            cv2.ellipse(image, (eye_x, cy - 21), (14, drop), 0, 0, 180, skin, -1)
            cv2.ellipse(image, (eye_x, cy - 21), (14, drop), 0, 0, 180, tuple(int(c * 0.5) for c in identity.hair), 1)
    nose = np.array([[cx, cy - 12], [cx - 9, cy + 18], [cx + 9, cy + 18]], np.int32)
    cv2.polylines(image, [nose], False, shade, 2)
    cv2.ellipse(image, (cx, cy + 19), (10, 4), 0, 0, 180, tuple(int(c * 0.6) for c in skin), 2)
    mouth_y = cy + 42 + jaw // 3
    half_width = int(round(identity.mouth_width * lip_width))
    half_height = int(round(2 + 14 * opening))
    cv2.ellipse(image, (cx, mouth_y), (half_width, half_height), 0, 0, 360, (60, 20, 40), -1)
    cv2.ellipse(image, (cx, mouth_y), (half_width, max(half_height, 3)), 0, 0, 360, identity.lips, 3)
    return cv2.GaussianBlur(image, (5, 5), 1.5)
