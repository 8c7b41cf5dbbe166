"""``avse lip2speech preprocess``: any folder of videos -> VCA-GAN's training data, in one resumable run.

The multi-language seed (shared/seeds/001) did this by hand: extract audio, crop faces, drop clips
that are not 25 fps, cut everything to 3 s in a video editor, make a folder per clip, edit the split
lists. Here, per input clip (:mod:`sources`): decode at 25 fps (any rate is resampled, not
dropped); read its audio (separate file or sound track) at 16 kHz and high-pass it at 55 Hz;
check both last as long (within 2 frames); crop the lips (:mod:`mouth`); cut into segments of
``segment_seconds`` (3 s = 75 frames, 48000 samples; the tail is padded, with the last crop
repeated and silence, or dropped: ``tail``); per segment write the seed's folder

    <output_dir>/<clip>_<k>/video/<clip>_<k>.mp4     112 x 112 gray lips, 25 fps (H.264, muted)
    <output_dir>/<clip>_<k>/audio/<clip>_<k>.flac    16 kHz high-passed audio of the segment
    <output_dir>/<clip>_<k>/features/<clip>_<k>.npz  mouths [T,112,112] uint8, mel [4T,80], linear [4T,321]

then the split lists ``data/training.txt``, ``validation.txt``, ``test.txt`` (segment names; split by
input clip, seeded, so no recording is in two sets; with ``unseen_speakers``, those speakers' clips
are left out of the three and listed in ``data/unseen.txt``: the paper's two settings,
constrained-speaker test = ``test``, unseen-speaker test = ``unseen``) and the records ``tfrecords/<split>/``
(:func:`pipeline.vca_gan_schema`, made from the ``.npz`` files so they hold the exact crops, not
their lossy mp4).

Resumable: every file is written atomically, and an input clip is done when its marker
``data/done/<clip>.json`` (its segments) exists; a killed run rerun skips done clips and redoes
the rest. A record set is rewritten only when its list changed. Bad clips (several faces, no face,
no audio, undecodable, audio and video of different lengths, shorter than one segment with
``tail="drop"``) go to ``bad_clips.txt`` with the reason and one line each on stderr, and the run
goes on; nothing is deleted (the seed deleted them).
"""

from __future__ import annotations

import os

import numpy as np

from avse_tf.constants import FPS, RECORDS_MANIFEST, SAMPLE_RATE
from avse_tf.errors import UserInputError
from avse_tf.preprocessing.clips import ClipPreparation, RecordSet
from avse_tf.systems.vca_gan.sources import Source

SPLITS = ("training", "validation", "test")  # the seed's data/<split>.txt
UNSEEN_SPLIT = "unseen"  # clips of the speakers held out of training (``unseen_speakers``)
TAILS = ("pad", "drop")
SETTINGS_FILE = "preprocess.json"


def segment_bounds(num_frames: int, segment_frames: int, tail: str = "pad") -> list:
    """``[(start, valid frames)]`` of the segments of a ``num_frames`` clip (``segment_frames`` 0: one
    segment, the whole clip). A last partial segment is kept (padded later) or dropped per ``tail``."""
    if tail not in TAILS:
        raise UserInputError(f"unknown --tail {tail!r}; choose pad or drop")
    if segment_frames <= 0:
        return [(0, num_frames)] if num_frames else []
    bounds = [(start, min(segment_frames, num_frames - start)) for start in range(0, num_frames, segment_frames)]
    return [(start, valid) for start, valid in bounds if valid == segment_frames or tail == "pad"]


def split_sources(names, val_fraction: float, test_fraction: float, seed: int) -> dict:
    """``{split: sorted names}``: a seeded permutation; validation and test get at least one clip each
    (when asked for) once there are 3 clips or more."""
    names = sorted(names)
    order = np.random.default_rng(int(seed)).permutation(len(names))
    shuffled = [names[i] for i in order]
    n_test = int(round(len(names) * test_fraction))
    n_val = int(round(len(names) * val_fraction))
    if len(names) >= 3:
        n_test, n_val = max(n_test, int(test_fraction > 0)), max(n_val, int(val_fraction > 0))
    if names and len(names) - n_test - n_val < 1:
        raise UserInputError(f"{len(names)} clips are too few for a training set with these fractions; "
                             "lower --val_fraction / --test_fraction")
    return {"test": sorted(shuffled[:n_test]), "validation": sorted(shuffled[n_test:n_test + n_val]),
            "training": sorted(shuffled[n_test + n_val:])}


