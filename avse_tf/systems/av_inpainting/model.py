"""Audio-visual speech inpainting models of Morrone et al., ICASSP 2021 (arXiv 2010.04556).

"Audio-Visual Speech Inpainting with Deep Learning", G. Morrone, D. Michelsanti, Z.-H. Tan,
J. Jensen. Four Keras functional models, each an :class:`InpaintingModel` (a registered functional
``keras.Model`` whose ``get_config`` holds the builder arguments), plus the independent phone
recogniser used for the PER metric:

=================== ============================================ ===================================
model               inputs (besides ``sequence_length``)         outputs
=================== ============================================ ===================================
``a_blstm``         gapped_spectrogram, gap_mask                 inpainted_spectrogram
``av_blstm``        gapped_spectrogram, gap_mask, video_features inpainted_spectrogram
``a_blstm_mtl``     gapped_spectrogram, gap_mask                 inpainted_spectrogram, phone_logits
``av_blstm_mtl``    gapped_spectrogram, gap_mask, video_features inpainted_spectrogram, phone_logits
``phone_recognizer`` log_mel                                     phone_logits
=================== ============================================ ===================================

Architecture (§2.2-2.3 of the paper; fact sheet "Model", read from the original code): the
network reads the gapped normalised log spectrogram (257 bins; missing frames are zeros), for AV
concatenated with the normalised landmark motion (136); 3 BLSTM layers of 250 units per direction
(no dropout); a linear layer 500 -> 257 without activation. The output is merged with the input:
reliable frames are copied from the input and only gap frames come from the network
(:class:`GapMerge`), so the output equals the input outside the gaps by construction. The loss is
the L1 distance averaged over the gap's bins only (:class:`GapL1`; the paper's text says MSE, its
code uses L1, we follow the code). MTL variants add a linear head 500 -> 40 (39 phones + CTC blank;
the original: 33 + blank, see :mod:`avse_tf.data.phones`) on the last BLSTM output, trained with
CTC over all frames (:class:`CtcLoss`), total loss ``L1_gap + 0.001 * CTC``.

``gap_mask`` is ``[B, T, 1]`` (1 = missing frame); it is used by the merge only, not fed to the
BLSTM (the original's network saw the zeros of the gapped spectrogram and nothing else).

Phone recogniser (the paper's PER measurement, §3.3): 2 BLSTM layers of 250 units on 80 log-mel
bands (125-7600 Hz) and a linear layer to 40 classes; trained separately on clean speech and run
on inpainted waveforms, so the PER does not depend on the inpainting model's own phone head. It is
trained as a frame classifier (per-frame cross-entropy, class 0 = silence, which shares the CTC
blank's index; :func:`avse_tf.systems.av_inpainting.phone_recognizer.train_recognizer`), which learns from a few dozen
clips where CTC from scratch stays on the all-blank plateau; :func:`compile_model` still compiles
it with CTC for users with more data.

Departures: standard LSTM cells (see :class:`avse_tf.layers.StackedBLSTM`; the original used
TF1's ``LSTMCell``); CTC phone set of 39 phones instead of 33.
"""

from __future__ import annotations

import keras
from keras import ops

from avse_tf.data.phones import BLANK, NUM_CLASSES
from avse_tf.layers import SequenceMask, StackedBLSTM

MTL_WEIGHT = 0.001
NUM_MELS = 80
MEL_FMIN, MEL_FMAX = 125.0, 7600.0
BLANK_LOGIT = 30.0  # padded frames: blank logit 30 above the others, probability 1 - 4e-12 per class

