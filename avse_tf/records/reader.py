"""Reading record sets: manifest, ``tf.data`` input pipeline, checks and inspection.

Pipeline (:func:`make_dataset`): shard names -> (seeded shuffle of the shards) -> parallel
``interleave`` of ``TFRecordDataset`` readers -> (seeded shuffle buffer of serialized records) ->
(repeat) -> ``batch`` of serialized records -> ``tf.io.parse_sequence_example`` on each batch ->
``prefetch``. Parsing whole batches with ``parse_sequence_example`` measured the same as
``parse_single_sequence_example`` per record followed by ``batch`` / ``padded_batch`` (within
+-10 % run-to-run noise on 2 cores, uncompressed and GZIP, both modes), and it is one code path for
both modes: the parser pads sequence features of different lengths with zeros on the right, up to
the longest in the batch, which is var mode's ``padded_batch`` (zeros on the right, so masked /
cuDNN RNNs see ``sequence_length`` valid frames first). In fixed mode with ``num_frames`` the
frame axis gets its static size. Reading 4 shards in parallel (``cycle_length``) is ~25 % faster
than one at a time.

Validation and test sets are batched like training data (the original evaluated the whole
validation set as one giant batch).

Under a ``tf.distribute`` strategy the pipeline is auto-sharded by file when there are at least
as many shards as input workers (the ``TF_CONFIG`` cluster's workers), by data otherwise (every
worker then reads every shard and keeps its share of the records: correct, but more I/O; write
more, smaller shards with ``examples_per_shard`` to avoid it).

Corrupt input: a damaged shard (or a truncated GZIP one) makes ``tf.data`` raise
``DataLossError`` while iterating, a record that does not match the schema
``InvalidArgumentError``; an uncompressed shard cut short just ends early, which
:func:`load_manifest` catches by comparing each shard's size with the manifest's. :func:`check_records`
reads every record of every shard (and compares with the manifest's counts; NaN / Inf in a float
feature is an error too) and raises a one-line :class:`~avse_tf.errors.CorruptRecordError` (a
``UserInputError``) naming the file and the record's 0-based index in it; :func:`record_errors`
is a context manager for training / testing loops (every system's ``train.py`` and the record-reading
``evaluate.py`` use it around ``fit`` / prediction) that turns such errors into the same one-line error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re

from avse_tf.errors import CorruptRecordError, UserInputError
from avse_tf.records.schema import LENGTH_FEATURES, RecordSchema
from avse_tf.records.writer import MANIFEST_FORMAT, normalize_compression

DEFAULT_CYCLE_LENGTH = 4
REMEDY = "re-run tfrecords_generator"


@dataclasses.dataclass(frozen=True)
class Manifest:
    """A written record set: its manifest path, schema, shard files (absolute), counts, compression,
    and the writer's ``metadata`` (facts about the whole set, such as examples without phone labels)."""

    path: str
    schema: RecordSchema
    files: tuple
    counts: tuple
    compression: str | None
    metadata: dict = dataclasses.field(default_factory=dict)

    @property
    def num_examples(self) -> int:
        return int(sum(self.counts))


def _is_manifest(path) -> bool:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == MANIFEST_FORMAT


def load_manifest(path, prefix=None) -> Manifest:
    """The manifest at ``path`` (``<prefix>.json``), or ``path``/``prefix``.json, or the only
    record manifest in the folder ``path``. Shard paths are resolved next to the manifest."""
    path = os.fspath(path)
    if prefix is not None:
        path = os.path.join(path, f"{prefix}.json")
    elif os.path.isdir(path):
        found = sorted(name for name in os.listdir(path)
                       if name.endswith(".json") and _is_manifest(os.path.join(path, name)))
        if len(found) != 1:
            what = "no record manifest" if not found else f"{len(found)} record manifests ({', '.join(found)})"
            raise UserInputError(f"{what} in {path}; give the manifest file, or run tfrecords_generator first")
        path = os.path.join(path, found[0])
    if not os.path.isfile(path):
        raise UserInputError(f"record manifest not found: {path}; run tfrecords_generator first "
                             "(a set without its manifest was not finished)")
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        if data.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format is {data.get('format')!r}, not {MANIFEST_FORMAT!r}")
        schema = RecordSchema.from_dict(data["schema"])
        shards = [(entry["file"], int(entry["examples"]), entry.get("bytes")) for entry in data["shards"]]
        compression = normalize_compression(data.get("compression"))
        metadata = dict(data.get("metadata") or {})
    except (ValueError, KeyError, TypeError, AttributeError, UserInputError) as error:
        raise UserInputError(f"record manifest {path} is damaged or not a record manifest ({error}); "
                             f"{REMEDY}") from None
    folder = os.path.dirname(os.path.abspath(path))
    files = tuple(os.path.join(folder, name) for name, _, _ in shards)
    for name, (_, _, size) in zip(files, shards):
        if not os.path.isfile(name):
            raise UserInputError(f"record shard missing: {name} (listed in {path}); {REMEDY}")
        # TFRecordDataset stops silently at a record cut short: the size check is what catches it.
        if size is not None and os.path.getsize(name) != int(size):
            raise CorruptRecordError(f"corrupt record file {name}: {os.path.getsize(name)} bytes, the manifest lists "
                                 f"{size} (truncated or overwritten); {REMEDY}")
    return Manifest(os.path.abspath(path), schema, files, tuple(count for _, count, _ in shards), compression,
                    metadata)


