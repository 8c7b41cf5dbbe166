"""``--teacher speech2vid`` (issue 19): this project's Speech2Vid generator (``avse speech2vid
train``) as the student's teacher, for comparison with the Wav2Lip-architecture default.

The adapter gives Speech2Vid the Wav2Lip teacher's interface, so distillation and evaluation treat
both alike: inputs ``[faces [N, 96, 96, 6], audio]`` (the masked target and the reference face on
channels, as Wav2Lip's generator), output a 96 x 96 face. Inside: the reference face is resized to
Speech2Vid's S x S and repeated as its K identity stills (the masked target, resized, feeds the
seed's ``speech2vid_masked`` variant); Speech2Vid's S x S face is resized back to 96 x 96, and the
distillation takes its lower half (rows 48-95) like the Wav2Lip teacher's. Speech2Vid's audio is
its own: the 12 x 35 HTK MFCC window per video frame (Chung et al. 2017 §3.1; shared
``mfcc_htk``), not Wav2Lip's mel, so the student readers add ``mfccs`` / ``noisy_mfccs`` for it
(:func:`frame_mfcc_windows_tf`, equal to ``speech2vid.pipeline.mfcc_windows``).

Departure: Speech2Vid's faces are aligned by its similarity transform on dlib points 28-48, the
Wav2Lip crops by a padded detector box; the crop is fed as it is, so the teacher sees faces framed
a little differently from its training faces.
"""

from __future__ import annotations

import keras
import numpy as np

from avse_tf.systems.pseudo_visual.faces import FACE_SIZE

TEACHERS = ("wav2lip", "speech2vid")
MFCC_KEY, MEL_KEY = "mfccs", "mels"


@keras.saving.register_keras_serializable(package="avse_tf")
class ReferenceStills(keras.layers.Layer):
    """``[N, 96, 96, 6]`` (masked target, reference) -> (identity ``[N, S, S, 3 K]``: the reference
    resized and repeated K times; masked target ``[N, S, S, 3]``)."""

    def __init__(self, image_size, num_identity, **kwargs):
        super().__init__(**kwargs)
        self.image_size, self.num_identity = int(image_size), int(num_identity)

    def call(self, faces):
        size = (self.image_size, self.image_size)
        masked = keras.ops.image.resize(faces[..., :3], size, antialias=True)
        reference = keras.ops.image.resize(faces[..., 3:], size, antialias=True)
        return keras.ops.concatenate([reference] * self.num_identity, axis=-1), masked

    def compute_output_shape(self, input_shape):
        size = (input_shape[0], self.image_size, self.image_size)
        return (*size, 3 * self.num_identity), (*size, 3)

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "num_identity": self.num_identity}


def speech2vid_teacher(model, name="speech2vid_teacher"):
    """A trained :class:`~avse_tf.systems.speech2vid.model.Speech2VidModel` behind the Wav2Lip
    teacher's interface (module doc): ``[faces [N, 96, 96, 6], mfcc [N, 12, 35]] -> [N, 96, 96, 3]``."""
    from avse_tf.systems.speech2vid.model import AUDIO_SHAPE

    faces = keras.Input((FACE_SIZE, FACE_SIZE, 6), name="faces")
    mfcc = keras.Input(AUDIO_SHAPE, name="mfcc")
    identity, masked = ReferenceStills(model.image_size, model.num_identity, name="speech2vid_stills")(faces)
    inputs = {"mfcc": mfcc, "identity": identity}
    if model.masked_target:
        inputs["masked_target"] = masked
    face = model(inputs)["face"]
    face = keras.layers.Resizing(FACE_SIZE, FACE_SIZE, antialias=True, dtype="float32", name="face_96")(face)
    return keras.Model([faces, mfcc], face, name=name)


def teacher_audio_key(teacher) -> str:
    """Which windows a teacher reads: ``"mfccs"`` (Speech2Vid's 12 x 35) or ``"mels"`` (Wav2Lip's 16 x 80)."""
    from avse_tf.systems.speech2vid.model import AUDIO_SHAPE

    return MFCC_KEY if tuple(teacher.inputs[1].shape[1:]) == AUDIO_SHAPE else MEL_KEY


def frame_mfcc_windows_tf(waveform, start, window_frames):
    """Speech2Vid's MFCC windows ``[W, 12, 35]`` of video frames ``start .. start + W - 1`` of a
    clip's waveform: columns ``4t - 17 .. 4t + 17`` of the clip's MFCC (c1-c12), clamped to the clip
    (``speech2vid.pipeline.mfcc_windows`` repeats the edge column: the same)."""
    import tensorflow as tf

    from avse_tf.audio.features import mfcc_htk
    from avse_tf.systems.speech2vid.pipeline import STEP, WINDOW

    cepstra = mfcc_htk(waveform)[:, 1:13]  # [N, 12]
    frames = tf.cast(start, tf.int32) + tf.range(window_frames)
    columns = STEP * frames[:, None] - WINDOW // 2 + tf.range(WINDOW)[None, :]
    columns = tf.clip_by_value(columns, 0, tf.shape(cepstra)[0] - 1)
    return tf.transpose(tf.gather(cepstra, columns), (0, 2, 1))


def speech_mfcc_windows(waveform, frames) -> np.ndarray:
    """Speech2Vid's ``[frames, 12, 35]`` windows of a whole 16 kHz waveform (numpy, for evaluation)."""
    from avse_tf.systems.speech2vid.pipeline import compute_mfcc, mfcc_windows

    return mfcc_windows(compute_mfcc(waveform), int(frames))


__all__ = ["ReferenceStills", "speech2vid_teacher", "teacher_audio_key", "frame_mfcc_windows_tf",
           "speech_mfcc_windows", "TEACHERS", "MFCC_KEY", "MEL_KEY"]
