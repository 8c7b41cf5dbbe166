"""VCA-GAN's records and their ``tf.data`` reader (fact sheet shared/papers/vcagan_lip2speech.md;
the original's GRID dataset class).

Reader (:func:`make_lip2speech_dataset`), per example:

* ``mode="fixed"``: a window of ``window_frames`` (40) video frames and the matching 4 x 40 = 160
  mel and linear frames (mel frame ``4t`` starts with video frame ``t``), at a random start within
  the clip's valid frames in training, at frame 0 otherwise (the original validates on whole clips;
  this mode gives static shapes for speed); a clip shorter than the window is zero-padded.
* ``mode="variable"``: the whole clip, batches padded with zeros to their longest clip, with
  ``video_length`` and ``mel_length`` to mask by (the original's validation / test input).

Video: uint8 crops -> [0, 1] -> ``(x - 0.4136) / 0.1700`` ([T, 112, 112, 1]). Training only
(``training=True``), as the original: the whole clip flipped left-right with probability 0.5, and
one 56 x 56 square set to 0 (after normalisation) in every frame, its corner drawn from [-10, 66]
on each axis and the square clipped to the image, so it may be cut by the border.
Padded frames (beyond ``video_length``) are 0 after normalisation.
"""

from __future__ import annotations

from avse_tf.records.schema import Feature, RecordSchema
from avse_tf.systems.vca_gan.features import MEL_FRAMES_PER_VIDEO_FRAME, NUM_LINEAR_BINS, NUM_MELS

VIDEO_MEAN, VIDEO_STD = 0.4136, 0.1700
WINDOW_FRAMES = 40
PATCH_SIZE = 56
PATCH_START_RANGE = (-10, 66)  # inclusive, as random.randint in the original
FLIP_PROBABILITY = 0.5
READER_MODES = ("fixed", "variable")


def vca_gan_schema(segment_frames=75, crop_size=112):
    """Records of VCA-GAN lip-to-speech (Kim et al., NeurIPS 2021): one example per segment.

    Context: ``clip`` (segment name, the folder of the seed's layout), ``source`` (input video path)
    (bytes); ``start_frame`` (int64, first frame in the source at 25 fps), ``video_frames`` (frames
    stored: the segment length), ``valid_frames`` (frames from the source; the rest repeat the last
    crop, audio silent), ``crop_size``; ``mouths`` (bytes: raw uint8 ``[video_frames, S, S]`` gray
    lips, row-major). Sequence, 4 per video frame: ``mel`` [80] (log-mel scaled to [-1, 1]) and
    ``linear`` [321] (STFT magnitude). ``sequence_length`` = 4 x ``video_frames``; ``num_samples`` 0
    (no waveform stored: the segment's flac is beside the records). ``segment_frames`` None: whole
    clips of any length, var mode.
    """
    context = {"clip": Feature("bytes"), "source": Feature("bytes"), "start_frame": Feature("int64"),
               "video_frames": Feature("int64"), "valid_frames": Feature("int64"), "crop_size": Feature("int64"),
               "mouths": Feature("bytes")}
    sequence = {"mel": Feature("float32", NUM_MELS), "linear": Feature("float32", NUM_LINEAR_BINS)}
    if segment_frames:
        return RecordSchema("vca_gan", "fixed", context, sequence,
                            num_frames=int(segment_frames) * MEL_FRAMES_PER_VIDEO_FRAME)
    return RecordSchema("vca_gan", "var", context, sequence)


def normalize_video(frames):
    """uint8 crops -> float32 ``(x / 255 - 0.4136) / 0.17`` (the original's ``Normalize(0.4136, 0.1700)``)."""
    import tensorflow as tf

    return (tf.cast(frames, tf.float32) / 255.0 - VIDEO_MEAN) / VIDEO_STD


