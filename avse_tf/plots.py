"""Figures as PNG without matplotlib: masks and spectrograms through an OpenCV colour map."""

from __future__ import annotations

import numpy as np


def array_image(array, vmin=None, vmax=None, height_scale: int = 1) -> np.ndarray:
    """``[T, F]`` -> BGR image with frequency upwards and time to the right (viridis)."""
    import cv2

    values = np.asarray(array, np.float32).T[::-1]
    low = float(np.min(values)) if vmin is None else vmin
    high = float(np.max(values)) if vmax is None else vmax
    scaled = np.clip((values - low) / max(high - low, 1e-12), 0, 1)
    image = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_VIRIDIS)
    if height_scale > 1:
        image = np.repeat(image, height_scale, axis=0)
    return image


def save_png(path, image) -> None:
    """Write a BGR (or gray) image as PNG atomically."""
    import cv2

    from avse_tf.utils import atomic_path

    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise RuntimeError(f"could not encode {path}")
    with atomic_path(path) as temporary:
        np.asarray(encoded).tofile(temporary)


def save_array_png(path, array, vmin=None, vmax=None, titles=None) -> None:
    """One ``[T, F]`` array, or a list of them stacked vertically (e.g. gapped / inpainted / reference)."""
    arrays = array if isinstance(array, (list, tuple)) else [array]
    images = [array_image(item, vmin, vmax) for item in arrays]
    separator = np.full((4, images[0].shape[1], 3), 255, np.uint8)
    stacked = images[0]
    for image in images[1:]:
        stacked = np.concatenate([stacked, separator, image], axis=0)
    save_png(path, stacked)


def frame_grid(clips, every: int = 6, max_columns: int = 12) -> np.ndarray:
    """One BGR image of video frames: for each ``(clip name, [(label, frames [T, H, W, 3] RGB, uint8
    or [0, 1]), ...])``, one labelled row per entry, frames 0, ``every``, 2 ``every`` ... (at most
    ``max_columns``), the same columns in every row of a clip."""
    import cv2

    lines = []
    for name, rows in clips:
        count = min(len(frames) for _, frames in rows)
        index = np.arange(0, count, every)[:max_columns]
        for label, frames in rows:
            frames = np.asarray(frames)
            if frames.dtype != np.uint8:
                frames = (np.clip(frames, 0, 1) * 255 + 0.5).astype(np.uint8)
            strip = np.concatenate([cv2.copyMakeBorder(frames[i], 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=(255, 255, 255))
                                    for i in index], axis=1)
            banner = np.full((14, strip.shape[1], 3), 255, np.uint8)
            cv2.putText(banner, f"{name} {label}", (2, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1)
            lines += [banner, strip]
    width = max(line.shape[1] for line in lines)
    lines = [np.pad(line, ((0, 0), (0, width - line.shape[1]), (0, 0)), constant_values=255) for line in lines]
    return cv2.cvtColor(np.concatenate(lines, 0), cv2.COLOR_RGB2BGR)
