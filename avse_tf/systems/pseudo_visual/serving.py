"""What :func:`avse_tf.load` returns for a pseudo-visual denoiser: :class:`PseudoVisualDenoiser`."""

from __future__ import annotations

import os

import numpy as np

from avse_tf.constants import SAMPLE_RATE


class PseudoVisualDenoiser:
    """A loaded denoiser: ``denoise(waveform)`` (16 kHz mono float32, any length, the same length
    back) and ``denoise_file(input, output)`` (any audio or video file: a ``.wav``, or an ``.mp4`` of
    a video input with the denoised audio).

    ``from_path`` takes a ``denoising train`` folder or its ``best.keras``, a ``--format keras``
    export folder or a SavedModel export (:mod:`~avse_tf.systems.pseudo_visual.export`: waveform in,
    waveform out)."""

    system = "pseudo_visual"

    def __init__(self, keras_model=None, source=None, serving=None):
        self.keras_model = keras_model
        self.serving = serving  # the SavedModel export's serving_default signature
        self.source = source
        self.model_id = "pseudo_visual_denoiser"

    @classmethod
    def from_path(cls, path):
        from avse_tf.systems.pseudo_visual.train_denoiser import load_denoising
        from avse_tf.utils import task_source

        exported, path = task_source(path)
        if exported:
            import tensorflow as tf

            return cls(source=exported, serving=tf.saved_model.load(exported).signatures["serving_default"])
        return cls(load_denoising(path, "model"), path)

    def denoise(self, waveform) -> np.ndarray:
        from avse_tf.systems.pseudo_visual.inference import checked_waveform, denoise

        if self.serving is None:
            return denoise(self.keras_model, waveform)
        import tensorflow as tf

        waveform = checked_waveform(waveform)
        return np.asarray(self.serving(waveform=tf.constant(waveform[None]))["waveform"])[0]

    def denoise_file(self, input_path, output) -> np.ndarray:
        from avse_tf.audio.io import load_audio, write_audio
        from avse_tf.systems.pseudo_visual.inference import write_result

        enhanced = self.denoise(load_audio(input_path, SAMPLE_RATE))
        if os.fspath(output).lower().endswith(".mp4"):
            write_result(input_path, enhanced, output)
        else:
            write_audio(output, enhanced, SAMPLE_RATE)
        return enhanced


__all__ = ["PseudoVisualDenoiser"]
