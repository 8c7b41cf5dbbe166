"""The landmark lip-sync measure shared by the talking-face systems (Speech2Vid, the pseudo-visual
teacher): the inner-lip opening of faces, measured by dlib's 68-point shape predictor, to be
correlated (:func:`avse_tf.metrics.image.correlation`) with the speech envelope
(:func:`avse_tf.metrics.image.speech_envelope`) or with the real faces' opening.

The predictor needs a face box. One box serves every frame of a clip, real or generated, so all
are measured alike and a still image gets a constant opening (correlation 0): either the bounding
box of reference landmarks (``reference_points``: Speech2Vid's aligned faces, whose landmarks are
known) or a given ``box`` in crop pixels (Wav2Lip-style crops, whose box is where the crop was cut:
see the pseudo-visual system's ``evaluate_teacher``). Faces are upscaled to ``predictor_size``
first (dlib's predictor is trained on larger faces than 96-pixel crops).
"""

from __future__ import annotations

import numpy as np

from avse_tf.errors import MetricInputError


def measured_mouth_opening(faces, reference_points=None, predictor_size=192, shape_predictor=None,
                           box=None) -> np.ndarray:
    """``[T]`` inner-lip opening (in units of the crop size) of faces ``[T, S, S, 3]`` (uint8 or [0, 1])
    (module doc). The face box: the bounding box of the mean of ``reference_points`` (``[T, 68, 2]``
    or ``[68, 2]``, crop pixels), or ``box`` ``(left, top, right, bottom)`` in crop pixels."""
    import cv2
    import dlib

    from avse_tf.video.landmarks import LandmarkExtractor, mouth_opening

    if (reference_points is None) == (box is None):
        raise MetricInputError("measured_mouth_opening needs exactly one of reference_points and box")
    extractor = LandmarkExtractor(shape_predictor)
    faces = np.asarray(faces)
    if faces.ndim != 4 or faces.shape[-1] != 3:
        raise MetricInputError(f"faces must be [T, S, S, 3] RGB crops, got shape {faces.shape}")
    if faces.dtype != np.uint8:
        faces = (np.clip(faces, 0, 1) * 255 + 0.5).astype(np.uint8)
    scale = predictor_size / faces.shape[1]
    if box is None:
        points = np.asarray(reference_points, np.float32).reshape(-1, 68, 2).mean(0)
        low, high = points.min(0), points.max(0)
    else:
        low, high = np.asarray(box[:2], np.float32), np.asarray(box[2:], np.float32)
    low, high = low * scale, high * scale
    rectangle = dlib.rectangle(int(low[0]), int(low[1]), int(high[0]), int(high[1]))
    openings = []
    for face in faces:
        gray = cv2.cvtColor(cv2.resize(face, (predictor_size, predictor_size), interpolation=cv2.INTER_CUBIC),
                            cv2.COLOR_RGB2GRAY)
        openings.append(mouth_opening(extractor.shape(gray, rectangle))[0] / predictor_size)
    return np.asarray(openings, np.float32)


__all__ = ["measured_mouth_opening"]
