"""What a clip-by-clip corpus preparation is, and the local loop that runs it.

The contract (one subclass of :class:`ClipPreparation` per system):

* :meth:`~ClipPreparation.list_clips`: the input clips, each a frozen dataclass with ``name`` and
  ``video``; they travel between Beam stages as JSON (:meth:`~ClipPreparation.clip_to_json`),
  never pickled.
* :meth:`~ClipPreparation.setup`: what one worker loads once (the dlib models), not per clip.
* :meth:`~ClipPreparation.process`: writes one clip's outputs atomically and returns a JSON-able
  record of them; raises :class:`~avse_tf.errors.UserInputError` for a clip that cannot be used.
* :meth:`~ClipPreparation.splits`: ``{split: example names}`` from the done clips (cheap: the
  driver computes it between the clip stage and the records stage).
* :meth:`~ClipPreparation.record_sets` and :meth:`~ClipPreparation.make_example` (one example
  per name) or :meth:`~ClipPreparation.make_examples` (several: Speech2Vid's one per video frame):
  the records.
* :meth:`~ClipPreparation.write_summary`: files describing the whole preparation, written by the
  driver after the records (optional).

Progress that survives a kill: a clip is done when its marker ``<dest>/data/done/<name>.json`` (what
``process`` returned) exists; a clip that failed has ``<dest>/data/bad/<name>.json`` (the dead
letter: its video and the reason) until a later run succeeds with it. Both are written atomically by
:func:`process_one`, the function the local loop and the Beam workers share, so a run started again
(or a Beam bundle retried) redoes only unfinished clips and never duplicates one. Records are
written shard by shard (:func:`avse_tf.records.writer.write_shard`, shard ``k`` holding the
``k``-th block of names in split-list order, a block closed once it holds ``examples_per_shard``
examples: :func:`shard_blocks`) and the manifest last; a set whose manifest already lists exactly
the split's names is kept.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

from avse_tf.errors import UserInputError

REPORT_FILE = "bad_clips.txt"


@dataclasses.dataclass(frozen=True)
class RecordSet:
    """One record set to write: ``folder``, its ``schema``, the example ``names`` in order, the
    ``split`` they belong to, how progress names it, and ``sizes``: the examples each name gives
    (empty: one each)."""

    folder: str
    schema: object
    names: tuple
    split: str
    description: str
    unit: str = "clip"
    sizes: tuple = ()


class ClipPreparation:
    """Base of a system's clip-by-clip preparation (module doc). Subclasses set ``output_dir``,
    ``description`` and ``clip_type`` and implement the hooks."""

    description = "preprocess"
    unit = "clip"
    clip_type = None  # the frozen dataclass of list_clips's items
    output_dir = ""
    examples_per_shard = 64
    compression = None

    # -- hooks ---------------------------------------------------------------------------------
    def check(self) -> None:
        """Refuse bad settings before any work, and record the run's settings (resume check)."""

    def list_clips(self) -> list:
        raise NotImplementedError

    def setup(self) -> None:
        """Load what every clip needs once per worker (models); called before the first ``process``."""

    def process(self, clip) -> dict:
        raise NotImplementedError

    def splits(self, done: dict) -> dict:
        """``{split: [example names]}`` from ``done`` (``{clip name: process's record}``)."""
        raise NotImplementedError

    def record_sets(self, splits: dict) -> list:
        raise NotImplementedError

    def make_example(self, record_set: RecordSet, name: str) -> dict:
        raise NotImplementedError

    def make_examples(self, record_set: RecordSet, name: str):
        """``(key, example)`` pairs of one name (default: its one :meth:`make_example`); a name's
        examples always land in one shard, so a set's ``sizes`` must give their count."""
        yield name, self.make_example(record_set, name)

    def write_summary(self, splits: dict) -> None:
        """Driver-side files about the whole preparation (its statistics and splits), after the records."""

    # Normalisation statistics (optional): per-dimension mean / std of some features over some
    # examples (the training set), made before the records that apply them.
    def statistics_path(self) -> str | None:
        """Where the statistics are saved (:func:`avse_tf.data.normalization.save_stats`); None: none."""
        return None

    def statistics_names(self, splits: dict) -> list:
        """The example names the statistics are computed over."""
        raise NotImplementedError

    def statistics_blocks(self, name: str) -> dict:
        """``{feature: [frames, dims] array}`` of one example, unnormalised."""
        raise NotImplementedError

    def record_set_metadata(self, record_set: RecordSet) -> dict:
        """Facts about a whole set for its manifest's ``metadata``, beside ``clips`` (its names)."""
        return {}

    # -- shared mechanics ----------------------------------------------------------------------
    def check_speakers_and_settings(self, speakers, corpus, settings: dict, folder_flag: str) -> None:
        """For :meth:`check`: one line refusing ``--unseen_speakers`` that ``corpus`` lacks (its
        ``speakers``), then the run's ``settings`` written to, or compared with, the output
        folder's ``preprocess.json`` (:func:`avse_tf.utils.check_run_settings`)."""
        from avse_tf.utils import check_run_settings

        speakers = sorted({str(speaker) for speaker in speakers})
        missing = sorted(set(getattr(self, "unseen_speakers", ())) - set(speakers))
        if missing:
            raise UserInputError(f"--unseen_speakers {', '.join(missing)}: no such speaker in {corpus} "
                                 f"(speakers: {', '.join(speakers)})")
        os.makedirs(self.output_dir, exist_ok=True)
        check_run_settings(self.output_dir, settings, folder_flag)

    def __getstate__(self):
        """What Beam ships to its workers with a step: the settings only. Caches (``_``-prefixed:
        models, listings, statistics) are rebuilt on the worker, so no data travels pickled."""
        return {key: (None if key.startswith("_") else value) for key, value in self.__dict__.items()}

    def clip_to_json(self, clip) -> str:
        return json.dumps(dataclasses.asdict(clip), sort_keys=True)

    def clip_from_json(self, text: str):
        return self.clip_type(**json.loads(text))

    def marker(self, name: str, kind: str = "done") -> str:
        return marker_path(self.output_dir, name, kind)


