"""Run a :class:`~avse_tf.preprocessing.clips.ClipPreparation` as Apache Beam pipelines.

Two pipelines, with the driver's cheap step between them (the split lists need to know which clips
succeeded):

1. clips: ``Create`` (the clips without a done marker, as JSON) -> ``Reshuffle`` (spread over
   workers) -> ``ParDo`` of :func:`~avse_tf.preprocessing.clips.process_one`, the local loop's own
   per-clip step. A worker loads its models once in ``DoFn.setup``. Bad clips become dead letters
   (``data/bad/<name>.json``, gathered into ``bad_clips.txt``), not failures.
2. records: one element per shard of every record set to (re)write -> ``ParDo`` of
   :func:`~avse_tf.preprocessing.clips.write_record_shard`, each shard written under a temporary name
   and renamed, so a retried bundle replaces a shard and never duplicates examples. The driver then
   writes each set's manifest from the shards' files.

The shard blocks are the local loop's (the split list cut every ``examples_per_shard`` names), so
both runners write the same examples into the same shards. Every output path must be one the
workers and the driver all see (a shared file system for Flink, Spark or Dataflow workers).

Runners: ``direct`` (Beam's DirectRunner in multi-processing mode, one worker per core unless
``--beam_option direct_num_workers=N``), ``flink``, ``spark``, ``dataflow`` and ``portable`` (a
job endpoint: ``--beam_option job_endpoint=host:8099``); ``--beam_option K=V`` passes any Beam
pipeline option (``--K=V``). Elements are JSON strings, so Beam's coders never pickle data.
"""

from __future__ import annotations

import json
import os
import sys
import time

from avse_tf.errors import UserInputError
from avse_tf.preprocessing import clips as clip_steps

RUNNERS = {"direct": "DirectRunner", "flink": "FlinkRunner", "spark": "SparkRunner",
           "dataflow": "DataflowRunner", "portable": "PortableRunner"}
PROGRESS_SECONDS = 60  # a worker logs its count at its first clip and then at most once a minute
INSTALL_HINT = "install the Beam extra: pip install 'avse_tf[beam]' (or pip install apache-beam)"


def import_beam():
    try:
        import apache_beam
    except ImportError:
        raise UserInputError(f"--runner needs Apache Beam, which is not installed; {INSTALL_HINT}, "
                             "or use --runner local") from None
    return apache_beam


def pipeline_options(runner: str, beam_options=()):
    """Beam ``PipelineOptions`` for ``runner`` plus ``K=V`` strings (later ones win)."""
    import_beam()
    from apache_beam.options.pipeline_options import PipelineOptions

    if runner not in RUNNERS:
        raise UserInputError(f"unknown --runner {runner!r}; choose local, {', '.join(RUNNERS)}")
    flags = [f"--runner={RUNNERS[runner]}"]
    if runner == "direct":
        flags += ["--direct_running_mode=multi_processing", f"--direct_num_workers={os.cpu_count() or 1}"]
    for option in beam_options or ():
        key, equals, value = option.partition("=")
        if not equals or not key.strip():
            raise UserInputError(f"--beam_option {option!r} is not K=V (for example direct_num_workers=4)")
        flags.append(f"--{key.strip().lstrip('-')}={value}")
    return PipelineOptions(flags)


def _clip_fn(preparation):
    beam = import_beam()

    class ProcessClip(beam.DoFn):
        """:func:`process_one` on each clip; the worker's models are loaded once, in ``setup``."""

        def __init__(self, preparation):
            super().__init__()
            self.preparation = preparation

        def setup(self):
            self.preparation.setup()
            self.count, self.start, self.logged = 0, time.time(), 0.0

        def process(self, element):
            status, name, _ = clip_steps.process_one(self.preparation, self.preparation.clip_from_json(element))
            self.count += 1
            if time.time() - self.logged >= PROGRESS_SECONDS:  # a worker's progress, also when not on a TTY
                self.logged = time.time()
                _log(f"worker {os.getpid()}: {self.count} {self.preparation.unit}s done, {_elapsed(self.start)} elapsed")
            yield json.dumps([status, name])

    return ProcessClip(preparation)


def _shard_fn(preparation, record_sets):
    beam = import_beam()

    class WriteShard(beam.DoFn):
        """One record shard, written atomically (a retried bundle replaces it)."""

        def __init__(self, preparation, record_sets):
            super().__init__()
            self.preparation, self.record_sets = preparation, record_sets

        def process(self, element):
            set_index, shard_index, names = json.loads(element)
            written = clip_steps.write_record_shard(self.preparation, self.record_sets[set_index], shard_index, names)
            yield json.dumps([set_index, *written])

    return WriteShard(preparation, record_sets)


def _log(message: str) -> None:
    print(f"beam: {message}", file=sys.stderr, flush=True)


def _elapsed(start: float) -> str:
    seconds = int(time.time() - start)
    return f"{seconds // 60}:{seconds % 60:02d}"