def _resolve(files_or_manifest, schema=None):
    """``(files, schema, compression, manifest_or_None)`` from a manifest, folder, shard or list."""
    source = files_or_manifest
    if isinstance(source, Manifest):
        manifest = source
    elif isinstance(source, (str, os.PathLike)) and not os.fspath(source).endswith((".tfrecord", ".tfrecord.gz",
                                                                                      ".gz")):
        manifest = load_manifest(source)
    else:
        manifest = None
    if manifest is not None:
        if schema is not None and schema != manifest.schema:
            raise UserInputError(f"the records in {manifest.path} have schema {manifest.schema.describe()}, "
                                 f"not the {schema.describe()} asked for")
        return list(manifest.files), manifest.schema, manifest.compression, manifest
    files = [os.fspath(source)] if isinstance(source, (str, os.PathLike)) else [os.fspath(f) for f in source]
    if not files:
        raise UserInputError("no record files given")
    kinds = {name.endswith(".gz") for name in files}
    if len(kinds) > 1:
        raise UserInputError("record files mix GZIP (.gz) and uncompressed shards; read them separately")
    for name in files:
        if not os.path.isfile(name):
            raise UserInputError(f"record file not found: {name}")
    return files, schema, ("GZIP" if kinds.pop() else None), None


def parse_specs(schema: RecordSchema, features=None):
    """``(context_features, sequence_features)`` for ``tf.io.parse_[single_]sequence_example``.

    ``features``: names to parse (``sequence_length`` and ``num_samples`` are always included).
    """
    import tensorflow as tf

    dtypes = {"int64": tf.int64, "float32": tf.float32, "bytes": tf.string}
    wanted = set(schema.feature_names) if features is None else set(features) | set(LENGTH_FEATURES)
    unknown = sorted(wanted - set(schema.feature_names))
    if unknown:
        raise UserInputError(f"unknown feature(s) {', '.join(unknown)}; records of {schema.describe()} have "
                             f"{', '.join(schema.feature_names)}")
    context = {name: tf.io.FixedLenFeature([] if feature.length is None else [feature.length], dtypes[feature.dtype])
               for name, feature in schema.context.items() if name in wanted}
    sequence = {name: tf.io.FixedLenSequenceFeature([feature.dim], dtypes[feature.dtype])
                for name, feature in schema.sequence.items() if name in wanted}
    return context, sequence


def _num_input_workers() -> int:
    """Workers of a multi-worker cluster (``TF_CONFIG``), 1 without one."""
    try:
        cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    except ValueError:
        return 1
    return max(1, len(cluster.get("worker", [])) + len(cluster.get("chief", [])))