def marker_path(output_dir, name: str, kind: str = "done") -> str:
    """``<output_dir>/data/<kind>/<name>.json``: a clip's done marker (``kind`` ``"done"``) or dead letter (``"bad"``)."""
    return os.path.join(output_dir, "data", kind, name + ".json")


def _read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def process_one(preparation: ClipPreparation, clip) -> tuple:
    """Process ``clip`` unless it is done: ``("done", name, record)`` or ``("bad", name, [video, reason])``.

    The one per-clip step of both runners: the outputs, then the marker (or the dead letter), each
    written atomically, so a step interrupted anywhere is redone whole by the next run."""
    from avse_tf.utils import atomic_write_text

    done, dead = preparation.marker(clip.name), preparation.marker(clip.name, "bad")
    if os.path.isfile(done):
        return "done", clip.name, _read_json(done)
    try:
        record = preparation.process(clip)
    except UserInputError as error:
        reason = " ".join(str(error).split())
        print(f"avse: skipped {clip.video}: {reason}", file=sys.stderr, flush=True)
        atomic_write_text(dead, json.dumps([clip.video, reason]) + "\n")
        return "bad", clip.name, [clip.video, reason]
    atomic_write_text(done, json.dumps(record) + "\n")
    if os.path.exists(dead):
        os.remove(dead)
    return "done", clip.name, record


def gather(preparation: ClipPreparation, clips) -> tuple:
    """``(done {name: record}, bad [(name, video, reason)])`` of ``clips`` from their markers, and
    the dead-letter report ``bad_clips.txt`` rewritten from them (``<name>\\t<video>\\t<reason>``)."""
    from avse_tf.utils import atomic_write_text

    done, bad = {}, []
    for clip in clips:
        if os.path.isfile(preparation.marker(clip.name)):
            done[clip.name] = _read_json(preparation.marker(clip.name))
        elif os.path.isfile(preparation.marker(clip.name, "bad")):
            video, reason = _read_json(preparation.marker(clip.name, "bad"))
            bad.append((clip.name, video, reason))
    lines = "".join(f"{name}\t{video}\t{reason}\n" for name, video, reason in bad)
    atomic_write_text(os.path.join(preparation.output_dir, REPORT_FILE), lines)
    return done, bad


def write_split_lists(preparation: ClipPreparation, splits: dict) -> None:
    from avse_tf.utils import atomic_write_text

    for split, names in splits.items():
        atomic_write_text(os.path.join(preparation.output_dir, "data", split + ".txt"),
                          "".join(name + "\n" for name in names))


def record_set_current(record_set: RecordSet) -> bool:
    """True when the set's manifest lists exactly its names (kept on a rerun), or it has no names."""
    from avse_tf.constants import RECORDS_MANIFEST

    if not record_set.names:
        return True
    try:
        listed = _read_json(os.path.join(record_set.folder, RECORDS_MANIFEST)).get("metadata", {}).get("clips")
    except (OSError, ValueError):
        return False
    return listed == list(record_set.names)


