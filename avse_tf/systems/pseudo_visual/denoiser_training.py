"""Training the denoiser on its visual stream (Hegde et al., WACV 2021 §3.3; the original's
``train.py``): L1 between the denoiser's output and the clean speech's features, the lip-sync
student frozen.

:class:`DenoiserTraining` holds the denoiser and, for the paper's system, the frozen student. Its
``visual`` stream is one of:

* ``pseudo`` - the student's lips from the noisy mels (the paper's system; the original runs the
  student under ``torch.no_grad`` in eval mode: here inference mode and ``stop_gradient``);
* ``none`` - zeros in place of the lips: the audio-only ablation (the same network, trained the
  same way, the visual stream carrying nothing);
* ``real`` - the corpus's true lower faces (the real-lips comparison: the same visual encoder on
  the video the speech was recorded with).
"""

from __future__ import annotations

import keras

from avse_tf.systems.pseudo_visual.denoiser import LIP_SHAPE
from avse_tf.systems.pseudo_visual.features import MEL_STEP, NUM_MELS

VISUAL_STREAMS = ("pseudo", "none", "real")


@keras.saving.register_keras_serializable(package="avse_tf")
class DenoiserTraining(keras.Model):
    """Denoiser + (for ``visual="pseudo"``) the frozen student (module doc). Called on a batch of
    :func:`denoiser_data.make_denoiser_dataset` it returns the enhanced features ``[B, T, 514]``."""

    # The registry's model id (what `avse export`, `avse demo` and `avse_tf.load` look up).
    architecture = "pseudo_visual_denoiser"

    def __init__(self, denoiser, student=None, visual="pseudo", **kwargs):
        super().__init__(**kwargs)
        if visual not in VISUAL_STREAMS:
            raise ValueError(f"visual must be one of {VISUAL_STREAMS}, got {visual!r}")
        if visual == "pseudo" and student is None:
            raise ValueError("the pseudo-lip denoiser needs the lip-sync student")
        self.denoiser, self.student, self.visual = denoiser, student, visual
        if student is not None:
            self.student.trainable = False
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.built = True  # both networks are built functional models

    @property
    def metrics(self):
        return [self.loss_tracker]

    def lips(self, data):
        """The visual stream ``[B, W, 48, 96, 3]`` of a batch (module doc)."""
        import tensorflow as tf

        mels = tf.convert_to_tensor(data["noisy_mels"], tf.float32)
        shape = tf.shape(mels)
        if self.visual == "real":
            return tf.cast(data["lips"], tf.float32)
        if self.visual == "none":
            return tf.zeros(tf.concat([shape[:2], LIP_SHAPE], 0), tf.float32)
        lips = self.student(tf.reshape(mels, (-1, MEL_STEP, NUM_MELS)), training=False)
        return tf.stop_gradient(tf.reshape(tf.cast(lips, tf.float32), tf.concat([shape[:2], LIP_SHAPE], 0)))

    def call(self, data, training=False):
        return self.denoiser({"stft": data["noisy_stft"], "lips": self.lips(data)}, training=training)

    def _l1(self, data, training):
        import tensorflow as tf

        enhanced = tf.cast(self(data, training=training), tf.float32)
        return tf.reduce_mean(tf.abs(enhanced - tf.cast(data["clean_stft"], tf.float32)))

    def train_step(self, data):
        import tensorflow as tf

        data = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            loss = self._l1(data, training=True)
            scaled = self.optimizer.scale_loss(loss) if hasattr(self.optimizer, "scale_loss") else loss
        variables = self.denoiser.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        data = data[0] if isinstance(data, tuple) else data
        self.loss_tracker.update_state(self._l1(data, training=False))
        return {"loss": self.loss_tracker.result()}

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {"denoiser": serialize(self.denoiser),
                "student": None if self.student is None else serialize(self.student),
                "visual": self.visual, "architecture": self.architecture, "name": self.name,
                "trainable": self.trainable}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        deserialize = keras.saving.deserialize_keras_object
        config = dict(config)
        config.pop("architecture", None)
        denoiser = deserialize(config.pop("denoiser"), custom_objects=custom_objects)
        student = config.pop("student")
        student = None if student is None else deserialize(student, custom_objects=custom_objects)
        return cls(denoiser, student, **config)


__all__ = ["DenoiserTraining", "VISUAL_STREAMS"]
