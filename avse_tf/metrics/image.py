"""Image and talking-face metrics: PSNR, SSIM (TensorFlow's), and a landmark lip-sync correlation.

=================  ==========================================================================
``psnr``           peak signal-to-noise ratio in dB, images in [0, 1] (``tf.image.psnr``; or per video)
``ssim``           structural similarity, 11x11 Gaussian window, sigma 1.5 (``tf.image.ssim``)
``correlation``    Pearson correlation of two 1-D signals; 0 when either is constant
``speech_envelope`` RMS energy of a waveform per video frame (25 fps), the lip-sync reference
=================  ==========================================================================

Speech2Vid's paper (Chung et al., BMVC 2017) is qualitative; later work scores it with PSNR and
SSIM against the real frames and with lip-sync measures. The lip-sync measure here needs no
trained sync network: the inner-lip opening of the generated faces (dlib's 68 points, see
:func:`avse_tf.video.landmarks.mouth_opening`) correlated with the real faces' opening and with
the speech envelope. A still image has a constant opening, hence correlation 0.
"""

from __future__ import annotations

import numpy as np

from avse_tf.constants import FPS, SAMPLE_RATE
from avse_tf.errors import MetricInputError


def _images(value, name):
    array = np.asarray(value, np.float32)
    if array.ndim not in (3, 4) or array.shape[-1] not in (1, 3):
        raise MetricInputError(f"{name} must be [H, W, C] or [N, H, W, C] images, got shape {array.shape}")
    if array.size and (array.min() < -1e-3 or array.max() > 1 + 1e-3):
        raise MetricInputError(f"{name} values must lie in [0, 1] (divide uint8 images by 255)")
    return array


def _pair(reference, estimate):
    reference, estimate = _images(reference, "reference"), _images(estimate, "estimate")
    if reference.shape != estimate.shape:
        raise MetricInputError(f"reference {reference.shape} and estimate {estimate.shape} differ in shape")
    return reference, estimate


def psnr(reference, estimate, per_image: bool = True):
    """PSNR in dB per image (a scalar for one image); identical images give ``inf``.

    ``per_image=False``: one value for the whole stack, from the mean squared error over all its
    pixels (a video's PSNR; finite unless every frame is identical, unlike a mean of per-frame
    PSNRs, which one exactly repeated frame makes infinite).
    """
    import tensorflow as tf

    reference, estimate = _pair(reference, estimate)
    if not per_image:
        error = float(np.mean((reference.astype(np.float64) - estimate) ** 2))
        return float("inf") if error == 0 else float(10 * np.log10(1.0 / error))
    return tf.image.psnr(reference, estimate, max_val=1.0).numpy()


def ssim(reference, estimate) -> np.ndarray:
    """SSIM per image (Wang et al. 2004; TF's Gaussian 11x11, sigma 1.5, on each channel, averaged).

    Images smaller than 11 pixels are refused (TF needs the window to fit).
    """
    import tensorflow as tf

    reference, estimate = _pair(reference, estimate)
    if min(reference.shape[-3:-1]) < 11:
        raise MetricInputError(f"SSIM needs images of at least 11 x 11 pixels, got {reference.shape[-3:-1]}")
    return tf.image.ssim(reference, estimate, max_val=1.0).numpy()


def correlation(first, second) -> float:
    """Pearson correlation of two equally long 1-D signals; 0.0 if either does not vary."""
    first, second = np.asarray(first, np.float64).ravel(), np.asarray(second, np.float64).ravel()
    if first.size != second.size or first.size < 2:
        raise MetricInputError(f"correlation needs two signals of one length >= 2, got {first.size} and {second.size}")
    first, second = first - first.mean(), second - second.mean()
    norm = np.sqrt((first ** 2).sum() * (second ** 2).sum())
    return float((first * second).sum() / norm) if norm > 1e-12 else 0.0


def speech_envelope(waveform, num_frames: int, sample_rate: int = SAMPLE_RATE, fps: float = FPS) -> np.ndarray:
    """RMS of the waveform in each video frame's interval ``[t/fps, (t+1)/fps)``, ``[num_frames]``."""
    waveform = np.asarray(waveform, np.float64).ravel()
    hop = sample_rate / fps
    out = np.zeros(int(num_frames))
    for index in range(int(num_frames)):
        piece = waveform[int(round(index * hop)):int(round((index + 1) * hop))]
        out[index] = np.sqrt(np.mean(piece ** 2)) if piece.size else 0.0
    return out


__all__ = ["psnr", "ssim", "correlation", "speech_envelope"]
