"""The part of a preparation that the two Morrone systems share: a corpus of speakers imported into
``DEST/corpus``, 68-point landmarks per clip (the expensive, parallel step), and a speaker split.

Subclasses (``landmark_enhancement``, ``av_inpainting``) add what follows the landmarks: masks and
mixtures, or gap sets; statistics; records.
"""

from __future__ import annotations

import dataclasses
import os

from avse_tf.errors import UserInputError
from avse_tf.preprocessing.clips import ClipPreparation


@dataclasses.dataclass(frozen=True)
class LandmarkClip:
    """One video of the imported corpus and where its landmarks go."""

    name: str  # s<k>/<id>
    speaker: str
    video: str
    landmarks: str


class LandmarkCorpusPreparation(ClipPreparation):
    """Import, landmarks per clip, speaker split (module doc)."""

    clip_type = LandmarkClip
    min_speakers_per_set = 1
    extra_settings: dict = {}

    def __init__(self, data_dir, dest_dir, val_fraction=0.1, test_fraction=0.1, seed=0, unseen_speakers=(),
                 examples_per_shard=64, compression=None, shape_predictor=None):
        self.data_dir = data_dir
        self.output_dir = os.path.abspath(os.fspath(dest_dir))
        self.corpus = os.path.join(self.output_dir, "corpus")
        self.val_fraction, self.test_fraction, self.seed = val_fraction, test_fraction, int(seed)
        self.unseen_speakers = sorted(set(unseen_speakers or ()))
        self.examples_per_shard, self.compression = int(examples_per_shard), compression
        self.shape_predictor = shape_predictor
        self._extractor = None

    def check(self) -> None:
        from avse_tf.data.corpora.importer import import_corpus
        from avse_tf.utils import check_run_settings

        os.makedirs(self.output_dir, exist_ok=True)
        check_run_settings(self.output_dir, {"seed": self.seed, "val_fraction": self.val_fraction,
                                             "test_fraction": self.test_fraction,
                                             "unseen_speakers": self.unseen_speakers, **self.extra_settings},
                           "--dest_dir")
        import_corpus(self.data_dir, self.corpus, show_progress=False)

    def list_clips(self) -> list:
        from avse_tf.data import grid

        clips = []
        for speaker in grid.list_speakers(self.corpus):
            folder = os.path.join(self.corpus, speaker, "video")
            for name in sorted(os.listdir(folder)):
                stem, extension = os.path.splitext(name)
                if extension and not name.startswith("."):
                    clips.append(LandmarkClip(f"{speaker}/{stem}", speaker, os.path.join(folder, name),
                                              os.path.join(self.corpus, speaker, "landmarks", stem + ".txt")))
        if not clips:
            raise UserInputError(f"no videos in {self.corpus}/s<k>/video/; check --data_dir")
        return clips

    def setup(self) -> None:
        from avse_tf.video.landmarks import LandmarkExtractor

        self._extractor = LandmarkExtractor(self.shape_predictor)

    def process(self, clip) -> dict:
        from avse_tf.data.preprocess import write_landmarks

        audio = os.path.join(self.corpus, clip.speaker, "audio", os.path.basename(clip.name) + ".wav")
        frames = write_landmarks(self._extractor, clip.video, clip.landmarks, audio if os.path.isfile(audio) else None)
        return {"video": clip.video, "frames": frames}

    def speaker_split(self, done: dict) -> dict:
        """``{SET: speakers}`` of the speakers with a done clip: test = ``unseen_speakers`` or the last
        ``test_fraction``, validation the ``val_fraction`` before them (at least
        ``min_speakers_per_set`` each), training the rest."""
        speakers = sorted({name.split("/")[0] for name in done}, key=lambda name: (len(name), name))
        missing = sorted(set(self.unseen_speakers) - set(speakers))
        if missing:
            raise UserInputError(f"--unseen_speakers {', '.join(missing)}: no such speaker with a usable clip in "
                                 f"{self.corpus} (speakers: {', '.join(speakers)})")
        least = self.min_speakers_per_set
        test = list(self.unseen_speakers) or speakers[len(speakers) - max(least, round(len(speakers) * self.test_fraction)):]
        rest = [name for name in speakers if name not in test]
        validation = rest[len(rest) - max(least, round(len(speakers) * self.val_fraction)):]
        training = [name for name in rest if name not in validation]
        if min(len(training), len(validation), len(test)) < least:
            raise UserInputError(f"{len(speakers)} speakers with a face give training {len(training)}, validation "
                                 f"{len(validation)}, test {len(test)}; at least {least} per set are needed: add "
                                 "speakers or change --val_fraction / --test_fraction / --unseen_speakers")
        return {"TRAINING_SET": training, "VALIDATION_SET": validation, "TEST_SET": test}
