"""Face alignment for talking-face and lip models (Chung et al. 2017 §3.1).

The 68 dlib landmarks of each frame are aligned by a least-squares similarity (Umeyama /
Procrustes) on points 28-48 (nose and eyes, 1-based as in the paper) to a mean shape, and the
aligned face is cropped S x S. Departure: the mean shape is the clip's own mean landmarks placed
in the crop as :func:`avse_tf.video.crops.face_crop` frames a face (25 % margin), not a
dataset-wide mean, so a single still image needs no external template.
"""

from __future__ import annotations

import logging

import numpy as np

from avse_tf.video.landmarks import LEFT_EYE, NOSE, NUM_POINTS

log = logging.getLogger(__name__)

# The paper's landmarks 28-48 (1-based) are 0-based 27-47: nose, right eye, left eye, which follow
# one another (checked in tests/test_speech2vid.py).
ALIGN_POINTS = slice(NOSE.start, LEFT_EYE.stop)
CROP_MARGIN = 0.25

# ----------------------------------------------------------------------------------------------
# Alignment

def similarity_transform(source, target) -> np.ndarray:
    """2 x 3 least-squares similarity (rotation, uniform scale, translation) mapping ``source``
    points onto ``target`` points (Umeyama 1991), as a ``cv2.warpAffine`` matrix."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    mu_s, mu_t = source.mean(0), target.mean(0)
    s, t = source - mu_s, target - mu_t
    covariance = t.T @ s / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(singular) @ sign) / max(s.var(0).sum(), 1e-12)
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = mu_t - scale * rotation @ mu_s
    return matrix.astype(np.float32)


def crop_template(mean_shape, size: int, margin: float = CROP_MARGIN) -> np.ndarray:
    """The mean shape ``[68, 2]`` placed in an ``size`` crop as ``face_crop`` frames a face."""
    points = np.asarray(mean_shape, np.float64).reshape(NUM_POINTS, 2)
    low, high = points.min(0), points.max(0)
    half = max(4.0, (high - low).max() / 2 * (1 + margin))
    return ((points - (low + high) / 2) * size / (2 * half) + size / 2).astype(np.float32)


def align_faces(frames, landmarks, size: int, template=None):
    """Aligned ``size`` x ``size`` crops of ``frames`` ``[T, H, W, 3]`` with landmarks ``[T, 68, 2]``.

    Returns ``(faces [T, S, S, 3] uint8, points [T, 68, 2] in the crop, matrices [T, 2, 3])``;
    ``template`` defaults to :func:`crop_template` of the mean landmarks.
    """
    import cv2

    landmarks = np.asarray(landmarks, np.float32).reshape(len(frames), NUM_POINTS, 2)
    template = crop_template(landmarks.mean(0), size) if template is None else template
    faces, points, matrices = [], [], []
    for frame, shape in zip(frames, landmarks):
        matrix = similarity_transform(shape[ALIGN_POINTS], template[ALIGN_POINTS])
        faces.append(cv2.warpAffine(frame, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE))
        points.append(shape @ matrix[:, :2].T + matrix[:, 2])
        matrices.append(matrix)
    return np.stack(faces).astype(np.uint8), np.stack(points).astype(np.float32), np.stack(matrices)
