"""Speech2Vid's corpus preparation as one clip-by-clip job (``avse preprocess speech2vid``).

The seed's two steps, ``extract_features`` then ``prepare_data`` (:mod:`.pipeline`), as a
:class:`~avse_tf.preprocessing.clips.ClipPreparation`, so the local loop or an Apache Beam pipeline
runs them with the same outputs: per video, :func:`~.pipeline.video_features` to
``DEST/features/<speaker>/<utterance>.npz``; the utterance split (``train`` / ``val`` / ``test``,
plus ``unseen`` for ``--unseen_speakers``); the MFCC statistics of the training clips (a combine
step on Beam); record sets ``DEST/train`` and ``DEST/val``, one example per video frame
(:func:`frame_examples`, shared with ``prepare_data``); and ``DEST/speech2vid.json`` last, so
``avse speech2vid train -p DEST`` reads what ``prepare_data -p`` would have written.

Departures from ``prepare_data``: a shard holds whole clips (about ``--examples_per_shard``
frames), and ``speech2vid.json`` names the features folder relative to ``DEST`` (``features``),
so the prepared folder can move or live on storage the workers share.
"""

from __future__ import annotations

import dataclasses
import json
import os
import zlib

import numpy as np

from avse_tf.errors import UserInputError
from avse_tf.preprocessing.clips import ClipPreparation, RecordSet
from avse_tf.systems.speech2vid.pipeline import (
    META_FILE,
    SETS,
    _split,
    identity_frames,
    list_videos,
    load_features,
    mfcc_windows,
    num_video_frames,
    speech2vid_schema,
    video_features,
)

FEATURES_FOLDER = "features"
STATISTICS_FILE = "mfcc_statistics.npz"
UNSEEN_SPLIT = "unseen"


def make_meta(image_size, num_identity, mfcc_statistics, seed, splits, features_dir) -> dict:
    """``speech2vid.json``: sizes, the training windows' MFCC ``(mean, std)``, the split (feature
    files relative to ``features_dir``)."""
    mean, std = mfcc_statistics
    return {"image_size": int(image_size), "num_identity": int(num_identity),
            "mfcc_mean": np.asarray(mean, np.float64).tolist(), "mfcc_std": np.asarray(std, np.float64).tolist(),
            "features_dir": features_dir, "seed": int(seed), "splits": splits}


def mfcc_statistics_block(features) -> np.ndarray:
    """The MFCC columns the normalisation statistics are computed over: ``[N, 12]``, c0 dropped."""
    return np.asarray(features["mfcc"], np.float32)[:, 1:13]


def frame_examples(features, clip: str, image_size: int, num_identity: int, seed: int):
    """``(key, example)`` per video frame of one clip's features (``clip``: ``<speaker>/<utterance>``).

    The identity stills are drawn by a generator seeded by ``seed`` and the clip's name, so a clip's
    examples do not depend on which clips precede it (any worker, any shard order: the same records)."""
    faces = features["faces"]
    if faces.shape[1] != int(image_size):
        raise UserInputError(f"{clip} has {faces.shape[1]}-pixel faces, the others {image_size}; extract all "
                             "features with one --image_size")
    count = min(len(faces), num_video_frames(features["audio"].size))
    windows = mfcc_windows(features["mfcc"], count)
    speaker, utterance = os.path.split(clip)
    rng = np.random.default_rng([int(seed), zlib.crc32(clip.encode("utf-8"))])
    for frame in range(count):
        chosen = identity_frames(len(faces), num_identity, rng, exclude=frame)
        yield f"{clip}#{frame}", {
            "speaker": speaker or "root", "utterance": utterance, "frame": frame, "mfcc": windows[frame].reshape(-1),
            "target": faces[frame].tobytes(), "identity": faces[chosen].tobytes(),
            "target_landmarks": (features["landmarks"][frame] / image_size).reshape(-1),
            "mouth_opening": float(features["mouth_opening"][frame]), "sequence_length": 1, "num_samples": 0}


@dataclasses.dataclass(frozen=True)
class VideoClip:
    """One input video: ``name`` ``<speaker>/<utterance>``, the ``video``, and the GRID ``audio``
    wav beside it when there is one (else the video's sound track is used)."""

    name: str
    video: str
    audio: str | None = None


