"""``avse denoising preprocess --data_root D --preprocessed_root P``: the seed's ``preprocess.py``
(Wav2Lip's), plus split lists and records, in one resumable run.

Per clip of ``D`` (:mod:`sources`: an LRS3 set ``<root>/<folder>/<id>.mp4``, LRS3 with its splits,
GRID, or this library's synthetic corpus): decode at 25 fps (any rate is resampled); read the audio
(the mp4's sound track, or the corpus wav) at 16 kHz; check both last as long, within 2 video frames
(the audio is then cut or zero-padded to 640 samples per frame); crop the face (:mod:`faces`); write
the seed's layout

    P/<folder>/<clip>/<frame>.jpg    96 x 96 RGB face crops, frames 0..T-1 (JPEG quality 95)
    P/<folder>/<clip>/audio.wav      16 kHz mono 16-bit, exactly 640 x T samples

(the seed also writes ``audio.wav`` beside the crops, extracted with ffmpeg), then the split lists
``P/data/{training,validation,test}.txt`` (clip names ``<folder>/<clip>``; a seeded permutation of
the clips; with ``unseen_speakers``, those speakers' clips only in ``P/data/unseen.txt``) and the
records ``P/tfrecords/<split>/`` (:func:`pipeline.pseudo_visual_schema`), made from the files just
written: the decoded JPEGs (what the seed's loader reads) and the mel of ``audio.wav``.

With ``--av_offsets FILE`` each clip's audio is first delayed by its audio-visual offset (module
:mod:`avse_tf.data.av_offsets`: SyncNet-style sync correction; the synthetic corpus's own offsets
from its ``synth_grid.json``): the lip-sync expert then learns from clips in sync.

Resumable: a clip's folder is written under a temporary name and renamed when complete, then its
marker ``P/data/done/<folder>/<clip>.json`` is written (atomically); a rerun skips clips with a
marker and redoes the others. A split's records are rewritten only when its list changed.
Bad clips (no face, several faces, unreadable video or audio, audio and video of different lengths)
go to ``P/bad_clips.txt`` (``<name>\\t<video>\\t<reason>``) with one line each on stderr, and the run goes on.
"""

from __future__ import annotations

import os
import shutil

import numpy as np

from avse_tf.constants import FPS, SAMPLE_RATE
from avse_tf.errors import DurationMismatchError, UserInputError
from avse_tf.preprocessing.clips import ClipPreparation, RecordSet
from avse_tf.systems.pseudo_visual.sources import Clip

SPLITS = ("training", "validation", "test")
UNSEEN_SPLIT = "unseen"
SETTINGS_FILE = "preprocess.json"
JPEG_QUALITY = 95
MAX_LENGTH_MISMATCH_FRAMES = 2


def clip_folder(preprocessed_root, name) -> str:
    return os.path.join(preprocessed_root, *name.split("/"))


def split_clips(names, val_fraction: float, test_fraction: float, seed: int) -> dict:
    """``{split: sorted names}``: a seeded permutation of ``names``; validation and test get at least
    one clip each (when asked for) once there are 3 clips or more."""
    names = sorted(names)
    order = np.random.default_rng(int(seed)).permutation(len(names))
    shuffled = [names[i] for i in order]
    n_test, n_val = int(round(len(names) * test_fraction)), int(round(len(names) * val_fraction))
    if len(names) >= 3:
        n_test, n_val = max(n_test, int(test_fraction > 0)), max(n_val, int(val_fraction > 0))
    if names and len(names) - n_test - n_val < 1:
        raise UserInputError(f"{len(names)} clips are too few for a training set with these fractions; "
                             "lower --val_fraction / --test_fraction")
    return {"training": sorted(shuffled[n_test + n_val:]), "validation": sorted(shuffled[n_test:n_test + n_val]),
            "test": sorted(shuffled[:n_test])}


def fit_audio(waveform, num_frames: int, source: str) -> np.ndarray:
    """The clip's audio cut or zero-padded to 640 samples per video frame; a difference of more than
    2 video frames is a :class:`~avse_tf.errors.DurationMismatchError`."""
    from avse_tf.systems.pseudo_visual.features import SAMPLES_PER_VIDEO_FRAME as per_frame

    difference = waveform.size / per_frame - num_frames
    if abs(difference) > MAX_LENGTH_MISMATCH_FRAMES:
        raise DurationMismatchError(
            f"{source}: audio lasts {waveform.size / SAMPLE_RATE:.2f} s, video {num_frames / FPS:.2f} s "
            f"({difference:+.1f} frames); re-mux the clip or leave it out")
    length = int(num_frames) * per_frame
    return np.pad(waveform[:length], (0, max(0, length - waveform.size))).astype(np.float32)


