"""Distillation of the audio-only student from the frozen lip-sync teacher (Hegde et al. WACV 2021
§3.2; the original's ``lipsync/train_student.py``).

Per training example (a window of W video frames, :func:`pipeline.make_student_dataset`): the
teacher, frozen and in inference mode, is fed the CLEAN mel windows and a FIXED face (one image for
the whole corpus, masked below as target and whole as reference, the original's ``taylor.jpg``); the
student is fed the NOISY mel windows of the same frames; the loss is the L1 distance between the
student's ``[48, 96, 3]`` output and the lower half (rows 48-95) of the teacher's face. Adam 1e-3,
batch 32 (the original's hparams).

:class:`StudentDistillation` holds both networks and the face (a non-trainable weight, so a
checkpoint carries the face its targets were made with); only the student's weights get gradients.
Its validation also reports ``teacher_noisy_l1``: the same L1 for the teacher's own lips from the
noisy mels, the figure distillation has to beat. The teacher reads the audio its inputs ask for:
Wav2Lip's mel windows (``mels`` / ``noisy_mels``) or, for ``--teacher speech2vid``
(:mod:`.speech2vid_teacher`), Speech2Vid's MFCC windows (``mfccs`` / ``noisy_mfccs``); the student
always reads ``noisy_mels``.
"""

from __future__ import annotations

import keras

from avse_tf.systems.pseudo_visual.expert import lower_half
from avse_tf.systems.pseudo_visual.faces import FACE_SIZE
from avse_tf.systems.pseudo_visual.features import MEL_STEP, NUM_MELS
from avse_tf.systems.pseudo_visual.speech2vid_teacher import teacher_audio_key


def _frames(tensor, *shape):
    """``[B, W, ...]`` -> ``[B * W, ...]`` (each video frame is one example for the networks)."""
    import tensorflow as tf

    return tf.reshape(tensor, (-1, *shape))


@keras.saving.register_keras_serializable(package="avse_tf")
class StudentDistillation(keras.Model):
    """Student + frozen teacher + fixed face (module doc). Called on ``{"noisy_mels": [B, W, 16, 80]}``
    (or ``[N, 16, 80]``) it returns the student's lips ``[..., 48, 96, 3]``."""

    def __init__(self, student, teacher, **kwargs):
        super().__init__(**kwargs)
        self.student = student
        self.teacher = teacher
        self.teacher.trainable = False
        self.teacher_audio = teacher_audio_key(teacher)
        self.face = self.add_weight(shape=(FACE_SIZE, FACE_SIZE, 3), initializer="zeros", trainable=False,
                                    name="fixed_face")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.teacher_noisy_tracker = keras.metrics.Mean(name="teacher_noisy_l1")
        self.built = True  # both networks are built functional models; the face weight exists

    def set_face(self, face) -> None:
        """The fixed face, ``[96, 96, 3]`` float in [0, 1] (RGB)."""
        import numpy as np

        face = np.asarray(face, np.float32)
        if face.shape != (FACE_SIZE, FACE_SIZE, 3) or not np.isfinite(face).all() or face.min() < 0 or face.max() > 1:
            raise ValueError(f"the fixed face must be [96, 96, 3] in [0, 1], got {face.shape} in "
                             f"[{face.min():.3g}, {face.max():.3g}]")
        self.face.assign(face)

    @property
    def metrics(self):
        return [self.loss_tracker, self.teacher_noisy_tracker]

    def call(self, inputs, training=False):
        mels = inputs["noisy_mels"] if isinstance(inputs, dict) else inputs
        return self.student(mels, training=training)

    def teacher_lower_half(self, audio):
        """The frozen teacher's lips for its audio windows ``[N, ...]`` (``[N, 16, 80]`` mels, or
        ``[N, 12, 35]`` MFCCs for Speech2Vid) and the fixed face: ``[N, 48, 96, 3]`` (the face masked
        below as the target and whole as the reference, as ``teacher.teacher_lips``)."""
        import tensorflow as tf

        audio = tf.convert_to_tensor(audio, tf.float32)
        rows = tf.range(FACE_SIZE)[:, None, None] < FACE_SIZE // 2
        masked = tf.where(rows, self.face, tf.zeros_like(self.face))
        pair = tf.concat([masked, self.face], axis=-1)[None]
        inputs = tf.repeat(pair, tf.shape(audio)[0], axis=0)
        return tf.stop_gradient(lower_half(self.teacher([inputs, audio], training=False)))

    def _distillation_l1(self, data, training):
        import tensorflow as tf

        audio_shape = tuple(self.teacher.inputs[1].shape[1:])
        target = self.teacher_lower_half(_frames(data[self.teacher_audio], *audio_shape))
        lips = self.student(_frames(data["noisy_mels"], MEL_STEP, NUM_MELS), training=training)
        teacher_noisy_audio = _frames(data[f"noisy_{self.teacher_audio}"], *audio_shape)
        return tf.reduce_mean(tf.abs(tf.cast(lips, tf.float32) - target)), teacher_noisy_audio, target

    def train_step(self, data):
        import tensorflow as tf

        data = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            loss, _, _ = self._distillation_l1(data, training=True)
            scaled = self.optimizer.scale_loss(loss) if hasattr(self.optimizer, "scale_loss") else loss
        variables = self.student.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        import tensorflow as tf

        data = data[0] if isinstance(data, tuple) else data
        loss, noisy, target = self._distillation_l1(data, training=False)
        self.loss_tracker.update_state(loss)
        self.teacher_noisy_tracker.update_state(tf.reduce_mean(tf.abs(self.teacher_lower_half(noisy) - target)))
        return {metric.name: metric.result() for metric in self.metrics}

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {"student": serialize(self.student), "teacher": serialize(self.teacher), "name": self.name,
                "trainable": self.trainable}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        deserialize = keras.saving.deserialize_keras_object
        config = dict(config)
        student = deserialize(config.pop("student"), custom_objects=custom_objects)
        teacher = deserialize(config.pop("teacher"), custom_objects=custom_objects)
        return cls(student, teacher, **config)


__all__ = ["StudentDistillation"]
