"""``avse preprocess inpainting``: the seed's preparation steps as one clip-by-clip preparation, run
by the local loop or on Apache Beam (:mod:`avse_tf.preprocessing`).

In ``DEST/corpus`` (the corpus imported there first), as the recipe does them:

1. per clip (spread over Beam workers): the 68-point landmarks ``s<k>/landmarks/<id>.txt``
   (:mod:`avse_tf.preprocessing.landmark_corpus`); a clip without a face is a dead letter;
2. on the driver: the speaker split and the seeded gap sets ``gaps/<SET>.json``
   (:func:`pipeline.generate_gap_sets`: training, validation, the variable-gap test set and one
   per test gap length); a clip without landmarks is left out of the records;
3. the training clips' normalisation statistics (a combine step on Beam), then the records
   ``inpainting_records/<SET>/`` of :func:`pipeline.gap_example`, one per gap draw, with the
   manifest's phone-label metadata and each set's ``gaps.json``, as ``tfrecords_generator`` writes them.

Records are rewritten only when a set's list of gap draws changes; after adding ``.align`` files to
a finished corpus, delete ``inpainting_records`` (``avse inpainting tfrecords_generator`` notices by
itself).
"""

from __future__ import annotations

import os
import shutil

from avse_tf.constants import NORM_FILE
from avse_tf.preprocessing.clips import RecordSet
from avse_tf.preprocessing.landmark_corpus import LandmarkCorpusPreparation


class InpaintingPreparation(LandmarkCorpusPreparation):
    description = "inpainting preprocess"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._gap_sets, self._statistics, self._clip = None, None, None

    def splits(self, done: dict) -> dict:
        from avse_tf.systems.av_inpainting.pipeline import entry_name, generate_gap_sets

        paths = generate_gap_sets(self.corpus, self.speaker_split(done), "gaps", seed=self.seed)
        return {set_name: [entry_name(entry) for entry in self.gap_set(set_name)["entries"]
                           if f"{entry['speaker']}/{entry['utterance']}" in done] for set_name in sorted(paths)}

    def gap_set(self, set_name) -> dict:
        from avse_tf.systems.av_inpainting.pipeline import load_gap_set

        if self._gap_sets is None:
            self._gap_sets = {}
        if set_name not in self._gap_sets:
            gap_set = load_gap_set(os.path.join(self.corpus, "gaps", set_name + ".json"))
            gap_set["by_name"] = {f"{e['speaker']}/{e['utterance']}#{e['copy']}": e for e in gap_set["entries"]}
            self._gap_sets[set_name] = gap_set
        return self._gap_sets[set_name]

    def features(self, clip) -> dict:
        """:func:`pipeline.clip_features` of ``s<k>/<utterance>``, kept for the next gap draw of the clip."""
        from avse_tf.systems.av_inpainting.pipeline import clip_features

        if self._clip is None or self._clip[0] != clip:
            speaker, utterance = clip.split("/")
            self._clip = (clip, clip_features(self.corpus, speaker, utterance))
        return self._clip[1]

    # -- statistics and records ----------------------------------------------------------------
    def records_root(self) -> str:
        return os.path.join(self.corpus, "inpainting_records")

    def statistics_path(self) -> str:
        return os.path.join(self.records_root(), NORM_FILE)

    def statistics_names(self, splits: dict) -> list:
        return sorted({name.split("#")[0] for name in splits["TRAINING_SET"]})

    def statistics_blocks(self, name) -> dict:
        example = self.features(name)
        return {"spectrogram": example["clean_spectrogram"], "video": example["video_features"]}

    def record_sets(self, splits: dict) -> list:
        from avse_tf.systems.av_inpainting.pipeline import NUM_SAMPLES, inpainting_schema

        schema = inpainting_schema("fixed", NUM_SAMPLES, num_frames=250)
        sets = []
        for set_name, names in splits.items():
            folder = os.path.join(self.records_root(), set_name)
            os.makedirs(folder, exist_ok=True)
            shutil.copyfile(os.path.join(self.corpus, "gaps", set_name + ".json"), os.path.join(folder, "gaps.json"))
            sets.append(RecordSet(folder, schema, tuple(names), set_name, f"tfrecords_generator {set_name}", "example"))
        return sets

    def record_set_metadata(self, record_set) -> dict:
        from avse_tf.systems.av_inpainting.pipeline import WITH_PHONES_KEY, WITHOUT_PHONES_KEY

        clips = sorted({name.split("#")[0] for name in record_set.names})
        without = [clip for clip in clips if not os.path.isfile(
            os.path.join(self.corpus, clip.split("/")[0], "align", clip.split("/")[1] + ".align"))]
        return {WITHOUT_PHONES_KEY: without, WITH_PHONES_KEY: len(clips) - len(without)}

    def make_example(self, record_set, name) -> dict:
        from avse_tf.data.normalization import load_stats
        from avse_tf.systems.av_inpainting.pipeline import gap_example

        if self._statistics is None:
            self._statistics = load_stats(self.statistics_path())
        entry = self.gap_set(record_set.split)["by_name"][name]
        return gap_example(self.features(name.split("#")[0]), entry, self._statistics)