MODEL_SPECS = {
    "a_blstm": {"inputs": ["gapped_spectrogram", "gap_mask", "sequence_length"], "video": False, "mtl": False,
                "num_layers": 3, "description": "audio-only BLSTM inpainting (the paper's A)"},
    "av_blstm": {"inputs": ["gapped_spectrogram", "gap_mask", "video_features", "sequence_length"], "video": True,
                 "mtl": False, "num_layers": 3,
                 "description": "audio + landmark-motion BLSTM inpainting (the paper's AV)"},
    "a_blstm_mtl": {"inputs": ["gapped_spectrogram", "gap_mask", "sequence_length"], "video": False, "mtl": True,
                    "num_layers": 3, "description": "audio-only BLSTM inpainting with a CTC phone head (A+MTL)"},
    "av_blstm_mtl": {"inputs": ["gapped_spectrogram", "gap_mask", "video_features", "sequence_length"],
                     "video": True, "mtl": True, "num_layers": 3,
                     "description": "audio + landmark-motion BLSTM inpainting with a CTC phone head (AV+MTL)"},
    "phone_recognizer": {"inputs": ["log_mel", "sequence_length"], "video": False, "mtl": True, "num_layers": 2,
                         "description": "BLSTM CTC phone recogniser on 80 log-mel bands (for the PER metric)"},
}
INPAINTING_MODELS = ("a_blstm", "av_blstm", "a_blstm_mtl", "av_blstm_mtl")


