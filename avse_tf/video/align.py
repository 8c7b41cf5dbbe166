"""Align 25 fps video features to audio frames and derive motion features.

Both papers upsample landmarks from the video rate to the spectrogram frame count by linear
interpolation (Morrone 2019: 75 -> 302 frames; 2021: 75 -> 250), then optionally take
frame differences ("motion vectors", first frame zero).
"""

from __future__ import annotations

import numpy as np

from avse_tf.errors import UserInputError


def upsample_to_frames_tf(features, num_frames):
    """TensorFlow graph version of :func:`upsample_to_frames` (used in served models).

    Frame ``j`` of the output sits at video position ``j * (T_video - 1) / (num_frames - 1)``
    and is interpolated linearly between its two neighbours, as ``np.interp`` over two
    ``linspace(0, 1)`` grids does.
    """
    import tensorflow as tf

    features = tf.convert_to_tensor(features, tf.float32)
    num_frames = tf.convert_to_tensor(num_frames, tf.int32)
    video_frames = tf.shape(features)[0]
    last = tf.cast(video_frames - 1, tf.float64)
    steps = tf.cast(tf.maximum(num_frames - 1, 1), tf.float64)
    position = tf.cast(tf.range(num_frames), tf.float64) * last / steps
    lower = tf.minimum(tf.cast(tf.floor(position), tf.int32), tf.maximum(video_frames - 1, 0))
    upper = tf.minimum(lower + 1, video_frames - 1)
    weight = tf.cast(position - tf.cast(lower, tf.float64), tf.float32)[:, None]
    return tf.gather(features, lower) * (1.0 - weight) + tf.gather(features, upper) * weight


def upsample_to_frames(features, num_frames: int) -> np.ndarray:
    """Linearly interpolate ``[T_video, D]`` features to ``[num_frames, D]``.

    The first and last video frames map to the first and last audio frames (the originals'
    ``np.linspace`` over the whole span). One implementation (:func:`upsample_to_frames_tf`)
    serves the records and the exported serving graphs, so both see the same features.
    """
    features = np.asarray(features, np.float32)
    if features.ndim != 2 or len(features) == 0:
        raise UserInputError(f"video features must be [frames, dims] with at least one frame, got {features.shape}")
    return upsample_to_frames_tf(features, int(num_frames)).numpy()


def deltas_tf(features, order: int = 1):
    """TensorFlow graph version of :func:`deltas`."""
    import tensorflow as tf

    out = tf.convert_to_tensor(features, tf.float32)
    for _ in range(int(order)):
        out = tf.concat([tf.zeros_like(out[:1]), out[1:] - out[:-1]], axis=0)
    return out


def deltas(features, order: int = 1) -> np.ndarray:
    """``order`` 0: the features; 1: first differences (motion vectors); 2: second differences.

    The first ``order`` frames are zero, as in the original ``--delta`` option.
    """
    features = np.asarray(features, np.float32)
    if order not in (0, 1, 2):
        raise UserInputError(f"delta order must be 0, 1 or 2, got {order}")
    return deltas_tf(features, order).numpy()


def pad_or_trim_frames(features, num_frames: int, min_frames: int | None = None, source: str = "video"):
    """Make ``[T, D]`` exactly ``num_frames`` long: pad by repeating the first frame, or trim.

    Morrone 2021 skips clips with fewer than 70 of 75 frames and pads 70-74 by repeating the first
    frame; ``min_frames`` gives that limit and raises :class:`UserInputError` below it.
    """
    features = np.asarray(features, np.float32)
    if min_frames is not None and len(features) < min_frames:
        raise UserInputError(f"{source} has {len(features)} frames; at least {min_frames} of {num_frames} are needed")
    if len(features) >= num_frames:
        return features[:num_frames]
    padding = np.repeat(features[:1], num_frames - len(features), axis=0)
    return np.concatenate([padding, features], axis=0)