def shard_blocks(record_set: RecordSet, examples_per_shard: int) -> list:
    """``[(shard index, names)]``: the split list cut in order, a block closed as soon as its names'
    examples (``record_set.sizes``, one each without) reach ``examples_per_shard``."""
    sizes = record_set.sizes or (1,) * len(record_set.names)
    blocks, block, examples = [], [], 0
    for name, size in zip(record_set.names, sizes):
        block.append(name)
        examples += int(size)
        if examples >= examples_per_shard:
            blocks.append((len(blocks), block))
            block, examples = [], 0
    if block:
        blocks.append((len(blocks), block))
    return blocks


def block_examples(record_set: RecordSet, blocks) -> list:
    """How many examples each of ``blocks`` (lists of the set's names) gives: the names' ``sizes``,
    one each without."""
    if not record_set.sizes:
        return [len(names) for names in blocks]
    size = dict(zip(record_set.names, record_set.sizes))
    return [sum(int(size[name]) for name in names) for names in blocks]


def write_record_shard(preparation: ClipPreparation, record_set: RecordSet, index: int, names) -> tuple:
    """Shard ``index`` of ``record_set`` from ``names`` (the local loop and the Beam workers)."""
    from avse_tf.records.writer import write_shard

    return write_shard(record_set.folder, "records", index, record_set.schema,
                       (pair for name in names for pair in preparation.make_examples(record_set, name)),
                       preparation.compression)


def finish_record_set(preparation: ClipPreparation, record_set: RecordSet, shards) -> str:
    """The manifest of a set whose ``shards`` (``[(file, examples, bytes)]``) are written."""
    from avse_tf.records.writer import normalize_compression, write_manifest

    ordered = sorted(shards)
    return write_manifest(record_set.folder, "records", record_set.schema,
                          normalize_compression(preparation.compression), ordered,
                          {**preparation.record_set_metadata(record_set), "clips": list(record_set.names)})


def start_record_set(record_set: RecordSet) -> None:
    from avse_tf.constants import RECORDS_MANIFEST

    os.makedirs(record_set.folder, exist_ok=True)
    path = os.path.join(record_set.folder, RECORDS_MANIFEST)
    if os.path.exists(path):  # the set is being rewritten: incomplete until the new manifest exists
        os.remove(path)


def run_local(preparation: ClipPreparation) -> dict:
    """The whole preparation on this machine, one clip after another (the default runner).

    Returns ``{"done": {name: record}, "bad": [(name, video, reason)], "splits": {split: names},
    "records": the folder holding the record sets}``."""
    from avse_tf.utils import progress

    preparation.check()
    clips = preparation.list_clips()
    preparation.setup()
    for clip in progress(clips, preparation.description, unit=preparation.unit):
        process_one(preparation, clip)
    return finish_preparation(preparation, clips, _write_sets_locally)


def _write_sets_locally(preparation: ClipPreparation, record_sets) -> None:
    from avse_tf.utils import progress

    for record_set in record_sets:
        start_record_set(record_set)
        blocks = shard_blocks(record_set, preparation.examples_per_shard)
        last = {names[-1]: (index, names) for index, names in blocks}  # a block is written at its last name
        shards = []
        for name in progress(record_set.names, record_set.description, unit=record_set.unit):
            if name in last:
                shards.append(write_record_shard(preparation, record_set, *last[name]))
        finish_record_set(preparation, record_set, shards)


def statistics_locally(preparation: ClipPreparation, names) -> dict:
    """``{feature: RunningStats}`` over ``names``, one example after another."""
    from avse_tf.data.normalization import RunningStats
    from avse_tf.utils import progress

    stats = {}
    for name in progress(names, "normalisation statistics"):
        for feature, block in preparation.statistics_blocks(name).items():
            stats.setdefault(feature, RunningStats()).update(block)
    return stats


def save_statistics(path, stats: dict) -> None:
    from avse_tf.data.normalization import save_stats

    save_stats(path, **{feature: running.result() for feature, running in sorted(stats.items())})


def finish_preparation(preparation: ClipPreparation, clips, write_sets, statistics=statistics_locally) -> dict:
    """Gather markers, write the split lists, the statistics if missing (``statistics(preparation,
    names)`` -> ``{feature: RunningStats}``), then the record sets that changed (``write_sets``)."""
    done, bad = gather(preparation, clips)
    splits = preparation.splits(done)
    write_split_lists(preparation, splits)
    record_sets = preparation.record_sets(splits)
    pending = [record_set for record_set in record_sets if not record_set_current(record_set)]
    path = preparation.statistics_path()
    if pending and path and not os.path.isfile(path):
        save_statistics(path, statistics(preparation, preparation.statistics_names(splits)))
    if pending:
        write_sets(preparation, pending)
    preparation.write_summary(splits)
    folders = [record_set.folder for record_set in record_sets if record_set.names]
    return {"done": done, "bad": bad, "splits": splits,
            "records": os.path.commonpath(folders) if folders else None}
