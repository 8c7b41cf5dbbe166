"""Align 25 fps video features to audio frames and derive motion features.

Both papers upsample landmarks from the video rate to the spectrogram frame count by linear
interpolation (Morrone 2019: 75 -> 302 frames; 2021: 75 -> 250), then optionally take
frame differences ("motion vectors", first frame zero).
"""

from __future__ import annotations

import numpy as np

from avse_tf.errors import UserInputError


def upsample_to_frames(features, num_frames: int) -> np.ndarray:
    """Linearly interpolate ``[T_video, D]`` features to ``[num_frames, D]``.

    The first and last video frames map to the first and last audio frames (the originals'
    ``np.linspace`` over the whole span).
    """
    features = np.asarray(features, np.float32)
    if features.ndim != 2 or len(features) == 0:
        raise UserInputError(f"video features must be [frames, dims] with at least one frame, got {features.shape}")
    if len(features) == 1:
        return np.repeat(features, num_frames, axis=0)
    source = np.linspace(0.0, 1.0, len(features))
    target = np.linspace(0.0, 1.0, num_frames)
    out = np.empty((num_frames, features.shape[1]), np.float32)
    for dim in range(features.shape[1]):
        out[:, dim] = np.interp(target, source, features[:, dim])
    return out


def deltas(features, order: int = 1) -> np.ndarray:
    """``order`` 0: the features; 1: first differences (motion vectors); 2: second differences.

    The first ``order`` frames are zero, as in the original ``--delta`` option.
    """
    features = np.asarray(features, np.float32)
    if order not in (0, 1, 2):
        raise UserInputError(f"delta order must be 0, 1 or 2, got {order}")
    out = features
    for _ in range(order):
        out = np.concatenate([np.zeros_like(out[:1]), np.diff(out, axis=0)], axis=0)
    return out


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
