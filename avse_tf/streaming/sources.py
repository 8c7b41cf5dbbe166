"""Where a stream's side inputs come from: face landmarks (a file or a live camera) and simulated
packet loss.

Landmarks are on the video clock (25 fps, stream time 0 = video frame 0); :func:`video_features`
puts them on a processor's STFT frame grid, chunk by chunk. :class:`PacketLoss` turns dropped
packets into the digital silence that packet-loss processors (``uses_packet_loss``) fill.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from avse_tf.constants import FPS
from avse_tf.errors import UserInputError

# ----------------------------------------------------------------------------------------------
# Landmark sources

class LandmarkTimeline:
    """Landmarks ``[frames, 136]`` at ``fps``: ``at(positions)`` interpolates linearly at fractional
    video-frame positions, holding the first / last frame outside the clip."""

    def __init__(self, landmarks, fps: float = FPS, source: str = "landmarks"):
        landmarks = np.asarray(landmarks, np.float32)
        if landmarks.ndim != 2 or len(landmarks) == 0:
            raise UserInputError(f"{source}: landmarks must be [frames, dims] with at least one frame, "
                                 f"got {landmarks.shape}")
        self.landmarks = landmarks
        self.fps = float(fps)
        self.source = source

    @classmethod
    def from_file(cls, path, shape_predictor=None) -> "LandmarkTimeline":
        """A landmark TXT (``avse landmarks``) or a face video (landmarks extracted here)."""
        import os

        from avse_tf.video.landmarks import LandmarkExtractor, load_landmarks_txt

        path = os.fspath(path)
        if not os.path.isfile(path):
            raise UserInputError(f"--video {path} not found; give a face video, a landmark TXT, or a camera number")
        if path.endswith(".txt"):
            return cls(load_landmarks_txt(path), source=path)
        return cls(LandmarkExtractor(shape_predictor).extract_file(path).flat(), source=path)

    def at(self, positions) -> np.ndarray:
        positions = np.clip(np.asarray(positions, np.float64), 0, len(self.landmarks) - 1)
        lower = np.floor(positions).astype(np.int64)
        upper = np.minimum(lower + 1, len(self.landmarks) - 1)
        weight = (positions - lower).astype(np.float32)[:, None]
        return self.landmarks[lower] * (1 - weight) + self.landmarks[upper] * weight


class CameraLandmarks:
    """Landmarks of a live camera (``cv2.VideoCapture(index)``), tracked in a background thread.

    Each detected frame is stamped with its time since :meth:`start` (the audio stream's start);
    ``at(positions)`` interpolates them at 25 fps positions of that clock (before the first face:
    zeros, i.e. no motion). Detection follows :class:`avse_tf.video.landmarks.LandmarkExtractor`'s
    policy (re-detect every 8 frames or when the tracker's quality drops).
    """

    def __init__(self, index: int, shape_predictor=None, fps: float = FPS, capture=None):
        from avse_tf.video.landmarks import LandmarkExtractor

        self.fps = float(fps)
        self.extractor = LandmarkExtractor(shape_predictor)
        if capture is None:
            import cv2

            capture = cv2.VideoCapture(int(index))
            if not capture.isOpened():
                raise UserInputError(f"cannot open camera {index}; check --video (a camera number or a file)")
        self.capture = capture
        self._times, self._points = [], []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self._start = None
        self.frames = 0

    def start(self, start_time=None) -> None:
        self._start = time.monotonic() if start_time is None else start_time
        self._thread = threading.Thread(target=self._loop, name="avse-camera", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        release = getattr(self.capture, "release", None)
        if release:
            release()

    def _loop(self) -> None:
        import cv2
        import dlib

        tracker, index = None, 0
        while not self._stop.is_set():
            ok, frame = self.capture.read()
            if not ok:
                break
            stamp = time.monotonic() - self._start
            gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            box, quality = None, 0.0
            if tracker is not None:
                quality = tracker.update(gray)
                box = tracker.get_position()
            if tracker is None or index % self.extractor.redetect_every == 0 or quality < self.extractor.min_quality:
                found = self.extractor.detect(gray)
                if found is not None:
                    box = found
                    tracker = dlib.correlation_tracker()
                    tracker.start_track(gray, found)
            index += 1
            self.frames = index
            if box is None:
                continue
            points = self.extractor.shape(gray, box).reshape(-1)
            with self._lock:
                self._times.append(stamp)
                self._points.append(points)

    def at(self, positions) -> np.ndarray:
        times = np.asarray(positions, np.float64) / self.fps
        with self._lock:
            stamps = np.asarray(self._times, np.float64)
            points = np.asarray(self._points, np.float32)
        if len(stamps) == 0:
            return np.zeros((len(times), 136), np.float32)
        return np.stack([np.interp(times, stamps, points[:, dim]) for dim in range(points.shape[1])],
                        axis=1).astype(np.float32)


def landmark_source(video, shape_predictor=None):
    """``--video``: a camera number (``0``) or a file (a face video or a landmark TXT)."""
    if video is None:
        return None
    text = str(video)
    if text.isdigit():
        return CameraLandmarks(int(text), shape_predictor)
    return LandmarkTimeline.from_file(text, shape_predictor)


def video_features(source, first_frame: int, rows: int, config, delta: int, stats=None) -> np.ndarray:
    """Landmark motion of audio frames ``[first_frame, first_frame + rows)``, ``[rows, 136]``.

    Audio frame ``t`` sits at video position ``t * H * fps / rate`` (time-based, so it can be computed
    frame by frame; the offline pipelines stretch a clip's video over its audio frames instead, a
    < 2 % difference for 3 s clips). ``delta`` differences as :func:`avse_tf.video.align.deltas`
    (frames before 0 repeat frame 0, so the first ``delta`` frames are zero as offline);
    ``stats``: the ``(mean, std)`` to normalise with.
    """
    from avse_tf.video.align import deltas

    frames = np.arange(first_frame - delta, first_frame + rows)
    positions = np.maximum(frames, 0) * config.frame_step * source.fps / config.sample_rate
    features = deltas(source.at(positions), delta)[delta:] if delta else source.at(positions)
    if stats is not None:
        features = (features - stats[0]) / stats[1]
    return features.astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Simulated packet loss

class PacketLoss:
    """Drops packets of ``packet_samples`` with probability ``rate`` (seeded): their samples become
    digital silence, which packet-loss processors (inpainting) treat as gaps. Sequential: call
    :meth:`apply` on consecutive blocks."""

    def __init__(self, rate: float, packet_samples: int, seed: int = 0):
        if not 0.0 <= rate < 1.0:
            raise UserInputError(f"--drop_rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.packet = int(packet_samples)
        self.rng = np.random.default_rng(seed)
        self.position = 0
        self.dropped = 0
        self._current = -1
        self._drop = False

    def apply(self, block) -> np.ndarray:
        block = np.array(block, np.float32, copy=True).reshape(-1)
        if self.rate <= 0:
            self.position += block.size
            return block
        offset = 0
        while offset < block.size:
            packet = (self.position + offset) // self.packet
            if packet != self._current:
                self._current = packet
                self._drop = bool(self.rng.random() < self.rate)
                self.dropped += int(self._drop)
            end = min(block.size, (packet + 1) * self.packet - self.position)
            if self._drop:
                block[offset:end] = 0.0
            offset = end
        self.position += block.size
        return block


__all__ = ["CameraLandmarks", "LandmarkTimeline", "PacketLoss", "landmark_source", "video_features"]
