"""The pseudo-visual system's records and their ``tf.data`` readers (Hegde et al., WACV 2021; the
teacher's data loaders are Wav2Lip's ``wav2lip_train.py`` / ``color_syncnet_train.py``).

Every reader draws, per record and pass, one window of ``window_frames`` (5, Wav2Lip's ``syncnet_T``)
consecutive video frames at a uniformly random start (seeded with ``seed``); clips shorter than
``window_frames + 2`` frames are skipped. Faces are float32 in [0, 1], ``[W, 96, 96, 3]`` RGB
(the original's BGR ``cv2.imread`` order is a departure; mels are as :mod:`features`).

* :func:`make_teacher_dataset` - the generator's example (``wav2lip_train.py``): ``faces`` (target
  window), ``masked`` (the same, rows 48-95 zeroed: the lower half, as the original's
  ``window[:, :, H // 2:] = 0``), ``reference`` (another window of the same clip, start != the
  target's), ``mels`` ``[W, 16, 80]`` (each frame's window, :func:`features.window_starts`; the
  original's training crops one frame earlier, see :mod:`features`), ``sync_mel`` ``[16, 80]``
  (the 16 mel frames from the window's first frame: the 5 frames' 0.2 s, the expert's input).
* :func:`make_expert_dataset` - the lip-sync expert's pairs (``color_syncnet_train.py``): ``faces``
  ``[W, 96, 96, 3]`` (SyncNet reads their lower half), ``mel`` ``[16, 80]`` (from the sampled start
  ``s``), ``label`` 1.0 when the faces are the window at ``s``, 0.0 when they start at ``s'`` with
  ``|s' - s| >= min_shift``, and ``shift`` ``s' - s``. Departure: the original draws the label by
  a coin flip per example; here each sampled window gives one in-sync and one shifted example,
  one after the other, so labels are exactly balanced (shuffle downstream as needed).
* :func:`make_student_dataset` - the teacher's example plus ``noisy_mels`` ``[W, 16, 80]`` and
  ``snr_db``: the clean speech around the window (``mix_seconds``, 1 s as the paper's crops, or the
  whole clip when shorter) mixed on the fly with a noise clip of the shared bank's *training* kinds
  (:func:`avse_tf.data.noise.noise_clips`, or any folder of wavs) at an SNR from {0, 5, 10} dB
  (:func:`avse_tf.data.noise.noisy_example`; its <= 0.2 s augmentations with ``augment=True``, off
  by default since the fact sheet names them for the denoiser), then the mel of the mixture. The
  crop is taken from the reflect-padded clip, so its mel frames are exactly the clip's (clean crop ->
  the record's ``mels``); only the 400 reflected samples at a clip's ends get noise unlike the original.
"""

from __future__ import annotations

from avse_tf.records.schema import Feature, RecordSchema
from avse_tf.systems.pseudo_visual.faces import FACE_SIZE
from avse_tf.systems.pseudo_visual.features import MAX_ABS_VALUE, MEL_STEP, NUM_MELS

WINDOW_FRAMES = 5  # Wav2Lip's syncnet_T
MIX_SECONDS = 1.0
MIN_SHIFT = 1  # the original's only condition: the shifted window starts elsewhere
MIN_CLIP_EXTRA_FRAMES = 2  # clips need window_frames + 2 frames: two distinct starts and a shifted one


def pseudo_visual_schema():
    """Records of the pseudo-visual system (Hegde et al., WACV 2021): one example per clip, var mode.

    Context: ``clip`` (``<folder>/<clip>``, the clip's folder under the preprocessed root),
    ``speaker``, ``split`` (bytes); ``video_frames`` (T, 25 fps), ``crop_size`` (96) (int64);
    ``faces`` (bytes: raw uint8 ``[T, 96, 96, 3]`` RGB, row-major: the decoded ``<frame>.jpg`` crops);
    ``waveform_pcm16`` (bytes: little-endian int16 ``[num_samples]``, the clean 16 kHz ``audio.wav``,
    ``num_samples`` = 640 T); ``sequence_length`` (mel frames, ``1 + num_samples // 200``).
    Sequence: ``mel`` [80] (Wav2Lip's mel in [-4, 4], 80 frames per second, :mod:`features`).
    """
    context = {"clip": Feature("bytes"), "speaker": Feature("bytes"), "split": Feature("bytes"),
               "video_frames": Feature("int64"), "crop_size": Feature("int64"), "faces": Feature("bytes"),
               "waveform_pcm16": Feature("bytes")}
    return RecordSchema("pseudo_visual", "var", context, {"mel": Feature("float32", NUM_MELS)})


# ----------------------------------------------------------------------------------------------
# One record -> tensors

