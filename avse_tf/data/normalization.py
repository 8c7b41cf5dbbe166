"""Feature standardisation statistics (z-normalisation per feature dimension).

Morrone 2019/2021 z-normalise audio and video features. The original enhancement code used each
speaker's own statistics, test speakers included (fact sheet); here the default is the statistics
of the training set, applied unchanged to validation and test data, and the original per-speaker
behaviour is an option (``per_speaker=True`` on the record generators).
"""

from __future__ import annotations

import os

import numpy as np

from avse_tf.errors import UserInputError


class RunningStats:
    """Streaming per-dimension mean/std over ``[T, D]`` blocks (float64 sums, Chan's merge)."""

    def __init__(self):
        self.count = 0
        self.mean = None
        self.m2 = None

    def update(self, block) -> None:
        block = np.asarray(block, np.float64).reshape(-1, np.shape(block)[-1])
        count = block.shape[0]
        if count == 0:
            return
        mean = block.mean(axis=0)
        m2 = ((block - mean) ** 2).sum(axis=0)
        if self.mean is None:
            self.count, self.mean, self.m2 = count, mean, m2
            return
        total = self.count + count
        delta = mean - self.mean
        self.mean = self.mean + delta * count / total
        self.m2 = self.m2 + m2 + delta ** 2 * self.count * count / total
        self.count = total

    def result(self, min_std: float = 1e-5):
        if self.mean is None:
            raise ValueError("no data to compute statistics from")
        std = np.sqrt(self.m2 / max(1, self.count))
        return self.mean.astype(np.float32), np.maximum(std, min_std).astype(np.float32)


def normalize(features, mean, std) -> np.ndarray:
    return ((np.asarray(features, np.float32) - mean) / std).astype(np.float32)


def save_stats(path, **stats) -> None:
    """Save named (mean, std) pairs to one ``.npz`` (no pickle)."""
    from avse_tf.utils import atomic_path

    arrays = {}
    for name, (mean, std) in stats.items():
        arrays[f"{name}_mean"], arrays[f"{name}_std"] = mean, std
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.savez(handle, **arrays)


def load_stats(path) -> dict:
    if not os.path.isfile(path):
        raise UserInputError(f"normalisation statistics not found: {path}; run tfrecords_generator first")
    with np.load(path, allow_pickle=False) as data:
        names = sorted({key.rsplit("_", 1)[0] for key in data.files})
        return {name: (data[f"{name}_mean"], data[f"{name}_std"]) for name in names}
