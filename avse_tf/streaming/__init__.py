"""Streaming inference for the live demo (``avse demo``): a system only supplies a processor.

* :mod:`~avse_tf.streaming.chunker`: overlapping chunks with context and look-ahead, exact
  stitching, the offline references (:func:`process_chunked`, :func:`process_offline`);
* :mod:`~avse_tf.streaming.sources`: landmarks from a file or a camera, simulated packet loss;
* :mod:`~avse_tf.streaming.processors`: a checkpoint -> its system's processor (the registry's
  ``streaming`` hook);
* :mod:`~avse_tf.streaming.engine`: the real-time engine that talks to PortAudio, and
  :mod:`~avse_tf.streaming.live`: one live run of it, as ``avse demo`` starts it.

The processors live with their systems (``avse_tf/systems/<system>/streaming.py``); the old names
``avse_tf.streaming.InpaintingProcessor`` / ``EnhancementProcessor`` still resolve, with a
DeprecationWarning, for one release.
"""

from avse_tf.streaming.chunker import (
    Chunk,
    Chunker,
    ChunkPlan,
    process_chunked,
    process_offline,
    snr_db,
    warmup,
)
from avse_tf.streaming.processors import (
    compiled_model,
    load_processor,
    processor_for_model,
)
from avse_tf.streaming.sources import (
    CameraLandmarks,
    LandmarkTimeline,
    PacketLoss,
    landmark_source,
    video_features,
)

# The processors' old home (kept for one release, warning on use): they live with their systems now.
_MOVED = {"InpaintingProcessor": "avse_tf.systems.av_inpainting.streaming",
          "EnhancementProcessor": "avse_tf.systems.landmark_enhancement.streaming"}


def __getattr__(name):
    if name in _MOVED:
        from avse_tf._deprecation import moved

        return moved(f"{__name__}.{name}", _MOVED[name], name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CameraLandmarks",
    "Chunk",
    "ChunkPlan",
    "Chunker",
    "EnhancementProcessor",
    "InpaintingProcessor",
    "LandmarkTimeline",
    "PacketLoss",
    "compiled_model",
    "landmark_source",
    "load_processor",
    "process_chunked",
    "process_offline",
    "processor_for_model",
    "snr_db",
    "video_features",
    "warmup",
]