def decode_record(record) -> dict:
    """``{"faces" [T, 96, 96, 3] uint8, "mel" [max(M, 16), 80], "waveform" [S] float32, "frames", "clip"}``
    (the mel padded with -4, silence, to at least 16 frames; batch padding removed)."""
    import tensorflow as tf

    frames = tf.cast(record["video_frames"], tf.int32)
    faces = tf.reshape(tf.io.decode_raw(record["faces"], tf.uint8), [frames, FACE_SIZE, FACE_SIZE, 3])
    mel = record["mel"][:tf.cast(record["sequence_length"], tf.int32)]  # the shared reader pads batches with 0
    mel = tf.pad(mel, [[0, tf.maximum(0, MEL_STEP - tf.shape(mel)[0])], [0, 0]], constant_values=-MAX_ABS_VALUE)
    waveform = tf.cast(tf.io.decode_raw(record["waveform_pcm16"], tf.int16), tf.float32) / 32768.0
    return {"faces": faces, "mel": mel, "waveform": waveform, "frames": frames, "clip": record["clip"]}


def frame_mel_windows(mel, first_frame, window_frames):
    """``[W, 16, 80]``: the mel windows of video frames ``first_frame .. first_frame + W - 1``."""
    import tensorflow as tf

    from avse_tf.systems.pseudo_visual.features import window_starts_tf

    starts = window_starts_tf(first_frame + tf.range(window_frames), tf.shape(mel)[0])
    return tf.gather(mel, starts[:, None] + tf.range(MEL_STEP)[None, :])


def _faces(faces, start, window_frames):
    import tensorflow as tf

    window = tf.cast(faces[start:start + window_frames], tf.float32) / 255.0
    return tf.ensure_shape(window, [window_frames, FACE_SIZE, FACE_SIZE, 3])


def _other_start(count, start, seed):
    """A start in ``[0, count)`` other than ``start``, uniformly (the original's ``wrong_img_name``)."""
    import tensorflow as tf

    other = tf.random.uniform([], 0, count - 1, tf.int32, seed=seed)
    return tf.where(other >= start, other + 1, other)


def _shifted_start(count, start, min_shift, seed):
    """A start in ``[0, count)`` with ``|s' - s| >= min_shift``, uniformly among those."""
    import tensorflow as tf

    allowed = tf.abs(tf.range(count) - start) >= min_shift
    logits = tf.where(allowed, 0.0, -1e9)[None, :]
    return tf.cast(tf.random.categorical(logits, 1, seed=seed)[0, 0], tf.int32)


def _seed(seed, offset):
    return None if seed is None else int(seed) + offset  # distinct op seeds, one sequence per run


