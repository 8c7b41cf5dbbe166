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
        part = RunningStats()
        part.count, part.mean = count, block.mean(axis=0)
        part.m2 = ((block - part.mean) ** 2).sum(axis=0)
        self.merge(part)

    def merge(self, other: "RunningStats") -> "RunningStats":
        """Fold ``other``'s data in (Chan's parallel update): partial statistics combined, as a
        distributed combine step does, equal to one pass over all the data up to rounding."""
        if other.mean is None:
            return self
        if self.mean is None:
            self.count, self.mean, self.m2 = other.count, other.mean.copy(), other.m2.copy()
            return self  # the first block's own figures: bit-identical to the single-pass result
        total = self.count + other.count
        delta = other.mean - self.mean
        self.mean = self.mean + delta * other.count / total
        self.m2 = self.m2 + other.m2 + delta ** 2 * self.count * other.count / total
        self.count = total
        return self

    def to_json(self) -> list:
        """``[count, mean, m2]`` as JSON numbers (float64 round-trips exactly through ``repr``)."""
        return [self.count, None if self.mean is None else self.mean.tolist(), None if self.m2 is None else self.m2.tolist()]

    @classmethod
    def from_json(cls, data) -> "RunningStats":
        stats = cls()
        count, mean, m2 = data
        if mean is not None:
            stats.count, stats.mean, stats.m2 = int(count), np.asarray(mean, np.float64), np.asarray(m2, np.float64)
        return stats

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
