"""Generation: a talking face from speech and a still (``avse speech2vid predict``)."""

from __future__ import annotations

import logging
import os

import numpy as np

from avse_tf.constants import FPS, SAMPLE_RATE
from avse_tf.errors import NoFaceError, UserInputError
from avse_tf.systems.speech2vid.pipeline import (
    IMAGE_EXTENSIONS,
    check_audio,
    compute_mfcc,
    identity_frames,
    mask_lower_half,
    mfcc_windows,
    num_video_frames,
)
from avse_tf.systems.speech2vid.train import load_model
from avse_tf.video.face_alignment import align_faces, crop_template

log = logging.getLogger(__name__)


def model_options(model):
    """``(image_size, num_identity, masked_target)`` of a generator checkpoint."""
    config = model.get_config()
    if "num_identity" not in config:
        raise UserInputError(f"model {model.name!r} is not a Speech2Vid generator; pass the train command's best.keras")
    return int(config["image_size"]), int(config["num_identity"]), bool(config["masked_target"])


def generate(model, windows, identity_faces, batch_size=32, deblur=None) -> np.ndarray:
    """Faces ``[T, S, S, 3]`` float in [0, 1] for MFCC windows ``[T, 12, 35]`` and K identity faces
    ``[K, S, S, 3]`` uint8 (the same stills for every frame, as the paper at test time)."""
    size, count, masked = model_options(model)
    stills = np.asarray(identity_faces)
    if len(stills) != count:
        stills = stills[identity_frames(len(stills), count)]
    stacked = np.concatenate(list(stills.astype(np.float32) / 255.0), axis=-1)
    outputs = []
    for start in range(0, len(windows), batch_size):
        chunk = np.asarray(windows[start:start + batch_size], np.float32)
        inputs = {"mfcc": chunk, "identity": np.repeat(stacked[None], len(chunk), 0)}
        if masked:
            # No ground truth at test time: the first still's upper half gives the pose.
            inputs["masked_target"] = np.repeat(mask_lower_half(stills[:1].astype(np.float32) / 255.0), len(chunk), 0)
        faces = np.asarray(model(inputs, training=False)["face"])
        if deblur is not None:
            faces = np.clip(np.asarray(deblur(faces, training=False)), 0.0, 1.0)
        outputs.append(faces)
    return np.concatenate(outputs, 0)


def read_face_source(path, num_identity, image_size, shape_predictor=None):
    """Frames, landmarks and aligned stills from a face image or a video (evenly spaced frames).

    Returns ``(full_frames [K, H, W, 3], landmarks [K, 68, 2], faces [K, S, S, 3], matrices, template)``.
    """
    import cv2

    from avse_tf.video.landmarks import LandmarkExtractor

    extractor = LandmarkExtractor(shape_predictor)
    if not os.path.isfile(path):
        raise UserInputError(f"face file not found: {path}; pass -f with an image or a video of a face")
    if path.lower().endswith(IMAGE_EXTENSIONS):
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise UserInputError(f"cannot read image {path}: corrupt or not an image; give a JPEG/PNG of a face")
        frames = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)[None]
        box = extractor.detect(cv2.cvtColor(frames[0], cv2.COLOR_RGB2GRAY))
        if box is None:
            raise NoFaceError(f"no face found in image {path}; give a frontal face at least ~80 pixels wide")
        points = extractor.shape(cv2.cvtColor(frames[0], cv2.COLOR_RGB2GRAY), box)[None]
    else:
        from avse_tf.video.io import read_video

        video, _ = read_video(path)
        track = extractor.extract(video, source=path)
        chosen = identity_frames(len(video), num_identity)
        frames, points = video[chosen], track.points[chosen]
    template = crop_template(points.mean(0), image_size)
    faces, _, matrices = align_faces(frames, points, image_size, template)
    return frames, points, faces, matrices, template