def generator_example(clip, window_frames, seed=None) -> dict:
    """The teacher generator's example of one decoded clip (module doc)."""
    import tensorflow as tf

    count = clip["frames"] - window_frames + 1
    start = tf.random.uniform([], 0, count, tf.int32, seed=_seed(seed, 1))
    reference = _other_start(count, start, _seed(seed, 2))
    faces = _faces(clip["faces"], start, window_frames)
    lower = tf.cast(tf.range(FACE_SIZE) < FACE_SIZE // 2, tf.float32)[None, :, None, None]
    mels = tf.ensure_shape(frame_mel_windows(clip["mel"], start, window_frames), [window_frames, MEL_STEP, NUM_MELS])
    return {"faces": faces, "masked": faces * lower, "reference": _faces(clip["faces"], reference, window_frames),
            "mels": mels, "sync_mel": mels[0], "start": start, "clip": clip["clip"]}


def expert_pair(clip, window_frames, min_shift, seed=None) -> dict:
    """Two expert examples of one decoded clip, stacked on a leading axis of 2 (module doc)."""
    import tensorflow as tf

    count = clip["frames"] - window_frames + 1
    start = tf.random.uniform([], 0, count, tf.int32, seed=_seed(seed, 1))
    shifted = _shifted_start(count, start, min_shift, _seed(seed, 2))
    mel = tf.ensure_shape(frame_mel_windows(clip["mel"], start, 1)[0], [MEL_STEP, NUM_MELS])
    return {"faces": tf.stack([_faces(clip["faces"], start, window_frames), _faces(clip["faces"], shifted, window_frames)]),
            "mel": tf.stack([mel, mel]), "label": tf.constant([1.0, 0.0]), "start": tf.stack([start, start]),
            "shift": tf.stack([0, shifted - start]), "clip": tf.stack([clip["clip"], clip["clip"]])}


def _records(records, shuffle, seed, repeat, window_frames):
    import tensorflow as tf

    from avse_tf.records import make_dataset

    if isinstance(records, (list, tuple)):  # several preprocessed roots (the seed's LRS3 pretrain + trainval)
        parts = [make_dataset(part, batch_size=16, shuffle=shuffle, seed=seed, repeat=repeat).unbatch()
                 for part in records]
        dataset = parts[0]
        for part in parts[1:]:
            dataset = dataset.concatenate(part)
        if repeat:  # endless parts cannot follow one another: draw from each by chance
            dataset = tf.data.Dataset.sample_from_datasets(parts, seed=seed)
    else:
        dataset = make_dataset(records, batch_size=16, shuffle=shuffle, seed=seed, repeat=repeat).unbatch()
    dataset = dataset.map(decode_record, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.filter(lambda clip: clip["frames"] >= window_frames + MIN_CLIP_EXTRA_FRAMES)


def _check(window_frames, batch_size):
    from avse_tf.errors import UserInputError

    if int(window_frames) < 1 or int(batch_size) < 1:
        raise UserInputError(f"window_frames and batch_size must be at least 1, got {window_frames}, {batch_size}")


def make_teacher_dataset(records, batch_size=16, window_frames=WINDOW_FRAMES, shuffle=True, seed=None, repeat=False,
                         drop_remainder=False):
    """Batches of the generator's examples (module doc): ``faces``, ``masked``, ``reference``
    ``[B, W, 96, 96, 3]``, ``mels`` ``[B, W, 16, 80]``, ``sync_mel`` ``[B, 16, 80]``, ``start``, ``clip``."""
    import tensorflow as tf

    _check(window_frames, batch_size)
    dataset = _records(records, shuffle, seed, repeat, int(window_frames))
    dataset = dataset.map(lambda clip: generator_example(clip, int(window_frames), seed),
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.batch(int(batch_size), drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


def make_expert_dataset(records, batch_size=16, window_frames=WINDOW_FRAMES, min_shift=MIN_SHIFT, shuffle=True,
                        seed=None, repeat=False, drop_remainder=False):
    """Batches of the expert's examples (module doc): ``faces`` ``[B, W, 96, 96, 3]``, ``mel``
    ``[B, 16, 80]``, ``label`` ``[B]`` (1 in sync, 0 shifted), ``start``, ``shift``, ``clip``. Clips
    need ``window_frames + 2 min_shift`` frames (so every start has a shifted partner)."""
    import tensorflow as tf

    _check(window_frames, batch_size)
    min_shift = max(1, int(min_shift))
    dataset = _records(records, shuffle, seed, repeat, int(window_frames))
    dataset = dataset.filter(lambda clip: clip["frames"] >= int(window_frames) + 2 * min_shift)
    dataset = dataset.map(lambda clip: expert_pair(clip, int(window_frames), min_shift, seed),
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).unbatch()
    return dataset.batch(int(batch_size), drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


def make_student_dataset(records, noise, batch_size=32, window_frames=WINDOW_FRAMES, snrs_db=(0.0, 5.0, 10.0),
                         augment=False, mix_seconds=MIX_SECONDS, shuffle=True, seed=None, repeat=False,
                         drop_remainder=False, teacher_audio="mels"):
    """Batches of the teacher's examples plus ``noisy_mels`` ``[B, W, 16, 80]`` and ``snr_db`` ``[B]``
    (module doc). ``noise``: a folder (a noise bank: its training kinds; else every wav/flac in it)
    or a list of 16 kHz float waveforms. ``teacher_audio="mfccs"`` (a Speech2Vid teacher) adds its
    MFCC windows of the clean and the noisy clip, ``mfccs`` and ``noisy_mfccs`` ``[B, W, 12, 35]``."""
    import tensorflow as tf

    from avse_tf.systems.pseudo_visual.noisy import NoisyMels
    from avse_tf.systems.pseudo_visual.speech2vid_teacher import MFCC_KEY, frame_mfcc_windows_tf

    _check(window_frames, batch_size)
    noisy = NoisyMels(noise, snrs_db, augment, mix_seconds)
    dataset = _records(records, shuffle, seed, repeat, int(window_frames))

    def example(clip):
        item = generator_example(clip, int(window_frames), seed)
        if teacher_audio != MFCC_KEY:
            item["noisy_mels"], item["snr_db"] = noisy(clip, item["start"], int(window_frames), _seed(seed, 3))
            return item
        item["noisy_mels"], item["snr_db"], noisy_clip = noisy(clip, item["start"], int(window_frames), _seed(seed, 3),
                                                               with_waveform=True)
        item["mfccs"] = frame_mfcc_windows_tf(clip["waveform"], item["start"], int(window_frames))
        item["noisy_mfccs"] = frame_mfcc_windows_tf(noisy_clip, item["start"], int(window_frames))
        return item

    dataset = dataset.map(example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.batch(int(batch_size), drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


__all__ = ["pseudo_visual_schema", "decode_record", "frame_mel_windows", "make_teacher_dataset",
           "make_expert_dataset", "make_student_dataset"]
