"""ffmpeg, chosen once (``AVSE_FFMPEG``), and what containers declare: shared by audio and video I/O."""

from avse_tf.media.ffmpeg import (
    ffmpeg_executable,
    media_info,
    run_ffmpeg,
    stream_starts,
)
from avse_tf.media.mp4 import audio_sample_count

__all__ = ["audio_sample_count", "ffmpeg_executable", "media_info", "run_ffmpeg", "stream_starts"]