def paste_back(frame, face, matrix, template):
    """Put an aligned generated face back into the full frame (inverse similarity warp, then
    Poisson blending inside the face's convex hull, as the paper's re-dubbing)."""
    import cv2

    height, width = frame.shape[:2]
    inverse = cv2.invertAffineTransform(matrix)
    warped = cv2.warpAffine(face, inverse, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    hull_points = template @ inverse[:, :2].T + inverse[:, 2]
    mask = np.zeros((height, width), np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(hull_points.astype(np.int32)), 255)
    mask = cv2.erode(mask, np.ones((5, 5), np.uint8))
    x, y, w, h = cv2.boundingRect(mask)
    if w < 8 or h < 8 or x <= 0 or y <= 0 or x + w >= width or y + h >= height:
        alpha = (cv2.GaussianBlur(mask, (0, 0), 3)[..., None] / 255.0)
        return (warped * alpha + frame * (1 - alpha)).astype(np.uint8)
    centre = (x + w // 2, y + h // 2)
    return cv2.seamlessClone(warped, frame, mask, centre, cv2.NORMAL_CLONE)


def predict(model_path, audio_path, face_path, output_path, deblur_path=None, full_frame=False,
            shape_predictor=None, batch_size=32) -> dict:
    """Write a 25 fps mp4 of the face in ``face_path`` speaking ``audio_path`` (audio muxed in).

    ``model_path`` / ``deblur_path``: ``.keras`` files or experiment folders, or loaded models.
    ``audio_path``: a wav (any rate) or any video's sound track. ``face_path``: an image, or a
    video (K evenly spaced frames give the identity stills). One frame per 40 ms of audio
    (``ceil(duration * 25)``). ``full_frame``: paste the generated face back into the frame the
    first still comes from (paper §4, re-dubbing); else the aligned S x S face is written.
    """
    from avse_tf.audio.io import load_audio
    from avse_tf.video.io import write_video

    model = load_model(model_path, "model") if isinstance(model_path, (str, os.PathLike)) else model_path
    deblur = load_model(deblur_path, "deblurring model") if isinstance(deblur_path, (str, os.PathLike)) \
        else deblur_path
    size, count, _ = model_options(model)
    waveform = check_audio(load_audio(audio_path, SAMPLE_RATE), audio_path)
    frames, _, faces, matrices, template = read_face_source(face_path, count, size, shape_predictor)
    num_frames = num_video_frames(waveform.size)
    generated = generate(model, mfcc_windows(compute_mfcc(waveform), num_frames), faces, batch_size, deblur)
    video = (generated * 255.0 + 0.5).astype(np.uint8)
    if full_frame:
        video = np.stack([paste_back(frames[0], face, matrices[0], template) for face in video])
        if video.shape[1] % 2 or video.shape[2] % 2:  # H.264 4:2:0 needs even sizes
            video = video[:, : video.shape[1] // 2 * 2, : video.shape[2] // 2 * 2]
    write_video(output_path, video, FPS, audio=waveform, sample_rate=SAMPLE_RATE)
    return {"output": output_path, "frames": int(num_frames), "seconds": waveform.size / SAMPLE_RATE,
            "size": list(video.shape[1:3])}


class TalkingFace:
    """A loaded Speech2Vid generator (what :func:`avse_tf.load` returns for this system):
    ``speech_to_video(audio, face, output)`` writes the face speaking the audio (:func:`predict`)."""

    system = "speech2vid"

    def __init__(self, keras_model, source, deblur=None):
        self.keras_model = keras_model
        self.source = source
        self.deblur = deblur
        self.model_id = keras_model.name

    @classmethod
    def from_path(cls, path, deblur=None):
        """A generator ``.keras`` (or its experiment folder / keras export); ``deblur``: the optional
        refinement network's."""
        path = os.fspath(path)
        if os.path.isdir(path) and os.path.isfile(os.path.join(path, "model.keras")):
            path = os.path.join(path, "model.keras")
        model = load_model(path, "model")
        model_options(model)  # a one-line error now if this is not a generator
        return cls(model, path, load_model(os.fspath(deblur), "deblurring model") if deblur else None)

    def speech_to_video(self, audio_path, face_path, output_path, full_frame=False, shape_predictor=None,
                        batch_size=32) -> dict:
        return predict(self.keras_model, audio_path, face_path, output_path, self.deblur, full_frame,
                       shape_predictor, batch_size)
