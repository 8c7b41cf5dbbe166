"""``avse preprocess enhancement``: the seed's preparation steps as one clip-by-clip preparation,
run by the local loop or on Apache Beam (:mod:`avse_tf.preprocessing`).

The steps are the seed's and the recipe's (README, "Face-landmark AV speech enhancement"), in
``DEST/corpus`` (the corpus imported there first: :func:`avse_tf.data.corpora.import_corpus`):

1. per clip (the expensive part, spread over Beam workers): ``video_preprocessing``'s 68-point
   landmarks, ``s<k>/landmarks/<id>.txt`` (:func:`avse_tf.data.preprocess.write_landmarks`, the
   function the seed command loops over); a clip without a face is a dead letter;
2. on the driver (seconds): the speaker split (the last speakers, or ``unseen_speakers``, for the
   test set; the ones before them for validation), ``tbm_computation`` per speaker and
   ``mixed_speech_generator``'s 2-speaker mixtures per set (:func:`recipe.make_mixtures`); a mixture
   whose target clip has no landmarks is left out;
3. the training set's normalisation statistics (a combine step on Beam), then the records
   ``tfrecords2/<SET>/`` of :func:`pipeline.example_features`, normalised, the same schema and
   features as ``tfrecords_generator``, plus ``features.json`` for training.
"""

from __future__ import annotations

import dataclasses
import json
import os

from avse_tf.constants import FPS, NORM_FILE, SAMPLE_RATE
from avse_tf.errors import UserInputError
from avse_tf.preprocessing.clips import ClipPreparation, RecordSet

NUM_AUDIO_SAMPLES = 48000  # fixed mode: the seed's 3 s clips


@dataclasses.dataclass(frozen=True)
class LandmarkClip:
    """One video of the imported corpus and where its landmarks go."""

    name: str  # s<k>/<id>
    speaker: str
    video: str
    landmarks: str


