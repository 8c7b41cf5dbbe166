"""The face-landmark AV speech-enhancement models of Morrone et al., ICASSP 2019 (arXiv 1811.02480).

"Face Landmark-based Speaker-Independent Audio-Visual Speech Enhancement in Multi-Talker
Environments", G. Morrone, S. Bergamaschi, L. Pasa, L. Fadiga, V. Tikhanoff, L. Badino.

Five Keras functional models, each an :class:`EnhancementModel` (a registered functional
``keras.Model`` whose ``get_config`` holds the builder arguments, as keras-hub backbones do):

============================ =========================================== ======================
model                        inputs (besides ``sequence_length``)        trained on
============================ =========================================== ======================
``vl2m``                     video_features                              tbm (BCE)
``vl2m_ref``                 tbm, mixed_spectrogram, mixed_magnitude     |T|^0.3 (IAM L2)
``av_concat_mask``           video_features, mixed_spectrogram, mixed_m. |T|^0.3 (IAM L2)
``av_concat_mask_ref``       tbm, mixed_spectrogram, mixed_magnitude     |T|^0.3 (IAM L2)
``av_concat_spec``           video_features, mixed_spectrogram           |T|^0.3 (spec L2)
============================ =========================================== ======================

Inputs (named, ``[B, T, dim]`` with batch and time dynamic; all float32 except the lengths):

* ``video_features`` ``[B, T, 136]``: normalised landmark motion at the spectrogram frame rate;
* ``mixed_spectrogram`` ``[B, T, 257]``: normalised ``|M|^0.3``, the network's view of the mixture;
* ``mixed_magnitude`` ``[B, T, 257]``: unnormalised ``|M|^0.3``, what the IAM multiplies;
* ``tbm`` ``[B, T, 257]``: target binary mask (oracle for training, VL2M's estimate at test time);
* ``sequence_length`` ``[B]`` int32: valid frames per example (sequences right-padded).

A :class:`avse_tf.layers.SequenceMask` turns ``sequence_length`` into a Keras mask on every
sequence input, so padded frames are skipped by the BLSTMs and ignored by the losses.

Outputs are float32 also under a ``mixed_float16`` policy. IAM models return ``mask`` (the IAM,
``[0, 10]``) and ``enhanced_spectrogram`` (``mask * mixed_magnitude``); both are zero at padded
frames, as the original multiplied its predictions by the sequence mask. VL2M returns ``tbm_logits``
and ``tbm_estimate`` (sigmoid) unmasked.

Architecture facts follow the original TF1 code (``enhancement_model.py``): LSTM weights uniform in
[-0.1, 0.1]; dropout once on each BLSTM stack's output; linear layers with truncated-normal weights
(std ``1/sqrt(fan_in)``) and zero biases. Departures: the IAM heads' output bias starts at
``logit(0.1)`` so the initial mask is 1 (identity) rather than 5 (``IDENTITY_MASK_BIAS``);
standard instead of peephole LSTM cells (see
:class:`avse_tf.layers.StackedBLSTM`), float32 instead of float64, losses averaged over valid frames
instead of summed (see :mod:`avse_tf.losses`), L2 on kernels only (the original summed
``tf.nn.l2_loss`` over every trainable variable, biases included).
"""

from __future__ import annotations

import math

import keras

from avse_tf.layers import ScaledSigmoid, SequenceMask, StackedBLSTM
from avse_tf.losses import IAM_MAX, get_loss

INPUT_NAMES = ("video_features", "mixed_spectrogram", "mixed_magnitude", "tbm", "sequence_length")

