"""The teacher: Wav2Lip's generator (Rudrabha/Wav2Lip ``models/wav2lip.py``) and its training
(``wav2lip_train.py``), which Hegde et al. freeze and distil into the audio-only student.

Interface for everyone downstream (the student's distillation calls exactly this)::

    from avse_tf.systems.pseudo_visual.teacher import lower_half, teacher_lips
    lips = teacher_lips(model, mels, faces)   # mels [N, 16, 80] (Wav2Lip mel windows, one per
                                              # video frame), faces [N, 96, 96, 3] in [0, 1]
                                              # -> [N, 96, 96, 3] float32 in [0, 1]
    target = lower_half(lips)                 # rows 48-95: [N, 48, 96, 3], the student's target

``teacher_lips`` does what Wav2Lip's ``inference.py`` does: the face is given twice, masked (rows
48-95 zeroed) and whole as the reference; ``model`` is a :class:`Wav2LipTeacher` (or its
``generator``), e.g. from :func:`~avse_tf.systems.pseudo_visual.train_teacher.load_checkpoint`.
For the student, ``faces`` is one fixed face repeated (the paper feeds a fixed face with clean mels).

Generator (``Wav2Lip``): face encoder on 6 channels (masked target + reference, 96 x 96) in 7 stages
(:data:`FACE_STAGES`, 96 -> 1) keeping every stage's output; audio encoder on the frame's 16 x 80 mel
(:func:`~avse_tf.systems.pseudo_visual.blocks.audio_encoder`) -> 512 at 1 x 1; decoder of transposed
convolutions (:data:`DECODER_STAGES`, 1 -> 96), each stage's output concatenated with the face
encoder's feature map of the same size (skip connections, deepest first); output block 3 x 3 conv
block, 1 x 1 conv to 3 channels, sigmoid.

Training (:class:`Wav2LipTeacher`'s ``train_step``, on :func:`~avse_tf.systems.pseudo_visual.pipeline.make_teacher_dataset`
batches: the 5 frames of a window are generated independently): ``(1 - w) L1 + w sync``, L1 between
the generated and the real faces, ``sync = -log P_sync`` of the FROZEN expert
(:class:`~avse_tf.systems.pseudo_visual.expert.LipSyncExpert`, inference mode) on the generated
window's lower halves and the window's mel (``get_sync_loss``), ``w`` = ``sync_weight``.
Wav2Lip's rule (``sync_schedule="wav2lip"``): ``w`` is 0 until the validation sync loss falls
under 0.75, then ``w`` is set (``wav2lip_train.py`` sets 0.01, ``hparams.syncnet_wt``'s comment and
the paper 0.03; 0.03 here) - :func:`sync_weight_switch` does this after an epoch.
``sync_schedule="from_start"`` (departure, the CPU preset): ``w`` from the first step. The weight
lives in the model (a non-trainable variable), so a resumed run keeps it. Adam (paper lr 1e-4).
Logged: ``loss`` (the L1, the same quantity as ``val_loss``, which picks ``best.keras``),
``sync_loss``, ``total``, ``sync_weight``. The expert's weights are saved inside the teacher
(``expert_config`` rebuilds it), so a checkpoint resumes without the expert's file.
"""

from __future__ import annotations

import keras
import numpy as np

from avse_tf.systems.pseudo_visual.blocks import (
    EMBEDDING_CHANNELS,
    GENERATOR_AUDIO_STAGES,
    audio_encoder,
    channels,
    conv_block,
    residuals,
    stage,
    transposed_block,
)
from avse_tf.systems.pseudo_visual.expert import LipSyncExpert, lower_half
from avse_tf.systems.pseudo_visual.faces import FACE_SIZE

SYNC_WEIGHT = 0.03
SYNC_SWITCH_LOSS = 0.75  # wav2lip_train.py's eval_model: switch the sync loss on under this
SYNC_SCHEDULES = ("wav2lip", "from_start")
# Wav2Lip's face_encoder_blocks: (out channels, kernel, stride, padding, residual blocks).
FACE_STAGES = ((16, 7, 1, 3, 0), (32, 3, 2, 1, 2), (64, 3, 2, 1, 3), (128, 3, 2, 1, 2), (256, 3, 2, 1, 2),
               (512, 3, 2, 1, 1))  # 96, 48, 24, 12, 6, 3; then 3 x 3 "valid" + 1 x 1 -> 1
