"""Face and mouth crops located by 68-point landmarks (Speech2Vid, lip-to-speech, denoising)."""

from __future__ import annotations

import numpy as np

from avse_tf.video.landmarks import MOUTH, NUM_POINTS


def _crop(frame, centre, half_size, size):
    import cv2

    height, width = frame.shape[:2]
    cx, cy = centre
    half = max(4.0, float(half_size))
    # Affine crop: regions that leave the frame are filled by edge replication, never a shape error.
    matrix = np.array([[size / (2 * half), 0, size / 2 - cx * size / (2 * half)],
                       [0, size / (2 * half), size / 2 - cy * size / (2 * half)]], np.float32)
    return cv2.warpAffine(frame, matrix, (size, size), flags=cv2.INTER_AREA if half * 2 > size else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def face_crop(frame, landmarks, size: int = 112, margin: float = 0.25) -> np.ndarray:
    """Square crop around all 68 points, enlarged by ``margin``, resized to ``size`` x ``size``."""
    points = np.asarray(landmarks, np.float32).reshape(NUM_POINTS, 2)
    low, high = points.min(axis=0), points.max(axis=0)
    centre = (low + high) / 2
    half = (high - low).max() / 2 * (1 + margin)
    return _crop(frame, centre, half, size)


def mouth_crop(frame, landmarks, size: int = 96, margin: float = 0.5) -> np.ndarray:
    """Square crop around the 20 mouth points (48-67), enlarged by ``margin``."""
    points = np.asarray(landmarks, np.float32).reshape(NUM_POINTS, 2)[MOUTH]
    low, high = points.min(axis=0), points.max(axis=0)
    centre = (low + high) / 2
    half = (high - low).max() / 2 * (1 + margin)
    return _crop(frame, centre, half, size)
