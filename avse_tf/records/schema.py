"""Record schemas: which features a system stores, with their types and shapes, per mode.

Every example is one ``tf.train.SequenceExample``:

- context (one value or one fixed-length list per example): ``sequence_length`` (frames) and
  ``num_samples`` (waveform samples) always, as int64 scalars; strings (paths, speaker, utterance);
  and in ``fixed`` mode the waveforms, as float lists of exactly ``num_audio_samples``;
- feature lists (one vector per frame): spectrograms, masks, landmark motion, all with the same
  number of frames ``sequence_length``; in ``var`` mode also the waveforms, as one list of
  dimension 1 per sample (the original project's layout for variable-length corpora).

A :class:`RecordSchema` is plain data: it serialises to JSON (:meth:`RecordSchema.to_json`) and
the record writer stores it in the manifest, so a reader rebuilds it from the records alone.
``tfrecords/README.md`` documents the schemas of each system as tables.
"""

from __future__ import annotations

import dataclasses
import json

DTYPES = ("int64", "float32", "bytes")
MODES = ("fixed", "var")
LENGTH_FEATURES = ("sequence_length", "num_samples")


@dataclasses.dataclass(frozen=True)
class Feature:
    """One stored feature.

    ``dtype``: ``"int64"``, ``"float32"`` or ``"bytes"``. ``length``: for a context feature, the
    number of values (``None``: one scalar); for a sequence feature, the dimension of the vector
    stored per step (also available as :attr:`dim`). ``waveform``: the feature is audio, one value
    per sample (fixed length ``num_audio_samples`` in fixed mode, one step per sample in var mode).
    """

    dtype: str
    length: int | None = None
    waveform: bool = False

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise ValueError(f"feature dtype must be one of {DTYPES}, got {self.dtype!r}")
        if self.length is not None:
            if isinstance(self.length, bool) or int(self.length) != self.length or self.length < 1:
                raise ValueError(f"feature length must be a positive integer or None, got {self.length!r}")
            object.__setattr__(self, "length", int(self.length))
        if self.waveform and self.dtype != "float32":
            raise ValueError("waveform features are float32")

    @property
    def dim(self) -> int | None:
        """Per-step dimension of a sequence feature (same as ``length``)."""
        return self.length

    def to_dict(self) -> dict:
        return {"dtype": self.dtype, "length": self.length, "waveform": self.waveform}

    @classmethod
    def from_dict(cls, data) -> "Feature":
        return cls(data["dtype"], data.get("length"), bool(data.get("waveform", False)))


@dataclasses.dataclass(frozen=True)
class RecordSchema:
    """The features of one system's records in one mode.

    ``context``: name -> :class:`Feature` (per example); ``sequence``: name -> :class:`Feature`
    (per frame, or per sample for var-mode waveforms). ``num_audio_samples``: waveform length in
    fixed mode; ``num_frames``: in fixed mode, the number of frames sequence features are padded or
    trimmed to (``None``: frames vary and batches are padded). ``sequence_length`` and
    ``num_samples`` are added to the context when missing.
    """

    name: str
    mode: str
    context: dict
    sequence: dict
    num_audio_samples: int | None = None
    num_frames: int | None = None

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be 'fixed' or 'var', got {self.mode!r}")
        context = {name: _as_feature(value) for name, value in dict(self.context).items()}
        sequence = {name: _as_feature(value) for name, value in dict(self.sequence).items()}
        for name in LENGTH_FEATURES:
            if name in sequence:
                raise ValueError(f"{name} is a context feature")
            if context.setdefault(name, Feature("int64")) != Feature("int64"):
                raise ValueError(f"{name} must be an int64 scalar context feature")
        both = set(context) & set(sequence)
        if both:
            raise ValueError(f"features both in context and sequence: {sorted(both)}")
        for name, feature in sequence.items():
            if feature.length is None:
                raise ValueError(f"sequence feature {name} needs its per-step dimension")
            if feature.dtype == "bytes":
                raise ValueError(f"sequence feature {name}: per-step features are int64 or float32")
            if feature.waveform and (self.mode == "fixed" or feature.length != 1):
                raise ValueError(f"waveform {name}: a sequence feature of dimension 1, in var mode only")
        for name, feature in context.items():
            if feature.waveform:
                if self.mode == "var":
                    raise ValueError(f"waveform {name}: var mode stores waveforms as sequence features")
                if self.num_audio_samples is None or feature.length != self.num_audio_samples:
                    raise ValueError(f"waveform {name}: a context feature of length num_audio_samples in fixed mode")
        for name in ("num_audio_samples", "num_frames"):
            value = getattr(self, name)
            if value is not None:
                if int(value) != value or value < 1:
                    raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
                object.__setattr__(self, name, int(value))
        object.__setattr__(self, "context", context)
        object.__setattr__(self, "sequence", sequence)

    # -- views ---------------------------------------------------------------------------------
    @property
    def waveforms(self) -> list:
        """Names of the waveform features (context in fixed mode, sequence in var mode)."""
        return [name for name, feature in {**self.context, **self.sequence}.items() if feature.waveform]

    @property
    def frame_features(self) -> list:
        """Names of the per-frame sequence features (they share ``sequence_length`` frames)."""
        return [name for name, feature in self.sequence.items() if not feature.waveform]

    @property
    def feature_names(self) -> list:
        return [*self.context, *self.sequence]

    def describe(self) -> str:
        return f"{self.name} ({self.mode} mode)"

    # -- JSON ----------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "name": self.name, "mode": self.mode,
            "num_audio_samples": self.num_audio_samples, "num_frames": self.num_frames,
            "context": {name: feature.to_dict() for name, feature in self.context.items()},
            "sequence": {name: feature.to_dict() for name, feature in self.sequence.items()},
        }

    def to_json(self, indent=None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data) -> "RecordSchema":
        try:
            return cls(data["name"], data["mode"],
                       {name: Feature.from_dict(value) for name, value in data["context"].items()},
                       {name: Feature.from_dict(value) for name, value in data["sequence"].items()},
                       data.get("num_audio_samples"), data.get("num_frames"))
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"not a record schema: missing or malformed {error}") from None

    @classmethod
    def from_json(cls, text) -> "RecordSchema":
        """Schema from :meth:`to_json` text (a dict, as found inside a manifest, is accepted too)."""
        return cls.from_dict(json.loads(text) if isinstance(text, (str, bytes)) else text)


def _as_feature(value) -> Feature:
    if isinstance(value, Feature):
        return value
    if isinstance(value, dict):
        return Feature.from_dict(value)
    raise ValueError(f"expected a Feature, got {value!r}")