MODEL_SPECS = {
    "vl2m": {
        "inputs": ["video_features", "sequence_length"],
        "loss": "tbm_bce", "output": "tbm_logits", "target": "tbm", "num_layers": 5,
        "description": "video-only BLSTM estimating the target binary mask (the paper's VL2M)",
    },
    "vl2m_ref": {
        "inputs": ["tbm", "mixed_spectrogram", "mixed_magnitude", "sequence_length"],
        "loss": "iam_l2", "output": "enhanced_spectrogram", "target": "target_spectrogram", "num_layers": 3,
        "description": "TBM and mixture BLSTMs, linear fusion, BLSTM, IAM (the paper's VL2M_ref)",
    },
    "av_concat_mask": {
        "inputs": ["video_features", "mixed_spectrogram", "mixed_magnitude", "sequence_length"],
        "loss": "iam_l2", "output": "enhanced_spectrogram", "target": "target_spectrogram", "num_layers": 3,
        "description": "landmarks + mixture concatenated, BLSTM, IAM (the paper's AV concat)",
    },
    "av_concat_mask_ref": {
        "inputs": ["tbm", "mixed_spectrogram", "mixed_magnitude", "sequence_length"],
        "loss": "iam_l2", "output": "enhanced_spectrogram", "target": "target_spectrogram", "num_layers": 3,
        "description": "mixture * TBM and mixture concatenated, BLSTM, IAM (the paper's AV concat-ref)",
    },
    "av_concat_spec": {
        "inputs": ["video_features", "mixed_spectrogram", "sequence_length"],
        "loss": "spec_l2", "output": "enhanced_spectrogram", "target": "target_spectrogram", "num_layers": 3,
        "description": "landmarks + mixture concatenated, BLSTM, direct |T|^0.3 regression (no-mask baseline)",
    },
}
"""Per model: the inputs it reads, the loss key (:func:`avse_tf.losses.get_loss`), the output the
loss applies to, what the target is (``tbm`` or ``target_spectrogram`` = unnormalised |T|^0.3), and
the default number of BLSTM layers per stack (VL2M 5 and AV concat-ref 3 per the original's
maintainer; 3 for the others is our choice, the paper's values for them were not available)."""


def _input_layer(name, audio_dim, video_dim):
    if name == "sequence_length":
        return keras.Input(shape=(), dtype="int32", name=name)
    dim = video_dim if name == "video_features" else audio_dim
    return keras.Input(shape=(None, dim), dtype="float32", name=name)


# Output bias of the IAM heads: logit(1 / IAM_MAX), so an untrained model starts at IAM = 1 (the
# mixture passes through) instead of 10 * sigmoid(0) = 5, which multiplies the mixture by 5 and
# costs the first epoch (initial loss ~1.4 instead of ~0.06 on GRID-like data).
IDENTITY_MASK_BIAS = -math.log(IAM_MAX - 1.0)


def _linear(units, fan_in, regularization, name, use_bias=True, activation=None, dtype=None, bias=0.0):
    """Dense layer initialised like the original's linear layers: truncated normal, std 1/sqrt(fan_in)."""
    return keras.layers.Dense(
        units, activation=activation, use_bias=use_bias, name=name, dtype=dtype,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=1.0 / math.sqrt(fan_in)),
        bias_initializer=keras.initializers.Constant(bias) if bias else "zeros",
        kernel_regularizer=keras.regularizers.L2(regularization) if regularization else None)


