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
ENHANCEMENT_WAVEFORMS = ("target_wav", "interferers_wav", "mixture_wav")


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


def enhancement_schema(mode="fixed", num_audio_samples=48000, audio_dim=257, video_dim=136, num_frames=302):
    """Records of the face-landmark speech enhancement system (Morrone et al., ICASSP 2019).

    Context: ``mixture_path``, ``target_path``, ``speaker``, ``utterance`` (strings),
    ``sequence_length``, ``num_samples``; waveforms ``target_wav``, ``interferers_wav`` (their
    sum), ``mixture_wav``. Per frame: ``tbm`` [T, audio_dim] (target binary mask),
    ``video_features`` [T, video_dim] (normalised landmark motion), ``mixed_spectrogram``
    [T, audio_dim] (normalised power-law mixture spectrogram). ``fixed``: waveforms of exactly
    ``num_audio_samples`` and ``num_frames`` frames (``None``: not enforced); ``var``: any length,
    waveforms per sample, and the two sizes are not stored.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be 'fixed' or 'var', got {mode!r}")
    context = {"mixture_path": Feature("bytes"), "target_path": Feature("bytes"),
               "speaker": Feature("bytes"), "utterance": Feature("bytes"),
               "sequence_length": Feature("int64"), "num_samples": Feature("int64")}
    sequence = {"tbm": Feature("float32", audio_dim), "video_features": Feature("float32", video_dim),
                "mixed_spectrogram": Feature("float32", audio_dim)}
    for name in ENHANCEMENT_WAVEFORMS:
        if mode == "fixed":
            context[name] = Feature("float32", num_audio_samples, waveform=True)
        else:
            sequence[name] = Feature("float32", 1, waveform=True)
    if mode == "var":
        num_audio_samples = num_frames = None
    return RecordSchema("enhancement", mode, context, sequence, num_audio_samples, num_frames)


INPAINTING_MAX_PHONES = 64


def inpainting_schema(mode="fixed", num_audio_samples=48000, audio_dim=257, video_dim=136, num_frames=250,
                      max_phones=INPAINTING_MAX_PHONES):
    """Records of the AV speech-inpainting system (Morrone et al., ICASSP 2021).

    Context: ``speaker``, ``utterance``, ``audio_path`` (strings), ``sequence_length``,
    ``num_samples``; ``clean_wav`` (the uncorrupted waveform, the reference for the metrics);
    ``phones`` [max_phones] int64 (phone ids 1..39 of :mod:`avse_tf.data.phones`, zero-padded) and
    ``num_phones``. Per frame: ``clean_spectrogram`` [T, audio_dim] (normalised log magnitude of
    the clean clip, the target), ``video_features`` [T, video_dim] (normalised landmark motion),
    ``gap_mask`` [T, 1] (1 = missing frame). The model input is ``clean_spectrogram * (1 - gap_mask)``
    (made on the fly, so a gap set stores no second spectrogram). ``fixed``: 48000 samples and 250
    frames (the 2021 STFT) per clip; ``var``: any length, waveform per sample.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be 'fixed' or 'var', got {mode!r}")
    context = {"speaker": Feature("bytes"), "utterance": Feature("bytes"), "audio_path": Feature("bytes"),
               "sequence_length": Feature("int64"), "num_samples": Feature("int64"),
               "phones": Feature("int64", max_phones), "num_phones": Feature("int64")}
    sequence = {"clean_spectrogram": Feature("float32", audio_dim), "video_features": Feature("float32", video_dim),
                "gap_mask": Feature("float32", 1)}
    if mode == "fixed":
        context["clean_wav"] = Feature("float32", num_audio_samples, waveform=True)
    else:
        sequence["clean_wav"] = Feature("float32", 1, waveform=True)
        num_audio_samples = num_frames = None
    return RecordSchema("inpainting", mode, context, sequence, num_audio_samples, num_frames)


def speech2vid_schema(mfcc_rows=12, mfcc_columns=35):
    """Records of Speech2Vid ("You said that?", Chung et al., BMVC 2017): one example per video frame.

    Context only (no feature lists): ``speaker``, ``utterance`` (strings), ``frame`` (int64, index
    of the target frame at 25 fps), ``mfcc`` [mfcc_rows * mfcc_columns] float32 (the 12 x 35 MFCC
    window around the frame, c0 dropped, row-major), ``target`` (bytes: the aligned target face,
    raw uint8 RGB ``[S, S, 3]``), ``identity`` (bytes: K aligned still faces of the same video,
    raw uint8 ``[K, S, S, 3]``), ``target_landmarks`` [136] float32 (the target's 68 points in the
    crop, divided by S) and ``mouth_opening`` (float32, inner-lip opening in crop pixels).
    ``sequence_length`` is 1 and ``num_samples`` 0 (no waveform is stored). The image size S and
    count K are not part of the schema: ``prepare_data`` writes them in ``speech2vid.json`` beside
    the sets.
    """
    context = {"speaker": Feature("bytes"), "utterance": Feature("bytes"), "frame": Feature("int64"),
               "mfcc": Feature("float32", int(mfcc_rows) * int(mfcc_columns)),
               "target": Feature("bytes"), "identity": Feature("bytes"),
               "target_landmarks": Feature("float32", 136), "mouth_opening": Feature("float32"),
               "sequence_length": Feature("int64"), "num_samples": Feature("int64")}
    return RecordSchema("speech2vid", "fixed", context, {})
