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

import json
import os

from avse_tf.constants import FPS, NORM_FILE, SAMPLE_RATE
from avse_tf.preprocessing.clips import RecordSet
from avse_tf.preprocessing.landmark_corpus import LandmarkCorpusPreparation

NUM_AUDIO_SAMPLES = 48000  # fixed mode: the seed's 3 s clips


class EnhancementPreparation(LandmarkCorpusPreparation):
    description = "enhancement preprocess"
    min_speakers_per_set = 2  # a 2-speaker mixture mixes two speakers of one set

    def __init__(self, data_dir, dest_dir, val_fraction=0.1, test_fraction=0.1, seed=0, unseen_speakers=(),
                 examples_per_shard=64, compression=None, shape_predictor=None, num_mix=2, utterances=None):
        super().__init__(data_dir, dest_dir, val_fraction, test_fraction, seed, unseen_speakers, examples_per_shard,
                         compression, shape_predictor)
        self.num_mix, self.utterances = int(num_mix), utterances
        self.extra_settings = {"num_mix": self.num_mix, "utterances": utterances}
        self._entries, self._statistics = None, None

    # -- split, masks, mixtures ----------------------------------------------------------------
    def splits(self, done: dict) -> dict:
        from avse_tf.data.masks import compute_tbms
        from avse_tf.systems.landmark_enhancement.recipe import make_mixtures

        split = self.speaker_split(done)
        missing_masks = [name for names in split.values() for name in names
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
        from avse_tf.data.normalization import load_stats
        from avse_tf.systems.landmark_enhancement.pipeline import normalized

        if self._statistics is None:
            self._statistics = load_stats(self.statistics_path())
        return normalized(self._features(name), self._statistics)
