"""Face landmarks: dlib's HOG frontal detector, its 68-point shape predictor, a correlation tracker.

Tracking policy of the original code (Morrone 2019/2021): detect on the first frame, follow the
face with ``dlib.correlation_tracker`` and run the detector again every ``redetect_every`` (8)
frames or when the tracker's peak-to-side-lobe quality drops below ``min_quality`` (8.75). Frames
before the first detection take the first detected box.

Several faces (a departure: the original took whichever box dlib listed first): the first
detection takes the largest face, and every re-detection takes the face nearest to the one being
tracked, so the track stays on one person; the frames where more than one face was seen are named
in an :class:`~avse_tf.errors.InputWarning` (:func:`avse_tf.validation.warn_several_faces`).

The shape predictor model comes from the ``face-recognition-models`` package (the standard
``shape_predictor_68_face_landmarks.dat``); ``shape_predictor=PATH`` uses another file.

Files: one TXT per video, one row per frame, 136 numbers ``x0 y0 x1 y1 ... x67 y67`` (pixel
coordinates), e.g. 75 x 136 for a 3 s GRID clip, as the original ``video_preprocessing`` writes.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading

import numpy as np
from imutils.face_utils import FACIAL_LANDMARKS_68_IDXS, shape_to_np

from avse_tf.errors import NoFaceError, UserInputError
from avse_tf.validation import require_finite, warn_several_faces

NUM_POINTS = 68


def _part(name: str) -> slice:
    """0-based, end-exclusive index range of a face part in the 68-point (iBUG 300-W) scheme, by
    imutils' name for it (``imutils.face_utils.FACIAL_LANDMARKS_68_IDXS``)."""
    return slice(*FACIAL_LANDMARKS_68_IDXS[name])


# The one home of the ranges the code uses; imutils' "right"/"left" are the subject's (right eye =
# image left).
JAW = _part("jaw")  # 0-16
NOSE = _part("nose")  # 27-35: bridge 27-30, nostrils 31-35
RIGHT_EYE = _part("right_eye")  # 36-41
LEFT_EYE = _part("left_eye")  # 42-47
MOUTH = _part("mouth")  # 48-67
INNER_LIPS = _part("inner_mouth")  # 60-67: corner 60, top 61-63, corner 64, bottom 65-67


def default_shape_predictor() -> str:
    """face-recognition-models' 68-point model, found without importing the package: its
    ``__init__`` imports ``pkg_resources``, which setuptools >= 81 no longer ships (and Python >= 3.12
    venvs have no setuptools at all)."""
    import importlib.util

    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise UserInputError("face-recognition-models is not installed (pip install face-recognition-models), "
                             "or pass --shape_predictor PATH to a dlib 68-point model (.dat)")
    return os.path.join(list(spec.submodule_search_locations)[0], "models", "shape_predictor_68_face_landmarks.dat")


@functools.lru_cache(maxsize=4)
def _load_predictor(shape_predictor: str):
    """One shape predictor per file and process: dlib documents ``shape_predictor`` as safe to call
    from several threads at once (shape_predictor_abstract.h, "THREAD SAFETY")."""
    import dlib

    if not os.path.isfile(shape_predictor):
        raise UserInputError(f"shape predictor not found: {shape_predictor}; pass --shape_predictor PATH "
                             "to a dlib 68-point model (.dat) or omit it to use face-recognition-models'")
    try:
        return dlib.shape_predictor(shape_predictor)
    except RuntimeError as error:
        raise UserInputError(f"cannot load shape predictor {shape_predictor}: {error}") from None


_THREAD = threading.local()


def _frontal_detector():
    """This thread's HOG face detector. Its scanner keeps the image's feature pyramid in the object,
    so concurrent calls on one detector are unsafe (scan_fhog_pyramid_abstract.h, "THREAD SAFETY"):
    with one shared detector, threads got wrong boxes, and Beam's in-process runner aborted."""
    detector = getattr(_THREAD, "detector", None)
    if detector is None:
        import dlib

        detector = _THREAD.detector = dlib.get_frontal_face_detector()
    return detector


def shape_points(shape) -> np.ndarray:
    """A dlib ``full_object_detection`` as ``[num_parts, 2]`` float32 pixels (imutils' ``shape_to_np``)."""
    return shape_to_np(shape, dtype=np.float32)


@dataclasses.dataclass
class LandmarkTrack:
    """Landmarks of one video: ``points`` ``[T, 68, 2]`` float32 pixels; ``detected`` ``[T]`` bool
    marks frames where the detector itself found the face (others were tracked or filled);
    ``face_counts`` ``[T]`` the faces it found there (0 where it did not run)."""

    points: np.ndarray
    detected: np.ndarray
    face_counts: np.ndarray | None = None

    def flat(self) -> np.ndarray:
        """``[T, 136]`` in the TXT order x0 y0 x1 y1 ..."""
        return self.points.reshape(len(self.points), NUM_POINTS * 2)


