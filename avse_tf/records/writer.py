"""Sharded, atomic TFRecord writing of :class:`~avse_tf.records.schema.RecordSchema` examples.

``<prefix>-00000.tfrecord`` (``.tfrecord.gz`` with GZIP) shards of ``examples_per_shard``
examples each are written under a temporary name and renamed when complete; the manifest
``<prefix>.json`` (schema, shards, examples per shard, compression) is written last, atomically.
A run that fails or is killed leaves complete shards only (plus, after a hard kill, a hidden
``.tmp-*`` file) and no manifest, and readers start from the manifest. Writing a set again first
removes its manifest, and on success removes the set's shards that the new manifest does not list.

Examples are validated against the schema: a wrong feature dimension or frame counts that differ
between the features of one example raise :class:`~avse_tf.errors.UserInputError` naming the
example and the feature. In fixed mode a waveform that is not ``num_audio_samples`` long (and a
sequence that is not ``num_frames`` long, when set) is zero-padded or trimmed with a warning.

Serialisation writes the ``SequenceExample`` protocol buffer wire format directly with NumPy
(one block copy per feature list instead of one Python object per frame or sample); the bytes
parse to the same message as one built with ``tf.train`` classes (checked by the tests).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re

import numpy as np

from avse_tf.errors import UserInputError
from avse_tf.records.schema import RecordSchema
from avse_tf.utils import atomic_path, atomic_write_text
from avse_tf.validation import require_finite

log = logging.getLogger(__name__)

MANIFEST_FORMAT = "avse_tf.records"
MANIFEST_VERSION = 1
COMPRESSIONS = {None: None, "": None, "NONE": None, "GZIP": "GZIP"}


def shard_name(prefix: str, index: int, compression=None) -> str:
    return f"{prefix}-{index:05d}.tfrecord" + (".gz" if compression == "GZIP" else "")


def manifest_name(prefix: str) -> str:
    return f"{prefix}.json"


def normalize_compression(compression):
    key = compression.upper() if isinstance(compression, str) else compression
    if key not in COMPRESSIONS:
        raise UserInputError(f"unknown record compression {compression!r}; use none or GZIP")
    return COMPRESSIONS[key]


# ----------------------------------------------------------------------------------------------
# Protocol buffer wire format (tensorflow/core/example/{example,feature}.proto)
#   SequenceExample: context = 1 (Features), feature_lists = 2 (FeatureLists)
#   Features: map<string, Feature> feature = 1     FeatureLists: map<string, FeatureList> = 1
#   map entry: key = 1, value = 2                  FeatureList: repeated Feature feature = 1
#   Feature: bytes_list = 1, float_list = 2, int64_list = 3; each list: (packed) value = 1

def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64: ten-byte two's complement, as protobuf does
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint((number << 3) | 2) + _varint(len(payload)) + payload


def _feature(dtype: str, values) -> bytes:
    """Serialized ``Feature`` holding ``values`` (1-D: floats, ints or byte strings)."""
    if dtype == "bytes":
        return _field(1, b"".join(_field(1, value) for value in values))
    if dtype == "float32":
        data = np.ascontiguousarray(values, dtype="<f4").tobytes()
        return _field(2, _field(1, data) if data else b"")
    data = b"".join(_varint(int(value)) for value in values)
    return _field(3, _field(1, data) if data else b"")


def _feature_list(dtype: str, rows: np.ndarray) -> bytes:
    """Serialized ``FeatureList`` with one ``Feature`` per row of ``rows`` [T, D]."""
    if dtype != "float32":
        return b"".join(_field(1, _feature(dtype, row)) for row in rows)
    frames, dim = rows.shape
    if frames == 0:
        return b""
    payload = np.ascontiguousarray(rows, dtype="<f4").view(np.uint8).reshape(frames, 4 * dim)
    float_list = _varint((1 << 3) | 2) + _varint(4 * dim)
    feature = _varint((2 << 3) | 2) + _varint(len(float_list) + 4 * dim) + float_list
    head = _varint((1 << 3) | 2) + _varint(len(feature) + 4 * dim) + feature
    block = np.empty((frames, len(head) + 4 * dim), np.uint8)
    block[:, :len(head)] = np.frombuffer(head, np.uint8)
    block[:, len(head):] = payload
    return block.tobytes()


def _map(entries: dict) -> bytes:
    return b"".join(_field(1, _field(1, key.encode("utf-8")) + _field(2, value)) for key, value in entries.items())


# ----------------------------------------------------------------------------------------------
# Validation

def _example_label(example: dict, schema: RecordSchema, index=None) -> str:
    names = [name for name, feature in schema.context.items() if feature.dtype == "bytes" and name in example]
    identity = _to_bytes(example[names[0]]).decode("utf-8", "replace") if names else None
    number = f"example {index}" if index is not None else "example"
    return f"{number} ({identity})" if identity else number


def _to_bytes(value) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value).encode("utf-8")
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value)
    raise TypeError(f"expected str or bytes, got {type(value).__name__}")


def _numeric(value, dtype, label, name):
    try:
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise TypeError(array.dtype)
        if dtype == "int64":
            if array.dtype.kind == "f" and not np.all(np.equal(np.mod(array, 1), 0)):
                raise TypeError("non-integer values")
            return array.astype(np.int64)
        array = array.astype(np.float32)
    except (TypeError, ValueError) as error:
        raise UserInputError(f"{label}: feature {name} must be numeric ({dtype}), got {error}") from None
    # The one check every system's records pass through: no NaN / Inf reaches a record.
    return require_finite(array, f"{label}: feature {name}", "check the inputs it was computed from",
                          axes=("frame", "dimension"))


def _fit(array: np.ndarray, length: int) -> np.ndarray:
    if array.shape[0] >= length:
        return array[:length]
    padding = [(0, length - array.shape[0])] + [(0, 0)] * (array.ndim - 1)
    return np.pad(array, padding)


def _declared_length(example, name, actual, label):
    """``sequence_length`` / ``num_samples`` given by the caller: at most the stored length."""
    if name not in example or example[name] is None:
        return actual
    value = _numeric(example[name], "int64", label, name)
    if value.ndim != 0 or int(value) < 0 or (actual is not None and int(value) > actual):
        raise UserInputError(f"{label}: {name} is {example[name]!r} but the features hold {actual}; "
                             f"it may only be smaller (a valid prefix of padded features)")
    return int(value)


def prepare_example(example: dict, schema: RecordSchema, label=None):
    """Validate ``example`` against ``schema``; returns ``(context, sequence)`` dicts of arrays.

    Fixed mode pads or trims waveforms and (with ``num_frames``) frame features, warning once per
    example; ``sequence_length`` and ``num_samples`` count the real (unpadded) frames and samples.
    """
    label = label or _example_label(example, schema)
    known = set(schema.feature_names)
    unknown = sorted(set(example) - known)
    if unknown:
        raise UserInputError(f"{label}: unknown feature(s) {', '.join(unknown)}; schema {schema.describe()} "
                             f"has {', '.join(schema.feature_names)}")
    missing = [name for name in schema.feature_names if name not in example and name not in ("sequence_length",
                                                                                             "num_samples")]
    if missing:
        raise UserInputError(f"{label}: missing feature(s) {', '.join(missing)} of schema {schema.describe()}")
    fixed = schema.mode == "fixed"
    notes = []

    # Waveforms: one length per example.
    waves = {}
    for name in schema.waveforms:
        wave = _numeric(example[name], "float32", label, name)
        if wave.ndim == 2 and wave.shape[1] == 1:
            wave = wave[:, 0]
        if wave.ndim != 1 or wave.size == 0:
            raise UserInputError(f"{label}: waveform {name} has shape {wave.shape}; expected [samples] or "
                                 f"[samples, 1], not empty")
        waves[name] = wave
    samples = None
    if waves:
        lengths = {name: wave.size for name, wave in waves.items()}
        if len(set(lengths.values())) > 1:
            described = ", ".join(f"{name} {size}" for name, size in lengths.items())
            raise UserInputError(f"{label}: waveforms differ in length ({described}); the waveforms of one "
                                 "example must be aligned")
        samples = next(iter(lengths.values()))
    num_samples = _declared_length(example, "num_samples", samples, label)
    if fixed and waves and samples != schema.num_audio_samples:
        notes.append(f"waveforms have {samples} samples, not {schema.num_audio_samples}: "
                     + ("zero-padded" if samples < schema.num_audio_samples else "trimmed"))
        waves = {name: _fit(wave, schema.num_audio_samples) for name, wave in waves.items()}
        num_samples = min(num_samples, schema.num_audio_samples)

    # Per-frame sequence features: one frame count per example, the schema's dimension.
    frames_by_name, sequence = {}, {}
    for name in schema.frame_features:
        feature = schema.sequence[name]
        value = _numeric(example[name], feature.dtype, label, name)
        if value.ndim == 1 and feature.dim == 1:
            value = value[:, None]
        if value.ndim != 2 or value.shape[1] != feature.dim:
            raise UserInputError(f"{label}: feature {name} has shape {tuple(value.shape)}; expected "
                                 f"[frames, {feature.dim}] (dimension {feature.dim}, got "
                                 f"{value.shape[-1] if value.ndim else 'a scalar'})")
        frames_by_name[name] = value.shape[0]
        sequence[name] = value
    frames = None
    if frames_by_name:
        if len(set(frames_by_name.values())) > 1:
            counts = ", ".join(f"{name} {count}" for name, count in frames_by_name.items())
            raise UserInputError(f"{label}: sequence features differ in frame count ({counts}); they must share "
                                 "one sequence_length")
        frames = next(iter(frames_by_name.values()))
        if frames == 0:
            raise UserInputError(f"{label}: sequence features have no frames")
    sequence_length = _declared_length(example, "sequence_length", frames, label)
    if fixed and schema.num_frames and frames is not None and frames != schema.num_frames:
        notes.append(f"sequence features have {frames} frames, not {schema.num_frames}: "
                     + ("zero-padded" if frames < schema.num_frames else "trimmed"))
        sequence = {name: _fit(value, schema.num_frames) for name, value in sequence.items()}
        sequence_length = min(sequence_length, schema.num_frames)
    if notes:
        log.warning("%s: %s", label, "; ".join(notes))

    context = {"sequence_length": np.asarray([sequence_length or 0], np.int64),
               "num_samples": np.asarray([num_samples or 0], np.int64)}
    for name, feature in schema.context.items():
        if name in context:
            continue
        if feature.waveform:
            context[name] = waves[name]
            continue
        value = example[name]
        if feature.dtype == "bytes":
            items = [value] if feature.length is None else list(value)
            try:
                context[name] = [_to_bytes(item) for item in items]
            except TypeError as error:
                raise UserInputError(f"{label}: feature {name}: {error}") from None
        else:
            context[name] = _numeric(value, feature.dtype, label, name).reshape(-1)
        expected = feature.length or 1
        if len(context[name]) != expected:
            raise UserInputError(f"{label}: feature {name} has {len(context[name])} values; expected {expected}")
    for name in schema.waveforms:
        if name in schema.sequence:
            sequence[name] = waves[name][:, None]
    return context, sequence


def serialize_example(example: dict, schema: RecordSchema, label=None) -> bytes:
    """One serialized ``tf.train.SequenceExample`` from a dict of arrays / bytes / str / int."""
    context, sequence = prepare_example(example, schema, label)
    features = _map({name: _feature(schema.context[name].dtype, value) for name, value in context.items()})
    lists = _map({name: _feature_list(schema.sequence[name].dtype, value) for name, value in sequence.items()})
    return _field(1, features) + _field(2, lists)


# ----------------------------------------------------------------------------------------------
# Writer

class RecordWriter:
    """Sharded record writer: ``with RecordWriter(dir, prefix, schema) as writer: writer.write(example)``.

    ``examples_per_shard``: examples per file; ``compression``: ``None`` or ``"GZIP"``. The
    manifest is written when the block ends without an exception (or on :meth:`close`), with
    :attr:`metadata` (a JSON-able dict the caller may fill while writing) under ``"metadata"``.
    """

    def __init__(self, dest_dir, prefix, schema: RecordSchema, examples_per_shard=64, compression=None):
        if not isinstance(schema, RecordSchema):
            raise TypeError(f"schema must be a RecordSchema, got {type(schema).__name__}")
        if int(examples_per_shard) < 1:
            raise ValueError("examples_per_shard must be at least 1")
        if not prefix or os.sep in prefix or (os.altsep and os.altsep in prefix):
            raise ValueError(f"prefix must be a plain file name prefix, got {prefix!r}")
        self.dest_dir = os.fspath(dest_dir)
        self.prefix = prefix
        self.schema = schema
        self.examples_per_shard = int(examples_per_shard)
        self.compression = normalize_compression(compression)
        self.shards, self.counts, self.sizes = [], [], []
        self.num_examples = 0
        self.metadata = {}
        self._stack = None
        self._writer = None
        self._count = 0
        self._started = False
        self._closed = False

    @property
    def manifest_path(self) -> str:
        return os.path.join(self.dest_dir, manifest_name(self.prefix))

    def __enter__(self):
        self._start()
        return self

    def __exit__(self, kind, value, traceback):
        if kind is None:
            self.close()
        else:
            self.abort()
        return False

    def _start(self):
        if self._started:
            return
        os.makedirs(self.dest_dir, exist_ok=True)
        # The set is being rewritten: until the new manifest exists it is incomplete.
        if os.path.exists(self.manifest_path):
            os.remove(self.manifest_path)
        self._started = True

    def _open_shard(self):
        import tensorflow as tf

        final = os.path.join(self.dest_dir, shard_name(self.prefix, len(self.shards), self.compression))
        self._stack = contextlib.ExitStack()
        temporary = self._stack.enter_context(atomic_path(final))
        self._writer = tf.io.TFRecordWriter(temporary, tf.io.TFRecordOptions(compression_type=self.compression or ""))
        self._final = final
        self._count = 0

    def _finish_shard(self):
        if self._writer is None:
            return
        self._writer.close()
        self._writer = None
        stack, self._stack = self._stack, None
        stack.close()  # renames the temporary file onto the shard name
        self.shards.append(os.path.basename(self._final))
        self.counts.append(self._count)
        self.sizes.append(os.path.getsize(self._final))

    def write(self, example: dict, name=None) -> None:
        """Validate, serialise and append one example; ``name`` labels it in messages."""
        if self._closed:
            raise ValueError("RecordWriter is closed")
        self._start()
        label = name or _example_label(example, self.schema, self.num_examples)
        data = serialize_example(example, self.schema, label)
        if self._writer is None:
            self._open_shard()
        self._writer.write(data)
        self._count += 1
        self.num_examples += 1
        if self._count >= self.examples_per_shard:
            self._finish_shard()

    def abort(self) -> None:
        """Drop the unfinished shard (complete shards stay); no manifest is written."""
        if self._writer is not None:
            # A writer that failed (a full disk) may fail to close too; the temporary goes either way.
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None
            stack, self._stack = self._stack, None
            try:  # atomic_path removes the temporary file when its block fails
                stack.__exit__(RuntimeError, RuntimeError("record writing aborted"), None)
            except RuntimeError:
                pass
        self._closed = True

    def close(self) -> str:
        """Finish the last shard, write the manifest, remove stale shards; returns the manifest path."""
        if self._closed:
            return self.manifest_path
        self._start()
        self._finish_shard()
        write_manifest(self.dest_dir, self.prefix, self.schema, self.compression,
                       list(zip(self.shards, self.counts, self.sizes)), self.metadata)
        self._closed = True
        return self.manifest_path


def write_manifest(dest_dir, prefix, schema: RecordSchema, compression, shards, metadata=None) -> str:
    """Write ``<prefix>.json`` for ``shards`` (``[(file name, examples, bytes)]``) atomically, then
    remove the set's shards it does not list; returns its path. The last step of every writer."""
    manifest = {
        "format": MANIFEST_FORMAT, "version": MANIFEST_VERSION,
        "schema": schema.to_dict(), "compression": compression,
        "num_examples": int(sum(count for _, count, _ in shards)),
        "shards": [{"file": shard, "examples": int(count), "bytes": int(size)} for shard, count, size in shards],
    }
    if metadata:
        manifest["metadata"] = metadata
    path = os.path.join(dest_dir, manifest_name(prefix))
    atomic_write_text(path, json.dumps(manifest, indent=1) + "\n")
    listed = {shard for shard, _, _ in shards}
    pattern = re.compile(re.escape(prefix) + r"-\d{5}\.tfrecord(\.gz)?")
    for entry in os.listdir(dest_dir):
        if pattern.fullmatch(entry) and entry not in listed:
            os.remove(os.path.join(dest_dir, entry))
    return path


