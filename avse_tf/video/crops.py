"""Face and mouth crops located by 68-point landmarks (Speech2Vid, lip-to-speech, denoising).

:func:`face_crop` and :func:`mouth_crop` frame each frame on its own landmarks; :func:`stable_mouth_track`
gives one crop size per clip and a smoothed mouth centre, so the lips do not jitter or zoom from
frame to frame (lip-to-speech models read motion, and landmark noise would be motion too).
"""

from __future__ import annotations

import numpy as np

from avse_tf.video.landmarks import JAW, MOUTH, NUM_POINTS


def square_crop(frame, centre, half_size, size):
    """The square of half side ``half_size`` around ``centre`` (x, y pixels), resized to ``size`` x ``size``."""
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
    return square_crop(frame, centre, half, size)


def mouth_crop(frame, landmarks, size: int = 96, margin: float = 0.5) -> np.ndarray:
    """Square crop around the 20 mouth points (48-67), enlarged by ``margin``."""
    points = np.asarray(landmarks, np.float32).reshape(NUM_POINTS, 2)[MOUTH]
    low, high = points.min(axis=0), points.max(axis=0)
    centre = (low + high) / 2
    half = (high - low).max() / 2 * (1 + margin)
    return square_crop(frame, centre, half, size)


def stable_mouth_track(landmarks, face_fraction: float = 0.9, smoothing: int = 5):
    """``(centres [T, 2], half_size)`` for mouth crops of one clip from ``[T, 68, 2]`` landmarks.

    The centre is the mean of the 20 mouth points, smoothed by a centred moving average of
    ``smoothing`` frames (edges repeated); the square's side is ``face_fraction`` x the clip's median
    jaw width (points 0-16), about the lips-to-chin region VCA-GAN's fixed 136-pixel crop of a
    256-pixel aligned face keeps.
    """
    points = np.asarray(landmarks, np.float32).reshape(-1, NUM_POINTS, 2)
    centres = points[:, MOUTH].mean(axis=1)
    if smoothing > 1 and len(centres) > 1:
        half = int(smoothing) // 2
        padded = np.pad(centres, ((half, half), (0, 0)), mode="edge")
        kernel = np.ones(2 * half + 1, np.float32) / (2 * half + 1)
        centres = np.stack([np.convolve(padded[:, axis], kernel, mode="valid") for axis in range(2)], axis=1)
    jaw = points[:, JAW, 0]
    width = float(np.median(jaw.max(axis=1) - jaw.min(axis=1)))
    return centres.astype(np.float32), max(4.0, width * face_fraction / 2)