def _graph(architecture, hidden_units, num_layers, dropout, audio_dim, video_dim, regularization,
           output_activation):
    """Inputs dict and outputs dict of one architecture (see the module table)."""
    spec = MODEL_SPECS[architecture]
    inputs = {name: _input_layer(name, audio_dim, video_dim) for name in spec["inputs"]}
    lengths = inputs["sequence_length"]

    def masked(tensor, name):
        return SequenceMask(name=name)([tensor, lengths])

    def blstm(tensor, name):
        return StackedBLSTM(hidden_units, num_layers, dropout=dropout, dropout_placement="top",
                            regularization=regularization, name=name)(tensor)

    def iam_outputs(hidden):
        logits = _linear(audio_dim, 2 * hidden_units, regularization, "mask_logits",
                         bias=IDENTITY_MASK_BIAS)(hidden)
        iam = ScaledSigmoid(IAM_MAX, dtype="float32", name="iam")(logits)
        iam = SequenceMask(dtype="float32", name="mask")([iam, lengths])
        # Keras' Multiply fills masked positions of a masked operand with 1 (not 0) when the other
        # operand has no mask, so the product is masked again explicitly.
        enhanced = keras.layers.Multiply(dtype="float32", name="iam_times_mixture")([iam, inputs["mixed_magnitude"]])
        enhanced = SequenceMask(dtype="float32", name="enhanced_spectrogram")([enhanced, lengths])
        return {"mask": iam, "enhanced_spectrogram": enhanced}

    if architecture == "vl2m":
        hidden = blstm(masked(inputs["video_features"], "video_mask"), "blstm")
        logits = _linear(audio_dim, 2 * hidden_units, regularization, "logits")(hidden)
        logits = keras.layers.Activation("linear", dtype="float32", name="tbm_logits")(logits)
        estimate = keras.layers.Activation("sigmoid", dtype="float32", name="tbm_estimate")(logits)
        return inputs, {"tbm_logits": logits, "tbm_estimate": estimate}

    if architecture == "vl2m_ref":
        tbm_hidden = blstm(masked(inputs["tbm"], "tbm_mask"), "tbm_blstm")
        mix_hidden = blstm(masked(inputs["mixed_spectrogram"], "mixture_mask"), "mixture_blstm")
        # Linear fusion W_tbm h_tbm + W_mix h_mix + b: one bias for the sum, as in the original.
        fused = keras.layers.Add(name="fusion")([
            _linear(hidden_units, 2 * hidden_units, regularization, "tbm_projection")(tbm_hidden),
            _linear(hidden_units, 2 * hidden_units, regularization, "mixture_projection", use_bias=False)(mix_hidden),
        ])
        return inputs, iam_outputs(blstm(fused, "fusion_blstm"))

    if architecture == "av_concat_mask":
        joint = keras.layers.Concatenate(name="av_concat")([inputs["video_features"], inputs["mixed_spectrogram"]])
        return inputs, iam_outputs(blstm(masked(joint, "frame_mask"), "blstm"))

    if architecture == "av_concat_mask_ref":
        masked_mixture = keras.layers.Multiply(name="mixture_times_tbm")([inputs["mixed_spectrogram"], inputs["tbm"]])
        joint = keras.layers.Concatenate(name="tbm_concat")([masked_mixture, inputs["mixed_spectrogram"]])
        return inputs, iam_outputs(blstm(masked(joint, "frame_mask"), "blstm"))

    if architecture == "av_concat_spec":
        joint = keras.layers.Concatenate(name="av_concat")([inputs["video_features"], inputs["mixed_spectrogram"]])
        hidden = blstm(masked(joint, "frame_mask"), "blstm")
        spectrogram = _linear(audio_dim, 2 * hidden_units, regularization, "spectrogram",
                              activation=output_activation)(hidden)
        spectrogram = SequenceMask(dtype="float32", name="enhanced_spectrogram")([spectrogram, lengths])
        return inputs, {"enhanced_spectrogram": spectrogram}

    raise ValueError(f"unknown model {architecture!r}; choose one of {', '.join(MODEL_SPECS)}")