def run_beam(preparation, runner: str = "direct", beam_options=()) -> dict:
    """The preparation as Beam pipelines (module doc); returns what
    :func:`~avse_tf.preprocessing.clips.run_local` returns, and writes the same files."""
    beam = import_beam()
    options = pipeline_options(runner, beam_options)
    preparation.check()
    clips = preparation.list_clips()
    pending = [clip for clip in clips if not os.path.isfile(preparation.marker(clip.name))]
    start = time.time()
    _log(f"{preparation.description}: {len(pending)} of {len(clips)} {preparation.unit}s to process "
         f"({RUNNERS[runner]})")
    if pending:
        with beam.Pipeline(options=options) as pipeline:
            _ = (pipeline
                 | "clips" >> beam.Create([preparation.clip_to_json(clip) for clip in pending])
                 | "spread" >> beam.Reshuffle()
                 | "process" >> beam.ParDo(_clip_fn(preparation)))
    _log(f"{preparation.description}: {len(pending)} {preparation.unit}s processed, {_elapsed(start)} elapsed")
    return clip_steps.finish_preparation(preparation, clips, lambda prep, sets: _write_sets(prep, sets, options, start),
                                         lambda prep, names: _statistics(prep, names, options))


def _statistics(preparation, names, options) -> dict:
    """``{feature: RunningStats}`` by a combine step: each worker's examples give partial statistics,
    merged (Chan's update) in any order; equal to the local loop's up to float64 rounding."""
    beam = import_beam()
    from avse_tf.data.normalization import RunningStats

    class ExampleStatistics(beam.DoFn):
        def __init__(self, preparation):
            super().__init__()
            self.preparation = preparation

        def process(self, name):
            partial = {}
            for feature, block in self.preparation.statistics_blocks(name).items():
                partial.setdefault(feature, RunningStats()).update(block)
            yield json.dumps({feature: stats.to_json() for feature, stats in partial.items()})

    class MergeStatistics(beam.CombineFn):
        def create_accumulator(self):
            return {}

        def add_input(self, accumulator, element):
            for feature, data in json.loads(element).items():
                accumulator.setdefault(feature, RunningStats()).merge(RunningStats.from_json(data))
            return accumulator

        def merge_accumulators(self, accumulators):
            merged = {}
            for accumulator in accumulators:
                for feature, stats in accumulator.items():
                    merged.setdefault(feature, RunningStats()).merge(stats)
            return merged

        def extract_output(self, accumulator):
            return json.dumps({feature: stats.to_json() for feature, stats in accumulator.items()})

    folder = preparation.statistics_path() + ".parts"
    os.makedirs(folder, exist_ok=True)
    result = os.path.join(folder, "combined.json")

    def write(text):
        from avse_tf.utils import atomic_write_text

        atomic_write_text(result, text)

    _log(f"normalisation statistics: {len(names)} examples")
    with beam.Pipeline(options=options) as pipeline:
        _ = (pipeline
             | "names" >> beam.Create(list(names))
             | "spread" >> beam.Reshuffle()
             | "partial" >> beam.ParDo(ExampleStatistics(preparation))
             | "combine" >> beam.CombineGlobally(MergeStatistics())
             | "save" >> beam.Map(write))
    with open(result, encoding="utf-8") as handle:
        combined = {feature: RunningStats.from_json(data) for feature, data in json.loads(handle.read()).items()}
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    return combined


def _write_sets(preparation, record_sets, options, start) -> None:
    beam = import_beam()
    from avse_tf.records.writer import normalize_compression, shard_name

    for record_set in record_sets:
        clip_steps.start_record_set(record_set)
    blocks = [(set_index, shard_index, names) for set_index, record_set in enumerate(record_sets)
              for shard_index, names in clip_steps.shard_blocks(record_set, preparation.examples_per_shard)]
    _log(f"records: {len(blocks)} shards of {len(record_sets)} sets to write")
    with beam.Pipeline(options=options) as pipeline:
        _ = (pipeline
             | "shards" >> beam.Create([json.dumps(block) for block in blocks])
             | "spread" >> beam.Reshuffle()
             | "write" >> beam.ParDo(_shard_fn(preparation, record_sets)))
    compression = normalize_compression(preparation.compression)
    for set_index, record_set in enumerate(record_sets):
        own = [(shard_index, names) for index, shard_index, names in blocks if index == set_index]
        shards = []
        for (shard_index, _), examples in zip(own, clip_steps.block_examples(record_set, [names for _, names in own])):
            name = shard_name("records", shard_index, compression)
            path = os.path.join(record_set.folder, name)
            if not os.path.isfile(path):
                raise RuntimeError(f"the pipeline finished without writing {path}")
            shards.append((name, examples, os.path.getsize(path)))
        clip_steps.finish_record_set(preparation, record_set, shards)
    _log(f"records: {len(blocks)} shards written, {_elapsed(start)} elapsed")
