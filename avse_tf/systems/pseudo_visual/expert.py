"""The lip-sync expert: Wav2Lip's ``SyncNet_color`` (``models/syncnet.py``) and its training
(``color_syncnet_train.py``), as the teacher's frozen sync judge (Hegde et al. reuse Wav2Lip).

* Face encoder: the lower half (rows 48-95) of 5 consecutive 96 x 96 RGB frames stacked on the
  channel axis (15 channels, frame-major as the original's ``torch.cat`` of frames, 48 x 96) ->
  7 x 7 conv, then stages to 512 channels at 1 x 1 (:data:`FACE_STAGES`) -> ``[B, 512]``.
* Audio encoder: the 16 x 80 mel window of the 5 frames -> ``[B, 512]``
  (:func:`~avse_tf.systems.pseudo_visual.blocks.audio_encoder`).
* Both embeddings come out of a ReLU (so are >= 0) and are L2-normalised; their cosine similarity
  is therefore in [0, 1] and read as the probability that face and audio are in sync.
* Loss: binary cross-entropy of that similarity against the label (1 in sync, 0 shifted), the
  original's ``cosine_loss``; Adam, lr 1e-4 (``hparams.syncnet_lr``), batch 64.

``model({"faces": [B, 5, 96, 96, 3] in [0, 1], "mel": [B, 16, 80]})`` -> ``[B]`` sync probability;
batches are :func:`~avse_tf.systems.pseudo_visual.pipeline.make_expert_dataset`'s. Logged: ``loss``
(BCE), ``accuracy`` (similarity > 0.5 vs the label). Departures: the labels are balanced per
window (see the reader); the similarity is clipped to [1e-7, 1 - 1e-7] before the log (torch's
``BCELoss`` clamps its log at -100 instead).
"""

from __future__ import annotations

import keras

from avse_tf.systems.pseudo_visual.blocks import (
    EMBEDDING_CHANNELS,
    audio_encoder,
    channels,
    conv_block,
    residuals,
    stage,
)
from avse_tf.systems.pseudo_visual.faces import FACE_SIZE

WINDOW_FRAMES = 5  # Wav2Lip's syncnet_T
# SyncNet_color's face_encoder after its 7 x 7 input conv: (out channels, kernel, stride, padding,
# residual blocks). 48 x 96 -> 46 x 47 -> 23 x 24 -> 12 x 12 -> 6 x 6, then 3 x 3 and 1 x 1.
FACE_STAGES = ((64, 5, (1, 2), 1, 2), (128, 3, 2, 1, 3), (256, 3, 2, 1, 2), (512, 3, 2, 1, 2))
EPSILON = 1e-7