# face_decoder_blocks after the first 1 x 1 conv: (out channels, stride, padding, output padding,
# residual blocks); 1 -> 3 -> 6 -> 12 -> 24 -> 48 -> 96.
DECODER_STAGES = ((512, 1, 0, 0, 1), (512, 2, 1, 1, 2), (384, 2, 1, 1, 2), (256, 2, 1, 1, 2), (128, 2, 1, 1, 2),
                  (64, 2, 1, 1, 2))


def generator(width=1.0, max_residual=None, name="generator") -> keras.Model:
    """Wav2Lip's generator: ``[faces [N, 96, 96, 6], mel [N, 16, 80]]`` -> ``[N, 96, 96, 3]`` (module doc)."""
    from keras import layers

    faces = keras.Input((FACE_SIZE, FACE_SIZE, 6), name="masked_and_reference")
    audio = audio_encoder(width, max_residual, stages=GENERATOR_AUDIO_STAGES)
    x, skips = faces, []
    for index, (filters, kernel, stride, padding, count) in enumerate(FACE_STAGES):
        x = stage(x, channels(filters, width), kernel, stride, padding, residuals(count, max_residual), f"face_s{index}")
        skips.append(x)
    x = conv_block(x, channels(EMBEDDING_CHANNELS, width), 3, 1, 0, name="face_out0")
    skips.append(conv_block(x, channels(EMBEDDING_CHANNELS, width), 1, 1, 0, name="face_out1"))
    x = layers.Reshape((1, 1, -1), name="audio_map")(audio.output)
    x = conv_block(x, channels(EMBEDDING_CHANNELS, width), 1, 1, 0, name="decoder_in")
    x = layers.Concatenate(name="skip_0")([x, skips.pop()])
    for index, (filters, stride, padding, output_padding, count) in enumerate(DECODER_STAGES):
        x = transposed_block(x, channels(filters, width), 3, stride, padding, output_padding, name=f"decoder_s{index}")
        for block in range(residuals(count, max_residual)):
            x = conv_block(x, channels(filters, width), 3, 1, 1, residual=True, name=f"decoder_s{index}_res{block + 1}")
        x = layers.Concatenate(name=f"skip_{index + 1}")([x, skips.pop()])
    x = conv_block(x, channels(32, width), 3, 1, 1, name="output_block")
    face = layers.Conv2D(3, 1, activation="sigmoid", name="output_face")(x)
    return keras.Model([faces, audio.input], face, name=name)


@keras.saving.register_keras_serializable(package="avse_tf")
class Wav2LipTeacher(keras.Model):
    """Wav2Lip's generator with its training step (module doc). ``width`` / ``max_residual`` scale
    the generator as :mod:`blocks` says; ``expert_config``: the frozen expert's
    :meth:`LipSyncExpert.get_config` (``None``: no expert, L1 only, e.g. to build or run inference)."""

    def __init__(self, width=1.0, max_residual=None, expert_config=None, sync_weight=SYNC_WEIGHT,
                 sync_schedule="wav2lip", name="wav2lip_teacher", **kwargs):
        super().__init__(name=name, **kwargs)
        if sync_schedule not in SYNC_SCHEDULES:
            raise ValueError(f"sync_schedule must be one of {SYNC_SCHEDULES}, got {sync_schedule!r}")
        self.architecture = {"width": float(width), "max_residual": None if max_residual is None else int(max_residual),
                             "expert_config": None if expert_config is None else dict(expert_config),
                             "sync_weight": float(sync_weight), "sync_schedule": sync_schedule}
        self.generator = generator(width, max_residual)
        self.expert = None
        if expert_config is not None:
            self.expert = LipSyncExpert.from_config(dict(expert_config))
            self.expert.trainable = False  # frozen: Wav2Lip's syncnet parameters have requires_grad False
        start = float(sync_weight) if sync_schedule == "from_start" else 0.0
        self.sync_weight = self.add_weight(shape=(), initializer=keras.initializers.Constant(start), trainable=False,
                                           name="sync_weight")
        self.trackers = {key: keras.metrics.Mean(name=key) for key in ("loss", "sync_loss", "total", "sync_weight")}
        self.built = True

    def get_config(self):
        return {**self.architecture, "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)

    def call(self, inputs, training=False):
        """``{"masked", "reference": [N, 96, 96, 3], "mel": [N, 16, 80]}`` -> faces ``[N, 96, 96, 3]``."""
        import tensorflow as tf

        faces = tf.concat([inputs["masked"], inputs["reference"]], axis=-1)
        return self.generator([faces, inputs["mel"]], training=training)

    # -- training --------------------------------------------------------------------------
    @property
    def metrics(self):
        return list(self.trackers.values())

    def _objectives(self, data, training):
        import tensorflow as tf

        data = data[0] if isinstance(data, (tuple, list)) else data
        target = tf.cast(data["faces"], tf.float32)
        shape = tf.shape(target)
        frames = tf.reshape(tf.concat([data["masked"], data["reference"]], axis=-1), [-1, FACE_SIZE, FACE_SIZE, 6])
        mels = tf.reshape(data["mels"], [-1, tf.shape(data["mels"])[-2], tf.shape(data["mels"])[-1]])
        generated = tf.reshape(self.generator([frames, mels], training=training), shape)
        l1 = tf.reduce_mean(tf.abs(generated - target))
        if self.expert is None:
            sync = tf.zeros(())
        else:
            probability = self.expert.sync_probability(data["sync_mel"], generated, training=False)
            sync = -tf.reduce_mean(tf.math.log(tf.clip_by_value(probability, 1e-7, 1.0)))
        weight = tf.convert_to_tensor(self.sync_weight) if self.expert is not None else tf.zeros(())
        return l1, sync, (1.0 - weight) * l1 + weight * sync, weight

    def train_step(self, data):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            l1, sync, total, weight = self._objectives(data, training=True)
        variables = self.generator.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))
        return self._track(l1, sync, total, weight)

    def test_step(self, data):
        return self._track(*self._objectives(data, training=False))

    def _track(self, l1, sync, total, weight):
        for key, value in (("loss", l1), ("sync_loss", sync), ("total", total), ("sync_weight", weight)):
            self.trackers[key].update_state(value)
        return {key: tracker.result() for key, tracker in self.trackers.items()}