def augment_video(video, seed=None):
    """Training augmentation of one normalised clip ``[T, S, S, 1]`` (module doc)."""
    import tensorflow as tf

    flip_seed, corner_seed = (None, None) if seed is None else (seed + 1, seed + 2)  # distinct op seeds
    flip = tf.random.uniform([], seed=flip_seed) < FLIP_PROBABILITY
    video = tf.cond(flip, lambda: tf.reverse(video, axis=[2]), lambda: video)
    size = tf.shape(video)[1]
    low, high = PATCH_START_RANGE
    corner = tf.random.uniform([2], low, high + 1, dtype=tf.int32, seed=corner_seed)
    rows, columns = tf.range(size)[:, None], tf.range(size)[None, :]
    inside = ((rows >= corner[0]) & (rows < corner[0] + PATCH_SIZE)
              & (columns >= corner[1]) & (columns < corner[1] + PATCH_SIZE))
    return tf.where(inside[None, :, :, None], tf.zeros_like(video), video)


def _example(record, mode, training, window_frames, seed):
    import tensorflow as tf

    size = tf.cast(record["crop_size"], tf.int32)
    frames = tf.cast(record["video_frames"], tf.int32)
    valid = tf.cast(record["valid_frames"], tf.int32)
    video = tf.reshape(tf.io.decode_raw(record["mouths"], tf.uint8), [frames, size, size, 1])
    mel, linear = record["mel"], record["linear"]
    step = MEL_FRAMES_PER_VIDEO_FRAME
    if mode == "fixed":
        start = tf.zeros([], tf.int32)
        if training:
            start = tf.random.uniform([], 0, tf.maximum(valid - window_frames, 0) + 1, tf.int32, seed=seed)
        length = tf.minimum(window_frames, valid - start)
        video = normalize_video(video[start:start + length])
        mel, linear = mel[step * start:step * (start + length)], linear[step * start:step * (start + length)]
        pad = window_frames - length
        video = tf.pad(video, [[0, pad], [0, 0], [0, 0], [0, 0]])
        mel, linear = tf.pad(mel, [[0, step * pad], [0, 0]]), tf.pad(linear, [[0, step * pad], [0, 0]])
        video.set_shape([window_frames, None, None, 1])
        mel.set_shape([step * window_frames, NUM_MELS])
        linear.set_shape([step * window_frames, NUM_LINEAR_BINS])
    else:
        length = valid
        video = normalize_video(video[:valid])
        mel, linear = mel[:step * valid], linear[:step * valid]
    if training:
        video = augment_video(video, seed)
        if mode == "fixed":  # padded frames stay 0 after the flip / patch
            video = video * tf.cast(tf.range(window_frames) < length, tf.float32)[:, None, None, None]
    return {"video": video, "mel": mel, "linear": linear, "video_length": length, "mel_length": step * length,
            "clip": record["clip"]}


def make_lip2speech_dataset(records, batch_size=8, mode="fixed", training=False, window_frames=WINDOW_FRAMES,
                            shuffle=None, seed=None, repeat=False, drop_remainder=False):
    """Batches of ``{"video" [B, T, 112, 112, 1], "mel" [B, 4T, 80], "linear" [B, 4T, 321],
    "video_length" [B], "mel_length" [B], "clip" [B]}`` from a record set (module doc: modes,
    augmentation). ``shuffle`` defaults to ``training``; ``seed`` makes order and augmentation repeatable."""
    import tensorflow as tf

    from avse_tf.errors import UserInputError
    from avse_tf.records import make_dataset

    if mode not in READER_MODES:
        raise UserInputError(f"unknown reader mode {mode!r}; choose fixed or variable")
    if int(window_frames) < 1:
        raise UserInputError(f"window_frames must be at least 1, got {window_frames}")
    shuffle = training if shuffle is None else shuffle
    # Records are parsed in batches (the shared reader), then windowed and augmented one by one.
    dataset = make_dataset(records, batch_size=32, shuffle=shuffle, seed=seed, repeat=repeat).unbatch()
    dataset = dataset.map(lambda record: _example(record, mode, training, int(window_frames), seed),
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=seed is not None or not training)
    if mode == "fixed":
        dataset = dataset.batch(int(batch_size), drop_remainder=drop_remainder)
    else:
        dataset = dataset.padded_batch(int(batch_size), drop_remainder=drop_remainder)
    return dataset.prefetch(tf.data.AUTOTUNE)