def process_source(source, output_dir, segment_frames: int, tail: str, extractor=None) -> list:
    """Write the segments of one input clip (module doc); returns their names. Raises a
    :class:`~avse_tf.errors.UserInputError` for a clip that cannot be used."""
    from avse_tf.audio.filters import highpass
    from avse_tf.audio.io import load_audio, write_audio
    from avse_tf.systems.vca_gan.features import HIGHPASS_HZ, SAMPLES_PER_VIDEO_FRAME, clip_features
    from avse_tf.systems.vca_gan.mouth import mouth_crops
    from avse_tf.utils import atomic_path
    from avse_tf.validation import match_durations
    from avse_tf.video.io import read_video, write_video

    frames, _ = read_video(source.video, grayscale=True, fps=FPS)
    audio_path = source.audio or source.video
    waveform = load_audio(audio_path, SAMPLE_RATE)
    match_durations(waveform, frames, SAMPLE_RATE, FPS, "error", audio_path, source.video,
                    "or leave this clip out")
    bounds = segment_bounds(len(frames), segment_frames, tail)
    if not bounds:
        raise UserInputError(f"{source.video} has {len(frames)} frames, fewer than one {segment_frames}-frame "
                             "segment, and --tail drop drops it")
    crops = mouth_crops(frames, source.video, extractor)
    waveform = highpass(waveform, HIGHPASS_HZ, SAMPLE_RATE)
    names = []
    for index, (start, valid) in enumerate(bounds):
        name = f"{source.name}_{index:03d}" if segment_frames > 0 else source.name
        stored = segment_frames if segment_frames > 0 else valid
        mouths = crops[start:start + valid]
        mouths = np.concatenate([mouths, np.repeat(mouths[-1:], stored - valid, axis=0)])
        audio = waveform[start * SAMPLES_PER_VIDEO_FRAME:(start + valid) * SAMPLES_PER_VIDEO_FRAME]
        audio = np.pad(audio, (0, stored * SAMPLES_PER_VIDEO_FRAME - audio.size))
        folder = os.path.join(output_dir, name)
        write_video(os.path.join(folder, "video", name + ".mp4"), np.repeat(mouths[..., None], 3, axis=-1), FPS)
        write_audio(os.path.join(folder, "audio", name + ".flac"), audio, SAMPLE_RATE)
        features = clip_features(audio, stored, source.video)
        with atomic_path(os.path.join(folder, "features", name + ".npz")) as temporary:
            np.savez(temporary, mouths=mouths, mel=features["mel"], linear=features["linear"],
                     valid_frames=np.int64(valid), start_frame=np.int64(start), source=np.str_(source.video))
        names.append(name)
    return names


