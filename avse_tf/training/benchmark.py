"""What a system gives the benchmark suite (``tools/bench``): its cases, and the helpers they share.

A system's ``bench`` hook (:class:`avse_tf.systems.base.System`) returns a tuple of cases, each
one of:

* :class:`BenchCase`: one model, measured in the training, inference and live-demo sections;
* :class:`FeatureCase`: the system's feature extraction on the benchmark corpus (preprocessing);
* :class:`RecordsCase`: the system's training records on that corpus (pipeline).

``tools/bench`` iterates the registry and these cases; everything that differs between systems
(input shapes, losses, which targets apply) is declared here, in the system's ``bench.py``.
The cases hold plain callables so that a system outside avse_tf can add its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import numpy as np

CLIP_SECONDS = 3.0  # inference and the demand targets are per clip of this length (a GRID utterance)
VIDEO_FPS = 25  # video frames of a clip, for per-frame image models

# Timed calls per inference mode (full run, --quick) of the BLSTM models: graph and XLA calls are
# fast enough to repeat; eager runs the recurrence from Python (skipped under --quick).
BLSTM_REPETITIONS = {"eager": (1, 1), "graph": (3, 1), "xla": (5, 2)}
ONE_CALL = {"eager": (1, 1), "graph": (1, 1), "xla": (1, 1)}


@dataclasses.dataclass(frozen=True)
class BenchCase:
    """One model of a system, as the benchmark measures it.

    Attributes:
        model: model id (``"vl2m"``).
        preset: the preset it is built from (paper sizes).
        synthetic_batch: ``(model, batch, frames, rng) -> (inputs, targets, sample_weights or None)``,
            random arrays of the shapes the model trains on; ``frames`` is ``None`` for per-frame
            image models.
        compile_for_training: ``(model) -> (loss label, loss models)``: compiles ``model`` with the
            library's loss for ``train_on_batch``; ``loss models`` are networks the loss runs per
            example (Speech2Vid's content loss: a frozen face encoder), counted as 3 x their forward
            FLOPs. The library's losses are Keras losses, so no custom train step is needed.
        clip_frames: model frames in one ``CLIP_SECONDS`` clip; ``None`` for per-frame image models
            (one clip = ``CLIP_SECONDS * VIDEO_FPS`` images in one call). Sequence models train on
            crops (``--train_batch``, ``--train_seconds``); image models use ``--s2v_batch``.
        size_keys: architecture keys shown as the model's size.
        quick_overrides: architecture overrides of ``--quick`` (a smoke test, not a measurement).
        blstm: a recurrent (BLSTM) model: the peak-fraction and RTF targets apply, eager inference
            is skipped under ``--quick``, and XLA is skipped on GPU (cuDNN LSTMs).
        inference_repetitions: ``{mode: (timed calls, timed calls under --quick)}`` for the modes
            that are measured (``eager``, ``graph``, ``xla``).
        eager_warmup: one untimed eager call first (convolution kernels are set up on first use).
        demo_processor: ``(model, landmarks) -> processor`` as ``avse demo`` streams it, with unit
            normalisation statistics; ``None``: the model does not stream.
        demo_packet_loss: fraction of 20 ms packets the demo input loses (inpainting fills them).
        train_batch: the model's training batch when ``--train_batch`` is not given (``None``: the
            sequence models' default, 64; 16 under ``--quick``), for a model whose step at that
            batch does not fit a CPU machine's memory.
    """

    model: str
    preset: str
    synthetic_batch: Callable
    compile_for_training: Callable
    clip_frames: int | None = None
    size_keys: tuple = ()
    quick_overrides: Mapping = dataclasses.field(default_factory=dict)
    blstm: bool = False
    inference_repetitions: Mapping = dataclasses.field(default_factory=lambda: dict(ONE_CALL))
    eager_warmup: bool = False
    demo_processor: Callable | None = None
    demo_packet_loss: float = 0.0
    train_batch: int | None = None

    @property
    def streams(self) -> bool:
        return self.demo_processor is not None


@dataclasses.dataclass(frozen=True)
class FeatureCase:
    """A system's feature extraction, clips/s on the benchmark corpus.

    ``setup(data, quick) -> (label, items, extract)``: ``data`` is what ``tools/bench/data.py``
    made (``corpus``, ``clips`` as ``(speaker, utterance)``, ``mixtures``); ``extract(item)`` is
    timed over ``items``, after one untimed call if ``warmup``.
    """

    key: str
    setup: Callable
    warmup: bool = True


@dataclasses.dataclass(frozen=True)
class RecordsCase:
    """A system's training records, written on the benchmark corpus and read back (pipeline).

    Attributes:
        name: row label (the system's CLI group).
        modes: record layouts written and read, the first also giving the normalisation statistics.
        write: ``(corpus, mode, dest_dir, norm_dir, examples_per_shard)`` writes the training-set
            records of ``mode`` under ``<corpus>/<dest_dir>/TRAINING_SET/records.json``.
        model_inputs: parsed batch -> what training reads (``(inputs, targets, weights)``).
        model_inputs_label: the table's measurement for that stage.
        model_inputs_doc: the function named in the notes.
        slow_notes: ``{mode: why}`` added to the notes when that mode misses the target.
    """

    name: str
    modes: tuple
    write: Callable
    model_inputs: Callable
    model_inputs_label: str = "records -> model inputs"
    model_inputs_doc: str = ""
    slow_notes: Mapping = dataclasses.field(default_factory=dict)


def blstm_case(model: str, preset: str, **fields) -> BenchCase:
    """A :class:`BenchCase` of a BLSTM stack (the sizes --quick reduces, the BLSTM repetitions)."""
    defaults = {"size_keys": ("hidden_units", "num_layers"), "quick_overrides": {"hidden_units": 64},
                "blstm": True, "inference_repetitions": BLSTM_REPETITIONS}
    return BenchCase(model, preset, **{**defaults, **fields})


# ----------------------------------------------------------------------------------------------
# Random inputs

def standard_normal(rng, shape):
    return rng.standard_normal(shape).astype("float32")


def uniform(rng, shape):
    return rng.random(shape, dtype="float32")


def binary(rng, shape):
    return (rng.random(shape) > 0.5).astype("float32")


def gap_mask(batch: int, frames: int) -> np.ndarray:
    """``[batch, frames, 1]``: one gap over a fifth of the frames, a third of the way in."""
    gap = np.zeros((batch, frames, 1), "float32")
    gap[:, frames // 3: frames // 3 + max(1, frames // 5)] = 1.0
    return gap


def sequence_inputs(model, batch: int, frames: int, rng, **draws) -> dict:
    """Random ``[batch, frames, dim]`` values for every input of a sequence model (``dim`` from the
    model's input), full ``sequence_length``; ``draws`` maps an input name to ``draw(rng, shape)``
    or to an array (standard normal otherwise)."""
    inputs = {}
    for tensor in model.inputs:
        name = tensor.name
        draw = draws.get(name, standard_normal)
        if name == "sequence_length":
            inputs[name] = np.full([batch], frames, "int32")
        elif callable(draw):
            inputs[name] = draw(rng, (batch, frames, int(tensor.shape[-1])))
        else:
            inputs[name] = draw
    return inputs


__all__ = [
    "CLIP_SECONDS",
    "VIDEO_FPS",
    "BenchCase",
    "FeatureCase",
    "RecordsCase",
    "binary",
    "blstm_case",
    "gap_mask",
    "sequence_inputs",
    "standard_normal",
    "uniform",
]
