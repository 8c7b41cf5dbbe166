"""Wav2Lip-style face crops: the detected face box, padded at the bottom, resized to 96 x 96 RGB.

The original (Wav2Lip's ``preprocess.py``, reused by Hegde et al.) runs the S3FD detector on every
frame, writes the raw box as ``<frame>.jpg`` at its native size and resizes to 96 x 96 when it
loads it; its ``inference.py`` pads the box by 10 pixels at the bottom (``--pads 0 10 0 0``) so the
chin is in, and smooths the boxes over 5 frames. Here (departures):

* the shared dlib detector + correlation tracker (:meth:`avse_tf.video.landmarks.LandmarkExtractor.boxes`:
  detection every 8 frames and whenever tracking weakens) instead of S3FD; frames before the first
  detection take its box;
* dlib's box is tighter than S3FD's (it stops at the lower lip / chin), so the bottom padding is a
  fraction of the box height (:data:`BOTTOM_PAD_FRACTION`, ~ the chin) instead of 10 pixels;
* the boxes are smoothed over 5 frames (inference's ``get_smoothened_boxes``) for preprocessing too,
  so the crops do not jitter;
* crops are written at 96 x 96 (what the models read; the aspect ratio is not kept, as the
  original's ``cv2.resize`` to 96 x 96 does not keep it either).

A clip where the detector sees several faces raises :class:`~avse_tf.errors.SeveralFacesError`,
one with no face :class:`~avse_tf.errors.NoFaceError`; the caller reports and skips it.
"""

from __future__ import annotations

import warnings

import numpy as np

from avse_tf.errors import InputWarning, NoFaceError

FACE_SIZE = 96
BOTTOM_PAD_FRACTION = 0.1
SMOOTHING_FRAMES = 5


def smooth_boxes(boxes, frames: int = SMOOTHING_FRAMES) -> np.ndarray:
    """``[T, 4]`` boxes averaged over the next ``frames`` frames (the window shifts back at the end),
    as Wav2Lip's ``get_smoothened_boxes``."""
    boxes = np.asarray(boxes, np.float64)
    smoothed = boxes.copy()
    for index in range(len(boxes)):
        start = min(index, max(0, len(boxes) - frames))
        smoothed[index] = boxes[start:start + frames].mean(axis=0)
    return smoothed


def face_boxes(frames, source: str = "video", extractor=None) -> np.ndarray:
    """``[T, 4]`` float ``(left, top, right, bottom)`` face boxes of ``[T, H, W, 3]`` uint8 RGB frames,
    bottom-padded, smoothed and clipped to the frame (module doc)."""
    import cv2

    from avse_tf.validation import check_single_face
    from avse_tf.video.landmarks import LandmarkExtractor

    gray = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame for frame in frames]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputWarning)  # several faces: an error below, not a warning
        boxes, detected, face_counts = (extractor or LandmarkExtractor()).boxes(gray)
    if not detected.any():
        raise NoFaceError(f"no face found in any of the {len(frames)} frames of {source}; the face must be "
                          "frontal and at least ~80 pixels wide, or leave this clip out")
    check_single_face(face_counts, source)
    first = int(np.argmax(detected))
    boxes = [boxes[first] if index < first else box for index, box in enumerate(boxes)]
    array = np.array([[box.left(), box.top(), box.right(), box.bottom()] for box in boxes], np.float64)
    array[:, 3] += BOTTOM_PAD_FRACTION * (array[:, 3] - array[:, 1])
    array = smooth_boxes(array)
    height, width = gray[0].shape[:2]
    array[:, [0, 2]] = np.clip(array[:, [0, 2]], 0, width)
    array[:, [1, 3]] = np.clip(array[:, [1, 3]], 0, height)
    return array


def face_crops(frames, source: str = "video", extractor=None, size: int = FACE_SIZE) -> np.ndarray:
    """``[T, size, size, 3]`` uint8 RGB face crops of ``[T, H, W, 3]`` uint8 RGB frames (module doc)."""
    import cv2

    boxes = np.round(face_boxes(frames, source, extractor)).astype(int)
    crops = []
    for frame, (left, top, right, bottom) in zip(frames, boxes):
        region = frame[top:max(bottom, top + 1), left:max(right, left + 1)]
        crops.append(cv2.resize(region, (size, size), interpolation=cv2.INTER_AREA))
    return np.stack(crops).astype(np.uint8)