def make_dataset(files_or_manifest, schema=None, batch_size=8, shuffle=False, shuffle_buffer=256, seed=None,
                 repeat=False, deterministic=True, drop_remainder=False, features=None, cycle_length=None,
                 length_buckets=None):
    """A ``tf.data.Dataset`` of batches: dicts of tensors named as in the schema.

    ``files_or_manifest``: a manifest path, a folder holding one manifest, a :class:`Manifest`,
    or shard file(s) (then ``schema`` is required; ``.gz`` files are read as GZIP). Shapes:
    context ``[B]`` (scalars) or ``[B, length]``; sequence ``[B, T, dim]``, with ``T`` the longest
    ``sequence_length`` of the batch (``num_samples`` for var-mode waveforms), zero-padded on the
    right; in fixed mode with ``num_frames``, ``T = num_frames``. ``shuffle``: shard order and a
    ``shuffle_buffer`` of records, reproducible with ``seed``; ``repeat``: endless. With
    ``deterministic`` the order is the same on every run (parallel reads keep their order).
    ``features``: names to return (``sequence_length`` and ``num_samples`` always come too).
    ``cycle_length``: shards read in parallel (default 4; the order is then round-robin over
    shards, the same on every run; 1 gives the written order, about 25 % slower on 2 cores).
    ``length_buckets`` (var mode): increasing ``sequence_length`` boundaries; each batch then holds
    clips of one bucket (``[0, b0)``, ``[b0, b1)``, ..., ``[b_last, inf)``), so short clips are not
    padded to long ones (:func:`_bucket_by_length`).

    A corrupt shard raises ``tf.errors.DataLossError`` while iterating: call :func:`check_records`
    first, or iterate inside :func:`record_errors`, to get a one-line error naming the file.
    """
    import tensorflow as tf

    files, schema, compression, manifest = _resolve(files_or_manifest, schema)
    if schema is None:
        raise UserInputError("make_dataset needs the schema when record files are given without their manifest")
    if int(batch_size) < 1:
        raise UserInputError(f"batch size must be at least 1, got {batch_size}")
    context_spec, sequence_spec = parse_specs(schema, features)
    cycle_length = max(1, min(int(cycle_length or DEFAULT_CYCLE_LENGTH), len(files)))

    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.interleave(
        lambda name: tf.data.TFRecordDataset(name, compression_type=compression or ""),
        cycle_length=cycle_length, block_length=1, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    if manifest is not None and _num_input_workers() == 1:
        # The manifest counts the examples: a known length gives Keras its steps per epoch (no
        # "input ran out of data" warning, a real progress bar) and is checked while reading.
        # Not across workers: auto-sharding by file changes each worker's count.
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(manifest.num_examples))
    if shuffle:
        dataset = dataset.shuffle(int(shuffle_buffer), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(int(batch_size), drop_remainder=drop_remainder)

    frames = schema.num_frames if schema.mode == "fixed" else None
    static_batch = int(batch_size) if drop_remainder else None

    def parse(serialized):
        context, sequence, _ = tf.io.parse_sequence_example(
            serialized, context_features=context_spec, sequence_features=sequence_spec)
        for name, value in sequence.items():
            steps = frames if not schema.sequence[name].waveform else None
            value.set_shape([static_batch, steps, schema.sequence[name].dim])
        for value in context.values():
            value.set_shape([static_batch] + value.shape.as_list()[1:])
        return {name: (context[name] if name in context else sequence[name])
                for name in schema.feature_names if name in context or name in sequence}

    dataset = dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    if length_buckets:
        if schema.mode != "var":
            raise UserInputError("length buckets need var-mode records (fixed-mode clips all have one length)")
        dataset = _bucket_by_length(dataset, schema, length_buckets, int(batch_size), drop_remainder)
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = bool(deterministic)
    policy = tf.data.experimental.AutoShardPolicy
    options.experimental_distribute.auto_shard_policy = (
        policy.FILE if len(files) >= _num_input_workers() else policy.DATA)
    return dataset.with_options(options)


def _bucket_by_length(batches, schema, boundaries, batch_size, drop_remainder):
    """Re-batch parsed var-mode batches so each batch holds clips of one length bucket.

    The records are still parsed a batch at a time (the fast path); each clip is then cut back to
    its own length (``sequence_length`` frames, ``num_samples`` samples for waveforms) and
    ``bucket_by_sequence_length`` pads it again, only up to the longest clip of its bucket's batch.
    Clips wait in their bucket until it holds ``batch_size``, so the order differs from the
    unbucketed one; the content of every clip is the same (tested)."""
    import tensorflow as tf

    boundaries = [int(boundary) for boundary in boundaries]
    if any(low >= high for low, high in zip(boundaries, boundaries[1:])) or boundaries[0] < 1:
        raise UserInputError(f"length buckets must be increasing positive frame counts, got {boundaries}")

    def own_length(clip):
        frames = tf.cast(clip["sequence_length"], tf.int32)
        samples = tf.cast(clip["num_samples"], tf.int32) if "num_samples" in clip else None
        cut = {}
        for name, value in clip.items():
            feature = schema.sequence.get(name)
            if feature is None:
                cut[name] = value
            else:
                cut[name] = value[:samples] if feature.waveform and samples is not None else value[:frames]
        return cut

    clips = batches.unbatch().map(own_length, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return clips.bucket_by_sequence_length(
        lambda clip: tf.cast(clip["sequence_length"], tf.int32), boundaries, [batch_size] * (len(boundaries) + 1),
        drop_remainder=drop_remainder)


# ----------------------------------------------------------------------------------------------
# Whole-file iteration with one-line errors

def _first_line(error) -> str:
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", getattr(error, "message", None) or str(error))
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = lines[0] if lines else type(error).__name__
    return line.split(" [Op:")[0][:200]


def _iterate_file(name, schema, compression, features=None, check_finite=False):
    """Yield the parsed examples of one shard (numpy), raising one-line :class:`CorruptRecordError`
    naming the shard and the record's index (0-based, in the shard's written order).

    ``TFRecordDataset`` ends quietly at a record cut short in an uncompressed file, so the bytes
    read (8-byte length + 4-byte CRC + data + 4-byte CRC per record) are compared with the size.
    ``check_finite``: a NaN or Inf in a float feature is an error too (naming the feature).
    """
    import numpy as np
    import tensorflow as tf

    specs = parse_specs(schema, features) if schema is not None else None
    floats = {feature_name for feature_name, feature in {**schema.context, **schema.sequence}.items()
              if feature.dtype == "float32"} if schema is not None else set()
    consumed = 0
    index = 0
    try:
        records = iter(tf.data.TFRecordDataset(name, compression_type=compression or ""))
        while True:
            try:
                serialized = next(records)
            except StopIteration:
                size = os.path.getsize(name)
                if not compression and consumed != size:
                    raise CorruptRecordError(f"corrupt record file {name}: record {index} (0-based) is cut short "
                                             f"(the file ends {size - consumed} bytes after the last complete "
                                             f"record); {REMEDY}") from None
                return
            consumed += len(serialized.numpy()) + 16
            if specs is None:
                yield None
                index += 1
                continue
            context, sequence = tf.io.parse_single_sequence_example(serialized, *specs)
            example = {**{key: value.numpy() for key, value in context.items()},
                       **{key: value.numpy() for key, value in sequence.items()}}
            if check_finite:
                for key in sorted(floats & set(example)):
                    if not np.all(np.isfinite(example[key])):
                        what = "NaN" if np.any(np.isnan(example[key])) else "Inf"
                        raise CorruptRecordError(f"corrupt record file {name}: record {index} (0-based) has {what} "
                                                 f"in feature {key}; {REMEDY}")
            yield example
            index += 1
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError, tf.errors.OutOfRangeError,
            tf.errors.UnknownError) as error:
        raise CorruptRecordError(f"corrupt record file {name}: record {index} (0-based) is damaged: "
                                 f"{_first_line(error)}; {REMEDY}") from None


def check_records(files_or_manifest, schema=None) -> int:
    """Read and parse every record; returns the number of examples.

    Raises :class:`~avse_tf.errors.CorruptRecordError` (a ``UserInputError``: ``"corrupt record
    file X: record N (0-based) is damaged: ...; re-run tfrecords_generator"``) for a truncated or
    damaged shard, a record that does not match the schema or holds NaN / Inf in a float feature
    (when the schema is known: from the manifest or ``schema``), or a shard whose example count
    differs from the manifest's.
    """
    files, schema, compression, manifest = _resolve(files_or_manifest, schema)
    total = 0
    for index, name in enumerate(files):
        count = sum(1 for _ in _iterate_file(name, schema, compression, check_finite=True))
        if manifest is not None and count != manifest.counts[index]:
            raise CorruptRecordError(f"corrupt record file {name}: {count} records, the manifest lists "
                                     f"{manifest.counts[index]} (truncated?); {REMEDY}")
        total += count
    return total


def read_examples(files_or_manifest, schema=None, features=None) -> list:
    """Every example, in written order, as a dict of numpy arrays (unbatched, unpadded).

    Strings are ``bytes``, scalars 0-d arrays; for tests and inspection. Errors as :func:`check_records`.
    """
    files, schema, compression, _ = _resolve(files_or_manifest, schema)
    if schema is None:
        raise UserInputError("read_examples needs the schema when record files are given without their manifest")
    examples = []
    for name in files:
        for example in _iterate_file(name, schema, compression, features):
            examples.append({key: example[key] for key in schema.feature_names if key in example})
    return examples


@contextlib.contextmanager
def record_errors(files_or_manifest, schema=None):
    """Turn a corrupt-record error raised in the block into a one-line :class:`CorruptRecordError`.

    ``with record_errors(manifest): model.fit(make_dataset(manifest), ...)``: on ``DataLossError``
    or ``InvalidArgumentError`` the records are checked with :func:`check_records`, which names
    the bad file and record; if they are all sound the original error propagates (it came from
    elsewhere). For several sets, nest them: ``with record_errors(train), record_errors(val):``.
    """
    import tensorflow as tf

    try:
        yield
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError):
        check_records(files_or_manifest, schema)
        raise