def write_shard(dest_dir, prefix, index: int, schema: RecordSchema, examples, compression=None) -> tuple:
    """Write shard number ``index`` of a set from ``examples`` (``[(name, example dict)]``) under a
    temporary name, renamed when complete: a retried writer (a Beam bundle run twice) replaces the
    shard, never appends to it. Returns ``(file name, examples, bytes)`` for :func:`write_manifest`."""
    import tensorflow as tf

    compression = normalize_compression(compression)
    final = os.path.join(dest_dir, shard_name(prefix, index, compression))
    os.makedirs(dest_dir, exist_ok=True)
    count = 0
    with atomic_path(final) as temporary:
        with tf.io.TFRecordWriter(temporary, tf.io.TFRecordOptions(compression_type=compression or "")) as writer:
            for name, example in examples:
                writer.write(serialize_example(example, schema, name))
                count += 1
    return os.path.basename(final), count, os.path.getsize(final)


def write_records(dest_dir, prefix, schema, examples_iterable, examples_per_shard=64, compression=None) -> str:
    """Write every example of ``examples_iterable``; returns the manifest path."""
    with RecordWriter(dest_dir, prefix, schema, examples_per_shard, compression) as writer:
        for example in examples_iterable:
            writer.write(example)
    return writer.manifest_path