@keras.saving.register_keras_serializable(package="avse_tf")
class GapMerge(keras.layers.Layer):
    """``[input, prediction, gap_mask] -> input * (1 - gap) + prediction * gap`` (the original's
    output merge: the network only fills the gap). Keeps the first input's Keras mask."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        reliable, prediction, gap = inputs
        gap = ops.cast(gap, prediction.dtype)
        return ops.cast(reliable, prediction.dtype) * (1.0 - gap) + prediction * gap

    def compute_mask(self, inputs, previous_mask=None):
        if isinstance(previous_mask, (list, tuple)):
            return previous_mask[0] if previous_mask[0] is not None else previous_mask[1]
        return previous_mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[1])


@keras.saving.register_keras_serializable(package="avse_tf")
class BlankPadding(keras.layers.Layer):
    """``[logits, lengths] -> logits`` with padded frames replaced by a certain CTC blank.

    CTC over all ``T`` frames then equals CTC over each example's valid frames (the padded frames
    contribute log 1 = 0), so the loss needs no output lengths. Drops the Keras mask (the CTC loss
    is per sequence, not per frame).
    """

    def call(self, inputs):
        logits, lengths = inputs
        positions = ops.cumsum(ops.ones_like(logits[:, :, 0], dtype="int32"), axis=1)
        valid = ops.expand_dims(positions <= ops.reshape(ops.cast(lengths, "int32"), (-1, 1)), -1)
        blank = ops.one_hot(ops.full(ops.shape(logits)[:2], BLANK, dtype="int32"), ops.shape(logits)[-1],
                            dtype=logits.dtype) * BLANK_LOGIT
        return ops.where(valid, logits, blank)

    def compute_mask(self, inputs, previous_mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])


@keras.saving.register_keras_serializable(package="avse_tf")
class GapL1(keras.losses.Loss):
    """L1 over the gap only: ``y_true``/``y_pred`` ``[B, T, F]``, the gap mask ``[B, T]`` as sample weight.

    ``call`` gives the per-frame mean absolute error over bins; ``"mean_with_sample_weight"`` divides
    the weighted sum by the number of gap frames, i.e. the mean over every bin of every gap frame of
    the batch (the original's ``reduce_sum(|e| * mask) / reduce_sum(mask)``).
    """

    def __init__(self, name="gap_l1", reduction="mean_with_sample_weight", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return ops.mean(ops.abs(y_pred - ops.cast(y_true, y_pred.dtype)), axis=-1)


@keras.saving.register_keras_serializable(package="avse_tf")
class CtcLoss(keras.losses.Loss):
    """CTC of phone logits ``[B, T, C]`` (blank = 0) against labels ``[B, L]`` zero-padded.

    Label lengths are the non-zero counts; padded frames are already a certain blank
    (:class:`BlankPadding`), so all ``T`` frames are used. One value per sequence (negative log
    likelihood), averaged over the batch as the original's ``tf.reduce_mean(ctc_loss)``.
    """

    def __init__(self, name="ctc", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        labels = ops.cast(y_true, "int32")
        label_length = ops.sum(ops.cast(labels > 0, "int32"), axis=-1)
        frames = ops.shape(y_pred)[1]
        logit_length = ops.full((ops.shape(y_pred)[0],), frames, dtype="int32")
        return ops.ctc_loss(labels, ops.cast(y_pred, "float32"), label_length, logit_length, mask_index=BLANK)


def _input_layer(name, audio_dim, video_dim):
    if name == "sequence_length":
        return keras.Input(shape=(), dtype="int32", name=name)
    dims = {"gapped_spectrogram": audio_dim, "video_features": video_dim, "gap_mask": 1, "log_mel": NUM_MELS}
    return keras.Input(shape=(None, dims[name]), dtype="float32", name=name)


def _graph(architecture, hidden_units, num_layers, audio_dim, video_dim, num_classes):
    spec = MODEL_SPECS[architecture]
    inputs = {name: _input_layer(name, audio_dim, video_dim) for name in spec["inputs"]}
    lengths = inputs["sequence_length"]
    outputs = {}
    if architecture == "phone_recognizer":
        features = SequenceMask(name="frame_mask")([inputs["log_mel"], lengths])
    else:
        features = inputs["gapped_spectrogram"]
        if spec["video"]:
            features = keras.layers.Concatenate(name="av_concat")([features, inputs["video_features"]])
        features = SequenceMask(name="frame_mask")([features, lengths])
    hidden = StackedBLSTM(hidden_units, num_layers, name="blstm")(features)
    if architecture != "phone_recognizer":
        prediction = keras.layers.Dense(audio_dim, name="spectrogram")(hidden)
        merged = GapMerge(dtype="float32", name="gap_merge")([inputs["gapped_spectrogram"], prediction,
                                                             inputs["gap_mask"]])
        outputs["inpainted_spectrogram"] = SequenceMask(dtype="float32", name="inpainted_spectrogram")(
            [merged, lengths])
    if spec["mtl"]:
        logits = keras.layers.Dense(num_classes, name="phone_projection")(hidden)
        outputs["phone_logits"] = BlankPadding(dtype="float32", name="phone_logits")([logits, lengths])
    return inputs, outputs


@keras.saving.register_keras_serializable(package="avse_tf")
class InpaintingModel(keras.Model):
    """One of the Morrone et al. 2021 models (or the PER phone recogniser) as a functional model.

    Args:
        architecture: a key of :data:`MODEL_SPECS`.
        hidden_units: LSTM units per direction (paper: 250).
        num_layers: BLSTM layers (``None``: 3 for inpainting models, 2 for the recogniser).
        audio_dim, video_dim: 257 bins (512-point FFT), 136 landmark coordinates.
        num_classes: CTC outputs (39 phones + blank).
        name: model name (default: ``architecture``).

    ``get_config`` returns these arguments; ``keras.models.load_model`` restores it in safe mode.
    """

    def __init__(self, architecture, hidden_units=250, num_layers=None, audio_dim=257, video_dim=136,
                 num_classes=NUM_CLASSES, name=None, **kwargs):
        if architecture not in MODEL_SPECS:
            raise ValueError(f"unknown model {architecture!r}; choose one of {', '.join(MODEL_SPECS)}")
        num_layers = int(num_layers or MODEL_SPECS[architecture]["num_layers"])
        inputs, outputs = _graph(architecture, int(hidden_units), num_layers, int(audio_dim), int(video_dim),
                                 int(num_classes))
        super().__init__(inputs=inputs, outputs=outputs, name=name or architecture, **kwargs)
        self.architecture = architecture
        self.hidden_units = int(hidden_units)
        self.num_layers = num_layers
        self.audio_dim = int(audio_dim)
        self.video_dim = int(video_dim)
        self.num_classes = int(num_classes)

    @property
    def spec(self):
        return MODEL_SPECS[self.architecture]

    def get_config(self):
        return {"architecture": self.architecture, "hidden_units": self.hidden_units, "num_layers": self.num_layers,
                "audio_dim": self.audio_dim, "video_dim": self.video_dim, "num_classes": self.num_classes,
                "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


def _builder(architecture):
    def build(hidden_units=250, num_layers=None, audio_dim=257, video_dim=136, num_classes=NUM_CLASSES, name=None,
              **kwargs):
        return InpaintingModel(architecture, hidden_units=hidden_units, num_layers=num_layers, audio_dim=audio_dim,
                               video_dim=video_dim, num_classes=num_classes, name=name, **kwargs)

    build.__name__ = build.__qualname__ = architecture
    build.__doc__ = (f"Build ``{architecture}``: {MODEL_SPECS[architecture]['description']}. "
                     "Arguments: see :class:`InpaintingModel`.")
    return build


a_blstm = _builder("a_blstm")
av_blstm = _builder("av_blstm")
a_blstm_mtl = _builder("a_blstm_mtl")
av_blstm_mtl = _builder("av_blstm_mtl")
phone_recognizer = _builder("phone_recognizer")
MODEL_BUILDERS = {name: globals()[name] for name in MODEL_SPECS}


def build_model(architecture, /, **kwargs):
    if architecture not in MODEL_BUILDERS:
        raise ValueError(f"unknown model {architecture!r}; choose one of {', '.join(MODEL_BUILDERS)}")
    return MODEL_BUILDERS[architecture](**kwargs)


def compile_model(model, optimizer="adam", mtl_weight=MTL_WEIGHT, **compile_kwargs):
    """Compile with the paper's losses: gap L1 on ``inpainted_spectrogram`` (+ ``mtl_weight`` x CTC
    on ``phone_logits`` for MTL models); CTC alone for the phone recogniser (the PER recogniser is
    trained with frame targets instead: :func:`avse_tf.systems.av_inpainting.phone_recognizer.compile_recognizer`)."""
    spec = MODEL_SPECS[model.architecture]
    losses, weights = {}, {}
    if model.architecture != "phone_recognizer":
        losses["inpainted_spectrogram"], weights["inpainted_spectrogram"] = GapL1(), 1.0
    if spec["mtl"]:
        losses["phone_logits"] = CtcLoss()
        weights["phone_logits"] = 1.0 if model.architecture == "phone_recognizer" else float(mtl_weight)
    model.compile(optimizer=optimizer, loss=losses, loss_weights=weights, **compile_kwargs)
    return model


def decode_phones(logits, lengths, beam_width=20) -> list:
    """CTC beam-search decoding (width 20, as the paper) of ``[B, T, C]`` logits: lists of phone ids."""
    import numpy as np

    strategy = "greedy" if beam_width <= 1 else "beam_search"
    decoded, _ = ops.ctc_decode(ops.convert_to_tensor(np.asarray(logits, np.float32)),
                                ops.convert_to_tensor(np.asarray(lengths, np.int32)), strategy=strategy,
                                beam_width=int(max(beam_width, 1)), mask_index=BLANK)
    best = np.asarray(decoded[0])
    return [[int(value) for value in row if value > 0] for row in best]


__all__ = ["InpaintingModel", "MODEL_SPECS", "MODEL_BUILDERS", "INPAINTING_MODELS", "GapMerge", "BlankPadding",
           "GapL1", "CtcLoss", "build_model", "compile_model", "decode_phones", "a_blstm", "av_blstm",
           "a_blstm_mtl", "av_blstm_mtl", "phone_recognizer", "MTL_WEIGHT"]