def lower_half(faces):
    """Rows 48-95 of 96 x 96 faces (any leading axes): the mouth region SyncNet reads, and the
    region the teacher generates (its input has them zeroed)."""
    return faces[..., FACE_SIZE // 2:, :, :]


def stack_window(faces):
    """``[B, W, H, 96, 3]`` -> ``[B, H, 96, 3 W]``: the frames on the channel axis, frame-major."""
    import tensorflow as tf

    shape = tf.shape(faces)
    return tf.reshape(tf.transpose(faces, [0, 2, 3, 1, 4]), [shape[0], shape[2], shape[3], shape[1] * shape[4]])


def face_encoder(width=1.0, max_residual=None, window_frames=WINDOW_FRAMES, name="face_encoder") -> keras.Model:
    """SyncNet_color's ``face_encoder``: ``[B, 48, 96, 3 W]`` -> ``[B, 512 width]`` (module doc)."""
    from keras import layers

    faces = keras.Input((FACE_SIZE // 2, FACE_SIZE, 3 * window_frames), name="lower_faces")
    x = conv_block(faces, channels(32, width), 7, 1, 3, name=f"{name}_in")
    for index, (filters, kernel, stride, padding, count) in enumerate(FACE_STAGES):
        x = stage(x, channels(filters, width), kernel, stride, padding, residuals(count, max_residual),
                  f"{name}_s{index}")
    x = conv_block(x, channels(EMBEDDING_CHANNELS, width), 3, 2, 1, name=f"{name}_out0")  # 6 x 6 -> 3 x 3
    x = conv_block(x, channels(EMBEDDING_CHANNELS, width), 3, 1, 0, name=f"{name}_out1")  # -> 1 x 1
    x = conv_block(x, channels(EMBEDDING_CHANNELS, width), 1, 1, 0, name=f"{name}_out2")
    return keras.Model(faces, layers.Flatten(name=f"{name}_flat")(x), name=name)


@keras.saving.register_keras_serializable(package="avse_tf")
class LipSyncExpert(keras.Model):
    """Wav2Lip's SyncNet_color (module doc). ``width`` scales every channel count (1.0 = paper),
    ``max_residual`` caps the residual blocks per stage (``None`` = paper)."""

    def __init__(self, width=1.0, max_residual=None, window_frames=WINDOW_FRAMES, name="lipsync_expert", **kwargs):
        super().__init__(name=name, **kwargs)
        self.architecture = {"width": float(width), "max_residual": None if max_residual is None else int(max_residual),
                             "window_frames": int(window_frames)}
        self.face_encoder = face_encoder(width, max_residual, window_frames)
        self.audio_encoder = audio_encoder(width, max_residual)
        self.trackers = {key: keras.metrics.Mean(name=key) for key in ("loss", "accuracy")}
        self.built = True

    def get_config(self):
        return {**self.architecture, "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)

    # -- inference -------------------------------------------------------------------------
    def embeddings(self, mel, faces, training=False):
        """L2-normalised ``(audio, face)`` embeddings of ``mel`` ``[B, 16, 80]`` and the window
        ``faces`` ``[B, W, 96, 96, 3]`` (full faces; the lower half is taken here)."""
        import tensorflow as tf

        audio = self.audio_encoder(mel, training=training)
        face = self.face_encoder(stack_window(lower_half(faces)), training=training)
        return tf.math.l2_normalize(audio, axis=-1, epsilon=1e-12), tf.math.l2_normalize(face, axis=-1, epsilon=1e-12)

    def sync_probability(self, mel, faces, training=False):
        """``[B]`` cosine similarity of the embeddings, in [0, 1] (both are ReLU outputs)."""
        import tensorflow as tf

        audio, face = self.embeddings(mel, faces, training=training)
        return tf.reduce_sum(audio * face, axis=-1)

    def call(self, inputs, training=False):
        return self.sync_probability(inputs["mel"], inputs["faces"], training=training)

    # -- training --------------------------------------------------------------------------
    @property
    def metrics(self):
        return list(self.trackers.values())

    def _scores(self, data, training):
        import tensorflow as tf

        data = data[0] if isinstance(data, (tuple, list)) else data
        labels = tf.cast(data["label"], tf.float32)
        probability = self.sync_probability(data["mel"], data["faces"], training=training)
        loss = sync_bce(probability, labels)
        accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.cast(probability > 0.5, tf.float32), labels), tf.float32))
        return loss, accuracy

    def train_step(self, data):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss, accuracy = self._scores(data, training=True)
        variables = self.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return self._track(loss, accuracy)

    def test_step(self, data):
        return self._track(*self._scores(data, training=False))

    def _track(self, loss, accuracy):
        self.trackers["loss"].update_state(loss)
        self.trackers["accuracy"].update_state(accuracy)
        return {key: tracker.result() for key, tracker in self.trackers.items()}


def sync_bce(probability, labels):
    """Mean binary cross-entropy of sync probabilities against 0 / 1 labels (``cosine_loss``)."""
    import tensorflow as tf

    probability = tf.clip_by_value(probability, EPSILON, 1.0 - EPSILON)
    return -tf.reduce_mean(labels * tf.math.log(probability) + (1.0 - labels) * tf.math.log(1.0 - probability))


def lipsync_expert(width=1.0, max_residual=None, window_frames=WINDOW_FRAMES, name="lipsync_expert"):
    """Build the lip-sync expert (arguments: :class:`LipSyncExpert`)."""
    return LipSyncExpert(width, max_residual, window_frames, name=name)