def process_clip(clip, preprocessed_root, extractor=None, av_offset_s=0.0) -> int:
    """Write one clip's folder (module doc); returns its frame count. ``av_offset_s``: the clip's
    audio-visual offset, undone by delaying its audio (:mod:`avse_tf.data.av_offsets`). Raises a
    :class:`~avse_tf.errors.UserInputError` for a clip that cannot be used."""
    import cv2

    from avse_tf.audio.io import load_audio, write_audio
    from avse_tf.data.av_offsets import delay_audio
    from avse_tf.systems.pseudo_visual.faces import face_crops
    from avse_tf.video.io import read_video

    frames, _ = read_video(clip.video, fps=FPS)
    waveform = fit_audio(load_audio(clip.audio, SAMPLE_RATE), len(frames), clip.audio)
    if av_offset_s:
        waveform = delay_audio(waveform, av_offset_s, SAMPLE_RATE)
    crops = face_crops(frames, clip.video, extractor)
    target = clip_folder(preprocessed_root, clip.name)
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    staging = os.path.join(parent, f".tmp-{clip.clip}")
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    for index, crop in enumerate(crops):
        if not cv2.imwrite(os.path.join(staging, f"{index}.jpg"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
            raise OSError(f"cannot write face crops in {staging}")
    write_audio(os.path.join(staging, "audio.wav"), waveform, SAMPLE_RATE)
    shutil.rmtree(target, ignore_errors=True)  # a folder without a marker is from a killed run: redone
    os.replace(staging, target)
    return len(crops)


class DenoisingPreparation(ClipPreparation):
    """This module's preparation as a :class:`~avse_tf.preprocessing.clips.ClipPreparation`: run by
    the local loop or by Beam (``avse preprocess pseudo_visual --runner direct``)."""

    description = "denoising preprocess"
    clip_type = Clip

    def __init__(self, data_root, preprocessed_root, layout="auto", val_fraction=0.1, test_fraction=0.1, seed=0,
                 unseen_speakers=(), examples_per_shard=64, compression=None, shape_predictor=None,
                 av_offsets=None):
        from avse_tf.data.av_offsets import load_av_offsets

        self.data_root, self.layout = data_root, layout
        self.av_offsets = load_av_offsets(av_offsets) if av_offsets else {}
        self.output_dir = os.path.abspath(os.fspath(preprocessed_root))
        self.val_fraction, self.test_fraction, self.seed = val_fraction, test_fraction, int(seed)
        self.unseen_speakers = sorted(set(unseen_speakers or ()))
        self.examples_per_shard, self.compression = int(examples_per_shard), compression
        self.shape_predictor = shape_predictor
        self._clips, self._extractor, self._speakers = None, None, None

    def list_clips(self) -> list:
        from avse_tf.systems.pseudo_visual.sources import list_clips

        if self._clips is None:
            self._clips = list_clips(self.data_root, self.layout)
        return self._clips

    def check(self) -> None:
        from avse_tf.data.av_offsets import offsets_digest

        settings = {"seed": self.seed, "val_fraction": self.val_fraction, "test_fraction": self.test_fraction,
                    "unseen_speakers": self.unseen_speakers}
        if self.av_offsets:  # only then: folders written before the option keep their settings
            names = {clip.name for clip in self.list_clips()}
            if not names & set(self.av_offsets):
                example = next(iter(sorted(names)), "<folder>/<clip>")
                raise UserInputError(f"--av_offsets: no clip of {self.data_root} is named there (clip names are "
                                     f"<folder>/<clip>, for instance {example})")
            settings["av_offsets"] = offsets_digest(self.av_offsets)
        self.check_speakers_and_settings([clip.speaker for clip in self.list_clips()], self.data_root, settings,
                                         "--preprocessed_root")

    def setup(self) -> None:
        from avse_tf.video.landmarks import LandmarkExtractor

        self._extractor = LandmarkExtractor(self.shape_predictor)

    def process(self, clip) -> dict:
        offset = self.av_offsets.get(clip.name, 0.0)
        return {"video": clip.video, "speaker": clip.speaker, "av_offset_ms": round(offset * 1000, 3),
                "frames": process_clip(clip, self.output_dir, self._extractor, offset)}

    def splits(self, done: dict) -> dict:
        unseen = sorted(clip.name for clip in self.list_clips()
                        if clip.speaker in self.unseen_speakers and clip.name in done)
        splits = split_clips([name for name in done if name not in unseen], self.val_fraction,
                             self.test_fraction, self.seed)
        if self.unseen_speakers:
            splits[UNSEEN_SPLIT] = unseen
        return splits

    def record_sets(self, splits: dict) -> list:
        from avse_tf.systems.pseudo_visual.pipeline import pseudo_visual_schema

        return [RecordSet(records_dir(self.output_dir, split), pseudo_visual_schema(), tuple(names), split,
                          f"denoising records {split}") for split, names in splits.items()]

    def make_example(self, record_set, name) -> dict:
        from avse_tf.systems.pseudo_visual.records import clip_example, load_clip

        if self._speakers is None:
            self._speakers = {clip.name: clip.speaker for clip in self.list_clips()}
        return clip_example(name, self._speakers.get(name, ""), record_set.split, load_clip(self.output_dir, name))


def preprocess(data_root, preprocessed_root, layout="auto", val_fraction=0.1, test_fraction=0.1, seed=0,
               unseen_speakers=(), examples_per_shard=64, compression=None, shape_predictor=None,
               runner="local", beam_options=(), av_offsets=None) -> dict:
    """Run the whole preparation (module doc) with ``runner`` (:func:`avse_tf.preprocessing.run`).
    ``av_offsets``: a file of the clips' audio-visual offsets to undo (:mod:`avse_tf.data.av_offsets`).
    Returns ``{"clips", "frames", "bad", "splits", "records", "synced"}``: clips done, their frames,
    ``[(name, video, reason)]`` of skipped clips, clips per split, records folder, clips whose
    offset was undone."""
    from avse_tf.preprocessing import run

    preparation = DenoisingPreparation(data_root, preprocessed_root, layout, val_fraction, test_fraction, seed,
                                       unseen_speakers, examples_per_shard, compression, shape_predictor,
                                       av_offsets)
    result = run(preparation, runner, beam_options)
    return {"clips": len(result["done"]), "frames": sum(record["frames"] for record in result["done"].values()),
            "bad": result["bad"], "splits": {split: len(names) for split, names in result["splits"].items()},
            "records": os.path.join(preparation.output_dir, "tfrecords"),
            "synced": sum(1 for record in result["done"].values() if record.get("av_offset_ms"))}


def records_dir(preprocessed_root, split) -> str:
    return os.path.join(preprocessed_root, "tfrecords", split)