def sync_weight_switch(threshold=SYNC_SWITCH_LOSS):
    """Wav2Lip's rule as a callback: after an epoch whose ``val_sync_loss`` is under ``threshold``,
    the teacher's sync weight becomes its ``sync_weight`` (module doc); it never switches back."""

    class SyncWeightSwitch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get("val_sync_loss")
            if self.model.expert is not None and value is not None and value < threshold:
                self.model.sync_weight.assign(self.model.architecture["sync_weight"])

    return SyncWeightSwitch()


def masked_input(faces):
    """Faces with rows 48-95 zeroed (Wav2Lip inference's ``img_masked[:, img_size // 2:] = 0``)."""
    masked = np.array(faces, np.float32, copy=True)
    masked[:, FACE_SIZE // 2:] = 0.0
    return masked


def teacher_lips(model, mels, faces, batch_size=64) -> np.ndarray:
    """The teacher's faces ``[N, 96, 96, 3]`` in [0, 1] for mel windows ``[N, 16, 80]`` and faces
    ``[N, 96, 96, 3]`` in [0, 1], each face masked and also given as the reference (module doc)."""
    from avse_tf.errors import UserInputError

    mels, faces = np.asarray(mels, np.float32), np.asarray(faces, np.float32)
    if mels.ndim != 3 or faces.shape[1:] != (FACE_SIZE, FACE_SIZE, 3) or len(mels) != len(faces):
        raise UserInputError(f"teacher_lips needs mels [N, 16, 80] and faces [N, 96, 96, 3] of one N, got "
                             f"{mels.shape} and {faces.shape}")
    network = getattr(model, "generator", model)
    inputs = np.concatenate([masked_input(faces), faces], axis=-1)
    outputs = [np.asarray(network([inputs[i:i + batch_size], mels[i:i + batch_size]], training=False))
               for i in range(0, len(mels), int(batch_size))]
    return np.concatenate(outputs, 0) if outputs else np.zeros((0, FACE_SIZE, FACE_SIZE, 3), np.float32)


def wav2lip_teacher(width=1.0, max_residual=None, expert_config=None, sync_weight=SYNC_WEIGHT,
                    sync_schedule="wav2lip", name="wav2lip_teacher"):
    """Build the teacher (arguments: :class:`Wav2LipTeacher`)."""
    return Wav2LipTeacher(width, max_residual, expert_config, sync_weight, sync_schedule, name=name)


__all__ = ["Wav2LipTeacher", "generator", "teacher_lips", "lower_half", "masked_input", "sync_weight_switch",
           "wav2lip_teacher"]