class Speech2VidPreparation(ClipPreparation):
    """Module doc. ``data_dir``: a GRID-layout corpus (``s<k>/video``, wavs in ``s<k>/audio``) or
    any folder of videos (every extension of ``FACE_VIDEO_EXTENSIONS``, searched recursively)."""

    description = "speech2vid preprocess"
    clip_type = VideoClip

    def __init__(self, data_dir, output_dir, val_fraction=0.1, test_fraction=0.1, seed=0, unseen_speakers=(),
                 examples_per_shard=256, compression=None, shape_predictor=None, image_size=112, num_identity=5):
        if int(image_size) % 16 or int(image_size) < 16:
            raise UserInputError(f"--image_size must be a positive multiple of 16 (paper: 112), got {image_size}")
        if int(num_identity) < 1:
            raise UserInputError(f"--num_identity must be at least 1, got {num_identity}")
        self.data_dir, self.output_dir = data_dir, os.path.abspath(output_dir)
        self.val_fraction, self.test_fraction, self.seed = float(val_fraction), float(test_fraction), int(seed)
        self.unseen_speakers = sorted(set(unseen_speakers or ()))
        self.examples_per_shard, self.compression = int(examples_per_shard), compression
        self.shape_predictor, self.image_size, self.num_identity = shape_predictor, int(image_size), int(num_identity)
        self._clips, self._extractor, self._example_counts = None, None, {}

    def features_path(self, name: str) -> str:
        return os.path.join(self.output_dir, FEATURES_FOLDER, name + ".npz")

    def list_clips(self) -> list:
        if self._clips is None:
            self._clips = [VideoClip(f"{speaker}/{utterance}", video, audio)
                           for speaker, utterance, video, audio in list_videos(self.data_dir, ext=None)]
        return self._clips

    def check(self) -> None:
        settings = {"image_size": self.image_size, "num_identity": self.num_identity, "seed": self.seed,
                    "val_fraction": self.val_fraction, "test_fraction": self.test_fraction}
        if self.unseen_speakers:
            settings["unseen_speakers"] = self.unseen_speakers
        self.check_speakers_and_settings([os.path.dirname(clip.name) for clip in self.list_clips()], self.data_dir,
                                         settings, "--dest_dir")

    def setup(self) -> None:
        from avse_tf.video.landmarks import LandmarkExtractor

        self._extractor = LandmarkExtractor(self.shape_predictor)

    def process(self, clip) -> dict:
        from avse_tf.utils import atomic_path

        arrays = video_features(clip.video, clip.audio, self.image_size, self._extractor)
        with atomic_path(self.features_path(clip.name)) as temporary:
            np.savez(temporary, **arrays)
        examples = min(len(arrays["faces"]), num_video_frames(arrays["audio"].size))
        return {"features": clip.name + ".npz", "examples": int(examples)}

    def splits(self, done: dict) -> dict:
        self._example_counts = {name: int(record["examples"]) for name, record in done.items()}
        unseen = sorted(name for name in done if os.path.dirname(name) in self.unseen_speakers)
        seen = sorted(set(done) - set(unseen))
        if not seen:
            raise UserInputError(f"no usable video in {self.data_dir} outside --unseen_speakers (see "
                                 f"{os.path.join(self.output_dir, 'bad_clips.txt')})")
        splits = _split(seen, self.val_fraction, self.test_fraction, self.seed)
        if self.unseen_speakers:
            splits[UNSEEN_SPLIT] = unseen
        return splits

    def record_sets(self, splits: dict) -> list:
        schema = speech2vid_schema()
        return [RecordSet(os.path.join(self.output_dir, split), schema, tuple(splits[split]), split,
                          f"speech2vid records {split}", sizes=tuple(self._example_counts[n] for n in splits[split]))
                for split in SETS]

    def make_example(self, record_set, name):
        raise NotImplementedError("Speech2Vid makes one example per video frame: make_examples")

    def make_examples(self, record_set, name):
        return frame_examples(load_features(self.features_path(name)), name, self.image_size, self.num_identity,
                              self.seed)

    def statistics_path(self) -> str:
        return os.path.join(self.output_dir, STATISTICS_FILE)

    def statistics_names(self, splits: dict) -> list:
        return list(splits["train"])

    def statistics_blocks(self, name: str) -> dict:
        return {"mfcc": mfcc_statistics_block(load_features(self.features_path(name)))}

    def write_summary(self, splits: dict) -> None:
        from avse_tf.data.normalization import load_stats
        from avse_tf.utils import atomic_write_text

        statistics = load_stats(self.statistics_path())["mfcc"]
        meta = make_meta(self.image_size, self.num_identity, statistics, self.seed,
                         {split: [name + ".npz" for name in names] for split, names in splits.items()},
                         FEATURES_FOLDER)
        atomic_write_text(os.path.join(self.output_dir, META_FILE), json.dumps(meta, indent=1) + "\n")
