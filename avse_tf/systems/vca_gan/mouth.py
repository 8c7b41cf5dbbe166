"""One speaker's lips as VCA-GAN reads them: 112 x 112 grayscale crops centred on the mouth.

Fact sheet: aligned face, fixed crop -> 112 x 112 grayscale lips (the original aligns GRID faces to a
reference and keeps a fixed 136-pixel square of the 256-pixel face, then resizes to 112). Here the
shared dlib detector + correlation tracker (:class:`avse_tf.video.landmarks.LandmarkExtractor`) gives
68 points per frame, and :func:`avse_tf.video.crops.stable_mouth_track` one square per clip (0.9 x the
median jaw width) around the smoothed mouth centre: no similarity alignment, so a rolling head
rolls in the crop too (a departure; frontal corpora such as GRID barely roll).

Clips the seed's ``crop_video_processing`` deleted (several faces, no face, unreadable) raise a
typed error here (:class:`~avse_tf.errors.SeveralFacesError`, :class:`~avse_tf.errors.NoFaceError`,
:class:`~avse_tf.errors.VideoReadError`); the callers report and skip them, never delete.
"""

from __future__ import annotations

import warnings

import numpy as np

from avse_tf.errors import InputWarning

CROP_SIZE = 112
FACE_FRACTION = 0.9  # crop side / median jaw width (module doc)


def mouth_crops(frames, source: str = "video", extractor=None, size: int = CROP_SIZE) -> np.ndarray:
    """``[T, size, size]`` uint8 grayscale mouth crops of ``[T, H, W]`` gray (or RGB) uint8 frames."""
    import cv2

    from avse_tf.validation import check_single_face
    from avse_tf.video.crops import square_crop, stable_mouth_track
    from avse_tf.video.landmarks import LandmarkExtractor

    gray = np.stack([frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in frames])
    with warnings.catch_warnings():
        # The tracker's "several faces, followed the largest" warning: here several faces are an error.
        warnings.simplefilter("ignore", InputWarning)
        track = (extractor or LandmarkExtractor()).extract(gray, source=source)  # NoFaceError: no face at all
    check_single_face(track.face_counts, source)
    centres, half = stable_mouth_track(track.points, FACE_FRACTION)
    return np.stack([square_crop(frame, centre, half, size) for frame, centre in zip(gray, centres)])