class LandmarkExtractor:
    """Detector + tracker + 68-point predictor over a sequence of frames."""

    def __init__(self, shape_predictor: str | None = None, redetect_every: int = 8,
                 min_quality: float = 8.75, upsample: int = 0):
        self.shape_predictor = shape_predictor or default_shape_predictor()
        self.predictor = _load_predictor(os.path.abspath(self.shape_predictor))
        self.redetect_every = redetect_every
        self.min_quality = min_quality
        self.upsample = upsample

    def detect_all(self, gray: np.ndarray) -> list:
        """Every face box in a gray frame (tries one upsampling step if none at first)."""
        return _detect_all(_frontal_detector(), gray, self.upsample)

    def detect(self, gray: np.ndarray, near=None):
        """The largest face box in a gray frame, or the one whose centre is nearest to box ``near``;
        None without a face."""
        return _choose(self.detect_all(gray), near)

    def shape(self, gray: np.ndarray, box) -> np.ndarray:
        import dlib

        rect = dlib.rectangle(int(box.left()), int(box.top()), int(box.right()), int(box.bottom()))
        return shape_points(self.predictor(gray, rect))

    def boxes(self, gray_frames):
        """Per-frame face boxes following the detect/track policy, which frames were detected, and
        how many faces the detector found in each (module docstring: several faces)."""
        import dlib

        count = len(gray_frames)
        boxes = [None] * count
        detected = np.zeros(count, bool)
        face_counts = np.zeros(count, np.int32)
        tracker = None
        for index, gray in enumerate(gray_frames):
            box = None
            if tracker is not None:
                quality = tracker.update(gray)
                box = tracker.get_position()
            if tracker is None or index % self.redetect_every == 0 or quality < self.min_quality:
                candidates = self.detect_all(gray)
                face_counts[index] = len(candidates)
                found = _choose(candidates, box)
                if found is not None:
                    box, detected[index] = found, True
                    tracker = dlib.correlation_tracker()
                    tracker.start_track(gray, found)
            boxes[index] = box
        return boxes, detected, face_counts

    def extract(self, frames, source: str = "video") -> LandmarkTrack:
        """Landmarks for ``[T, H, W(, 3)]`` uint8 frames; :class:`NoFaceError` if no frame has a face."""
        import cv2

        gray_frames = [frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in frames]
        boxes, detected, face_counts = self.boxes(gray_frames)
        if not detected.any():
            raise NoFaceError(f"no face found in any of the {len(frames)} frames of {source}; "
                              "the face must be frontal and at least ~80 pixels wide")
        warn_several_faces(face_counts, source)
        first = int(np.argmax(detected))
        for index in range(first):  # frames before the first detection borrow its box
            boxes[index] = boxes[first]
        points = np.stack([self.shape(gray, box) for gray, box in zip(gray_frames, boxes)])
        return LandmarkTrack(points, detected, face_counts)

    def extract_file(self, video_path) -> LandmarkTrack:
        from avse_tf.video.io import read_video

        frames, _ = read_video(video_path, grayscale=True)
        return self.extract(frames, source=os.fspath(video_path))


def _detect_all(detector, gray: np.ndarray, upsample: int) -> list:
    for times in sorted({upsample, upsample + 1}):
        boxes = detector(gray, times)
        if len(boxes):
            return list(boxes)
    return []


def count_faces(gray_frames, upsample: int = 0) -> np.ndarray:
    """Faces dlib's detector finds in each gray frame, as :class:`LandmarkExtractor` would detect
    them; loads no shape predictor (about 1 s), for checks that only ask whether a face is there."""
    detector = _frontal_detector()
    return np.array([len(_detect_all(detector, np.ascontiguousarray(gray), upsample)) for gray in gray_frames],
                    np.int32)


def _choose(boxes, near=None):
    """The largest of ``boxes``, or the one whose centre is nearest to ``near``'s; None if empty."""
    if not boxes:
        return None
    if near is None:
        return max(boxes, key=lambda box: box.area())
    centre = near.center()
    return min(boxes, key=lambda box: (box.center().x - centre.x) ** 2 + (box.center().y - centre.y) ** 2)


def save_landmarks_txt(path, landmarks) -> None:
    """Write ``[T, 68, 2]`` or ``[T, 136]`` landmarks as the original's TXT (atomically)."""
    from avse_tf.utils import atomic_path

    flat = np.asarray(landmarks, np.float32).reshape(len(landmarks), NUM_POINTS * 2)
    with atomic_path(path) as temporary:
        np.savetxt(temporary, flat, fmt="%.2f")


def load_landmarks_txt(path, num_frames: int | None = None) -> np.ndarray:
    """Read a landmark TXT as ``[T, 136]`` float32, checking its shape (and ``num_frames`` if given)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise UserInputError(f"landmark file not found: {path}; run video_preprocessing first")
    try:
        values = np.loadtxt(path, dtype=np.float32, ndmin=2)
    except ValueError as error:
        raise UserInputError(f"landmark file {path} is not a numeric table: {error}") from None
    if values.size == 0 or values.shape[1] != NUM_POINTS * 2:
        raise UserInputError(f"landmark file {path} has shape {values.shape}; expected [frames, 136] "
                             "(x,y of 68 points per row); re-run video_preprocessing")
    if num_frames is not None and values.shape[0] != num_frames:
        raise UserInputError(f"landmark file {path} has {values.shape[0]} frames; expected {num_frames}")
    return require_finite(values, f"landmark file {path}", "re-extract it (avse landmarks or video_preprocessing)")


def mouth_opening(landmarks) -> np.ndarray:
    """Per-frame inner-lip opening in pixels: mean distance of points 61-63 to 67-65."""
    inner = np.asarray(landmarks, np.float32).reshape(-1, NUM_POINTS, 2)[:, INNER_LIPS]
    upper, lower = inner[:, [1, 2, 3]], inner[:, [7, 6, 5]]  # 61-63 over 67-65 (see INNER_LIPS)
    return np.linalg.norm(upper - lower, axis=-1).mean(axis=-1)
