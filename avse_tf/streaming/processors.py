"""Processors: what a stream runs on each chunk, supplied by the system that built the model.

The chunker (:mod:`avse_tf.streaming.chunker`) knows nothing of models; a system that streams
declares a ``streaming`` hook (:class:`avse_tf.systems.base.System`), a function
``build_processor(model, folder, landmarks=None, norm_file=None, griffin_lim_iterations=32,
max_gap_ms=480.0)`` returning an object with:

* ``config``: its STFT (:class:`avse_tf.audio.stft.StftConfig`), ``architecture``: the model id;
* ``__call__(chunk)``: complex ``[chunk.centre, bins]`` frames for a :class:`~avse_tf.streaming.chunker.Chunk`;
* ``check_plan(plan)``: a one-line :class:`~avse_tf.errors.UserInputError` for a chunk plan it cannot use;
* ``model_calls``, ``gap_frames``: counters for the demo's report;
* ``uses_packet_loss``: whether it fills dropped packets, so that ``avse demo --drop_rate``
  applies (absent: no).

``folder`` holds the statistics (and settings) saved beside the checkpoint; ``None``: no files
are read (unit normalisation, default settings), for timing (benchmarks), not for listening.
:func:`load_processor` finds the system of a checkpoint through the registry
(:func:`avse_tf.systems.system_of_model`); nothing here names a system.
"""

from __future__ import annotations

import os

from avse_tf.errors import UserInputError


def compiled_model(model):
    """``model(inputs, training=False)`` as a ``tf.function`` traced once for batch 1 and any length.

    On CPU the BLSTM directions run as XLA-compiled loops, as the library's offline inference runs
    them (:func:`avse_tf.layers.recurrent.compiled_bidirectional_lstm`), faster per chunk than Keras'
    own loops (``tools/bench/README.md``, "PyTorch race"). They compile once per chunk length rounded
    up to 8 frames; :func:`~avse_tf.streaming.chunker.warmup` runs every length a live stream uses
    before it starts (tested), so no live block waits for a compile."""
    import tensorflow as tf

    signature = {}
    for tensor in model.inputs:
        # [batch] lengths -> [1]; [batch, time, dim] sequences -> [1, None, dim].
        shape = (1,) + tuple(None for _ in tensor.shape[1:-1]) + tuple(tensor.shape[-1:]) \
            if len(tensor.shape) > 1 else (1,)
        signature[tensor.name] = tf.TensorSpec(shape, tensor.dtype, name=tensor.name)

    @tf.function(input_signature=[signature])
    def run(inputs):
        return model(inputs, training=False)

    run.get_concrete_function()
    return run


def unit_stats(bins: int, video_dims: int = 136) -> dict:
    """Normalisation statistics that change nothing (mean 0, std 1) for ``folder=None``; 136 = 68
    (x, y) landmarks."""
    import numpy as np

    return {"spectrogram": (np.zeros(bins, np.float32), np.ones(bins, np.float32)),
            "video": (np.zeros(video_dims, np.float32), np.ones(video_dims, np.float32))}


def _streaming_systems() -> str:
    from avse_tf.systems import all_systems

    return "; ".join(f"{system.name} ({', '.join(system.models)})" for system in all_systems() if system.streaming)


def _builder(architecture: str, what: str):
    """The ``build_processor`` of the system that builds ``architecture``; one line if it has none."""
    from avse_tf.systems import system_of_model

    try:
        system = system_of_model(architecture)
    except UserInputError:  # not an avse_tf model: say what streams instead
        system = None
    if system is None or system.streaming is None:
        owner = "" if system is None else f" ({system.name})"
        raise UserInputError(f"{what} holds {architecture!r}{owner}, which does not stream; the demo streams "
                             f"{_streaming_systems()}")
    return system.resolve(system.streaming)


def load_processor(path, landmarks=None, norm_file=None, griffin_lim_iterations: int = 32,
                   max_gap_ms: float | None = 480.0):
    """The processor for a ``.keras`` checkpoint or an experiment folder (safe mode), with the
    normalisation statistics (and feature settings) saved beside it."""
    from avse_tf.training.checkpoints import load_model

    path = os.fspath(path)
    if not os.path.exists(path):
        raise UserInputError(f"--model {path} not found; give a .keras file or an experiment folder")
    model = load_model(path, what="model", flag="--model", compile=False)
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    build = _builder(getattr(model, "architecture", model.name), f"--model {path}")
    return build(model, folder, landmarks=landmarks, norm_file=norm_file,
                 griffin_lim_iterations=griffin_lim_iterations, max_gap_ms=max_gap_ms)


def processor_for_model(model, landmarks=None, griffin_lim_iterations: int = 32, max_gap_ms: float | None = 480.0):
    """The processor ``avse demo`` would build for an in-memory ``model``, with unit normalisation
    and default settings (no files): what a benchmark times. One line if its system does not stream."""
    build = _builder(getattr(model, "architecture", model.name), "the model")
    return build(model, None, landmarks=landmarks, griffin_lim_iterations=griffin_lim_iterations,
                 max_gap_ms=max_gap_ms)


__all__ = ["compiled_model", "load_processor", "processor_for_model", "unit_stats"]