class EnhancementPreparation(ClipPreparation):
    description = "enhancement preprocess"
    clip_type = LandmarkClip

    def __init__(self, data_dir, dest_dir, val_fraction=0.1, test_fraction=0.1, seed=0, unseen_speakers=(),
                 examples_per_shard=64, compression=None, shape_predictor=None, num_mix=2, utterances=None):
        self.data_dir = data_dir
        self.output_dir = os.path.abspath(os.fspath(dest_dir))
        self.corpus = os.path.join(self.output_dir, "corpus")
        self.val_fraction, self.test_fraction, self.seed = val_fraction, test_fraction, int(seed)
        self.unseen_speakers = sorted(set(unseen_speakers or ()))
        self.examples_per_shard, self.compression = int(examples_per_shard), compression
        self.shape_predictor, self.num_mix, self.utterances = shape_predictor, int(num_mix), utterances
        self._extractor, self._entries, self._statistics = None, None, None

    # -- clips ---------------------------------------------------------------------------------
    def check(self) -> None:
        from avse_tf.data.corpora.importer import import_corpus
        from avse_tf.utils import check_run_settings

        os.makedirs(self.output_dir, exist_ok=True)
        check_run_settings(self.output_dir, {"seed": self.seed, "val_fraction": self.val_fraction,
                                             "test_fraction": self.test_fraction, "num_mix": self.num_mix,
                                             "utterances": self.utterances,
                                             "unseen_speakers": self.unseen_speakers}, "--dest_dir")
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

        return {"video": clip.video, "frames": write_landmarks(self._extractor, clip.video, clip.landmarks)}

    # -- split, masks, mixtures ----------------------------------------------------------------
    def speaker_split(self, speakers) -> dict:
        """``{SET: speakers}``: test = ``unseen_speakers`` or the last ``test_fraction``, validation the
        ``val_fraction`` before them (at least two each: a 2-speaker mixture mixes speakers of one
        set), training the rest."""
        speakers = sorted(speakers, key=lambda name: (len(name), name))
        missing = sorted(set(self.unseen_speakers) - set(speakers))
        if missing:
            raise UserInputError(f"--unseen_speakers {', '.join(missing)}: no such speaker in {self.corpus} "
                                 f"(speakers: {', '.join(speakers)})")
        test = list(self.unseen_speakers) or speakers[len(speakers) - max(2, round(len(speakers) * self.test_fraction)):]
        rest = [name for name in speakers if name not in test]
        validation = rest[len(rest) - max(2, round(len(speakers) * self.val_fraction)):]
        training = [name for name in rest if name not in validation]
        if len(training) < 2 or len(validation) < 2 or len(test) < 2:
            raise UserInputError(f"{len(speakers)} speakers with a face give training {len(training)}, validation "
                                 f"{len(validation)}, test {len(test)}; 2-speaker mixtures need at least 2 per set: "
                                 "add speakers or change --val_fraction / --test_fraction / --unseen_speakers")
        return {"TRAINING_SET": training, "VALIDATION_SET": validation, "TEST_SET": test}

    def splits(self, done: dict) -> dict:
        from avse_tf.data.masks import compute_tbms
        from avse_tf.systems.landmark_enhancement.recipe import make_mixtures

        speakers = sorted({name.split("/")[0] for name in done})
        split = self.speaker_split(speakers)
        missing_masks = [name for name in speakers
                         if not os.path.isfile(os.path.join(self.corpus, name, "tbm", "ltass.npz"))]
        if missing_masks:
            compute_tbms(self.corpus, missing_masks, "audio", "tbm")
        make_mixtures(self.corpus, split, 2, self.utterances, self.num_mix, self.seed)
        return {set_name: [name for name, entry in self.entries(set_name).items()
                           if f"{entry['speaker']}/{entry['utterance']}" in done] for set_name in split}

    def entries(self, set_name) -> dict:
        """``{mixture name: manifest entry}`` of one set (the mixture's path under the corpus)."""
        from avse_tf.data.mixing import load_manifest

        if self._entries is None:
            self._entries = {}
        if set_name not in self._entries:
            entries = load_manifest(os.path.join(self.corpus, "mix2", set_name))
            self._entries[set_name] = {os.path.relpath(entry["mixture"], self.corpus): entry for entry in entries}
        return self._entries[set_name]

    # -- statistics and records ----------------------------------------------------------------
    def records_root(self) -> str:
        return os.path.join(self.corpus, "tfrecords2")

    def statistics_path(self) -> str:
        return os.path.join(self.records_root(), NORM_FILE)

    def statistics_names(self, splits: dict) -> list:
        return list(splits["TRAINING_SET"])

    def _features(self, name) -> dict:
        from avse_tf.systems.landmark_enhancement.pipeline import example_features

        entry = self.entries(name.split(os.sep)[1])[name]  # mix2/<SET>/...
        return example_features(entry, self.corpus, "landmarks", "tbm", 1, SAMPLE_RATE, NUM_AUDIO_SAMPLES)

    def statistics_blocks(self, name) -> dict:
        example = self._features(name)
        return {"spectrogram": example["mixed_spectrogram"], "video": example["video_features"]}

    def record_sets(self, splits: dict) -> list:
        from avse_tf.systems.landmark_enhancement.pipeline import STFT, _frames_for, enhancement_schema
        from avse_tf.utils import atomic_write_text

        root = self.records_root()
        os.makedirs(root, exist_ok=True)
        atomic_write_text(os.path.join(root, "features.json"), json.dumps(
            {"stft": STFT, "fps": FPS, "delta": 1, "sample_rate": SAMPLE_RATE, "normalization": NORM_FILE}, indent=1))
        schema = enhancement_schema("fixed", num_audio_samples=NUM_AUDIO_SAMPLES,
                                    num_frames=_frames_for(NUM_AUDIO_SAMPLES))
        return [RecordSet(os.path.join(root, set_name), schema, tuple(names), set_name, f"tfrecords_generator {set_name}",
                          "mixture") for set_name, names in splits.items()]

    def make_example(self, record_set, name) -> dict:
        from avse_tf.data.normalization import load_stats, normalize

        if self._statistics is None:
            self._statistics = load_stats(self.statistics_path())
        example = self._features(name)
        example["mixed_spectrogram"] = normalize(example["mixed_spectrogram"], *self._statistics["spectrogram"])
        example["video_features"] = normalize(example["video_features"], *self._statistics["video"])
        return example