@keras.saving.register_keras_serializable(package="avse_tf")
class EnhancementModel(keras.Model):
    """One of the Morrone et al. 2019 models as a functional ``keras.Model``.

    Args:
        architecture: a key of :data:`MODEL_SPECS`.
        hidden_units: LSTM units per direction (paper: 250).
        num_layers: BLSTM layers per stack (``None``: the model's default in :data:`MODEL_SPECS`).
            ``vl2m_ref`` has three stacks (TBM, mixture, after fusion), each ``num_layers`` deep.
        dropout: drop rate on each BLSTM stack's output (original: ``1 - keep_prob``; default 0,
            the original command line's ``--dropout 1``).
        audio_dim, video_dim: feature sizes (257 bins for the 512-point FFT; 136 = 68 x/y landmarks).
        regularization: L2 weight on every kernel (LSTM kernels, recurrent kernels, linear layers).
        output_activation: ``av_concat_spec`` only: activation of its output layer. ``"relu"``
            (default) keeps the regressed power-law spectrogram non-negative, so ``**(1/0.3)`` is
            defined; the original's output was linear (its ``sigmoid * 100`` line was overwritten).
        name: model name (default: ``architecture``; :func:`compile_model` and the task helpers
            look the spec up by this name unless told otherwise).

    ``get_config`` returns these arguments; ``EnhancementModel.from_config(model.get_config())``
    rebuilds the same graph, and ``keras.models.load_model`` restores it in safe mode.
    """

    def __init__(self, architecture, hidden_units=250, num_layers=None, dropout=0.0, audio_dim=257, video_dim=136,
                 regularization=0.0, output_activation="relu", name=None, **kwargs):
        if architecture not in MODEL_SPECS:
            raise ValueError(f"unknown model {architecture!r}; choose one of {', '.join(MODEL_SPECS)}")
        num_layers = int(num_layers or MODEL_SPECS[architecture]["num_layers"])
        inputs, outputs = _graph(architecture, int(hidden_units), num_layers, float(dropout), int(audio_dim),
                                 int(video_dim), float(regularization), output_activation)
        super().__init__(inputs=inputs, outputs=outputs, name=name or architecture, **kwargs)
        self.architecture = architecture
        self.hidden_units = int(hidden_units)
        self.num_layers = num_layers
        self.dropout = float(dropout)
        self.audio_dim = int(audio_dim)
        self.video_dim = int(video_dim)
        self.regularization = float(regularization)
        self.output_activation = output_activation

    @property
    def spec(self):
        """This model's entry of :data:`MODEL_SPECS`."""
        return MODEL_SPECS[self.architecture]

    def get_config(self):
        return {
            "architecture": self.architecture, "hidden_units": self.hidden_units, "num_layers": self.num_layers,
            "dropout": self.dropout, "audio_dim": self.audio_dim, "video_dim": self.video_dim,
            "regularization": self.regularization, "output_activation": self.output_activation,
            "name": self.name, "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


def _builder(architecture):
    def build(hidden_units=250, num_layers=None, dropout=0.0, audio_dim=257, video_dim=136, regularization=0.0,
              name=None, **kwargs):
        return EnhancementModel(architecture, hidden_units=hidden_units, num_layers=num_layers, dropout=dropout,
                                audio_dim=audio_dim, video_dim=video_dim, regularization=regularization,
                                name=name, **kwargs)

    build.__name__ = build.__qualname__ = architecture
    build.__doc__ = (f"Build ``{architecture}``: {MODEL_SPECS[architecture]['description']}.\n\n"
                     f"Inputs: {', '.join(MODEL_SPECS[architecture]['inputs'])}; default "
                     f"{MODEL_SPECS[architecture]['num_layers']} BLSTM layers per stack. "
                     "Arguments: see :class:`EnhancementModel`.")
    return build


vl2m = _builder("vl2m")
vl2m_ref = _builder("vl2m_ref")
av_concat_mask = _builder("av_concat_mask")
av_concat_mask_ref = _builder("av_concat_mask_ref")
av_concat_spec = _builder("av_concat_spec")

MODEL_BUILDERS = {"vl2m": vl2m, "vl2m_ref": vl2m_ref, "av_concat_mask": av_concat_mask,
                  "av_concat_mask_ref": av_concat_mask_ref, "av_concat_spec": av_concat_spec}


def build_model(architecture, /, **kwargs):
    """Build ``architecture`` (a key of :data:`MODEL_BUILDERS`) with builder keyword arguments
    (``name=`` names the model; default: the architecture)."""
    if architecture not in MODEL_BUILDERS:
        raise ValueError(f"unknown model {architecture!r}; choose one of {', '.join(MODEL_BUILDERS)}")
    return MODEL_BUILDERS[architecture](**kwargs)


def model_spec(model_or_name):
    """The :data:`MODEL_SPECS` entry of a model (by its architecture, else its name) or of a name."""
    if isinstance(model_or_name, str):
        key = model_or_name
    else:
        key = getattr(model_or_name, "architecture", None) or model_or_name.name
    if key not in MODEL_SPECS:
        raise ValueError(f"unknown model {key!r}; choose one of {', '.join(MODEL_SPECS)}")
    return MODEL_SPECS[key]


def compile_model(model, optimizer="adam", model_name=None, **compile_kwargs):
    """Compile ``model`` with its masked loss on its training output (see :data:`MODEL_SPECS`).

    Feed targets and frame masks keyed by that output, e.g. for VL2M
    ``model.fit(inputs, {"tbm_logits": tbm}, sample_weight={"tbm_logits": frame_mask})``; the loss
    is then the mean over bins and valid frames (:mod:`avse_tf.losses`). Without a sample weight the
    Keras mask the model attaches to its outputs gives the same normalisation. The L2 regulariser
    (``regularization``) is added by Keras on top.
    """
    spec = model_spec(model_name or model)
    model.compile(optimizer=optimizer, loss={spec["output"]: get_loss(spec["loss"])}, **compile_kwargs)
    return model


def select_inputs(features, model_or_name):
    """The subset of a feature dict a model reads (extra keys such as waveforms are dropped)."""
    return {name: features[name] for name in model_spec(model_or_name)["inputs"]}


__all__ = ["EnhancementModel", "MODEL_SPECS", "MODEL_BUILDERS", "INPUT_NAMES", "build_model", "compile_model",
           "model_spec", "select_inputs", "vl2m", "vl2m_ref", "av_concat_mask", "av_concat_mask_ref",
           "av_concat_spec"]