class Lip2SpeechPreparation(ClipPreparation):
    """This module's preparation as a :class:`~avse_tf.preprocessing.clips.ClipPreparation`: run by
    the local loop or by Beam (``avse preprocess vca_gan --runner direct``)."""

    description = "lip2speech preprocess"
    clip_type = Source

    def __init__(self, input_dir, output_dir, layout="auto", audio_dir=None, segment_seconds=3.0, tail="pad",
                 val_fraction=0.1, test_fraction=0.1, seed=0, examples_per_shard=64, compression=None,
                 shape_predictor=None, unseen_speakers=()):
        if segment_seconds < 0 or abs(segment_seconds * FPS - round(segment_seconds * FPS)) > 1e-6:
            raise UserInputError(f"--segment_seconds must be a whole number of 25 fps frames (3 = 75), or 0 for "
                                 f"whole clips; got {segment_seconds}")
        self.segment_frames = int(round(segment_seconds * FPS))
        segment_bounds(0, self.segment_frames, tail)  # checks tail
        self.input_dir, self.layout, self.audio_dir = input_dir, layout, audio_dir
        self.output_dir = os.path.abspath(os.fspath(output_dir))  # the workers may run elsewhere (cwd)
        self.tail, self.val_fraction, self.test_fraction, self.seed = tail, val_fraction, test_fraction, int(seed)
        self.examples_per_shard, self.compression = int(examples_per_shard), compression
        self.shape_predictor = shape_predictor
        self.unseen_speakers = sorted(set(unseen_speakers or ()))
        self._sources, self._extractor = None, None

    def list_clips(self) -> list:
        from avse_tf.systems.vca_gan.sources import list_sources

        if self._sources is None:
            self._sources = list_sources(self.input_dir, self.layout, self.audio_dir)
        return self._sources

    def check(self) -> None:
        settings = {"segment_frames": self.segment_frames, "tail": self.tail, "seed": self.seed,
                    "val_fraction": self.val_fraction, "test_fraction": self.test_fraction}
        if self.unseen_speakers:
            settings["unseen_speakers"] = self.unseen_speakers
        self.check_speakers_and_settings([source.speaker for source in self.list_clips()], self.input_dir, settings,
                                         "--output_dir")

    def setup(self) -> None:
        from avse_tf.video.landmarks import LandmarkExtractor

        self._extractor = LandmarkExtractor(self.shape_predictor)

    def process(self, source) -> dict:
        return {"video": source.video, "segments": process_source(source, self.output_dir, self.segment_frames,
                                                                  self.tail, self._extractor)}

    def splits(self, done: dict) -> dict:
        unseen = {source.name for source in self.list_clips()
                  if source.speaker in self.unseen_speakers and source.name in done}
        splits = split_sources([name for name in done if name not in unseen], self.val_fraction,
                               self.test_fraction, self.seed)
        if self.unseen_speakers:
            splits[UNSEEN_SPLIT] = sorted(unseen)
        return {split: [name for source in sources for name in done[source]["segments"]]
                for split, sources in splits.items()}

    def record_sets(self, splits: dict) -> list:
        from avse_tf.systems.vca_gan.pipeline import vca_gan_schema

        schema = vca_gan_schema(self.segment_frames or None)
        return [RecordSet(records_dir(self.output_dir, split), schema, tuple(names), split,
                          f"lip2speech records {split}", "segment") for split, names in splits.items()]

    def make_example(self, record_set, name) -> dict:
        from avse_tf.systems.vca_gan.records import load_segment, segment_example

        return segment_example(name, load_segment(self.output_dir, name))


def preprocess(input_dir, output_dir, layout="auto", audio_dir=None, segment_seconds=3.0, tail="pad",
               val_fraction=0.1, test_fraction=0.1, seed=0, examples_per_shard=64, compression=None,
               shape_predictor=None, unseen_speakers=(), runner="local", beam_options=()) -> dict:
    """Run the whole preparation (module doc) with ``runner`` (:func:`avse_tf.preprocessing.run`).
    Returns ``{"clips", "segments", "bad", "splits"}``: the input clips used, segments written,
    ``[(name, video, reason)]`` of skipped clips and the segment count per split. ``unseen_speakers``:
    speakers (corpus speakers, or a plain folder's first sub-folders) whose clips form the ``unseen``
    split only."""
    from avse_tf.preprocessing import run

    preparation = Lip2SpeechPreparation(input_dir, output_dir, layout, audio_dir, segment_seconds, tail,
                                        val_fraction, test_fraction, seed, examples_per_shard, compression,
                                        shape_predictor, unseen_speakers)
    result = run(preparation, runner, beam_options)
    counts = {split: len(names) for split, names in result["splits"].items()}
    return {"clips": len(result["done"]), "segments": sum(counts.values()), "bad": result["bad"], "splits": counts,
            "records": os.path.join(output_dir, "tfrecords")}


def records_dir(output_dir, split) -> str:
    return os.path.join(output_dir, "tfrecords", split)


def records_manifest(output_dir, split) -> str:
    return os.path.join(records_dir(output_dir, split), RECORDS_MANIFEST)
