"""VCA-GAN's losses (fact sheet shared/papers/vcagan_lip2speech.md, "Model"; original ``train.py``
and ``gan_loss`` / ``sync_Discriminator`` in ``src/models/generator.py``).

* Non-saturating GAN loss: ``softplus(-logit)`` for "real", ``softplus(logit)`` for "fake", mean
  over the batch; the discriminators add an R1 penalty (squared gradient norm on real mels).
* Sync: InfoNCE between the local visual features and the sync discriminator's audio features of
  the same clip (each frame's positive is the same-time frame; negatives: the clip's other frames),
  symmetric, temperature 1. The generator's sync loss is ``5 - mean_t |cos(v_t, a_t)|`` on its
  generated mel (the constant 5 is the original's; it only shifts the logged value).
* Reconstruction: L1 between log mels (scaled back with ``unscale_log_mel``, as the original's
  ``denormalize``) at the three scales, averaged, plus L1 on the linear magnitude. Departure:
  averaged over valid frames only (``video_length``); the original averages over whole windows,
  which are full in its training (so the same there).

Mel targets at 20 x T and 40 x 2T are the 80 x 4T mel resized bilinearly without antialiasing
(half-pixel centres: torch's ``F.interpolate(scale_factor, mode='bilinear')``).
"""

from __future__ import annotations

import tensorflow as tf

from avse_tf.systems.vca_gan.features import unscale_log_mel

SYNC_LOSS_OFFSET = 5.0  # the original's constant in the generator's sync loss
MEL_SCALES = ((20, 1), (40, 2), (80, 4))  # (mel rows, mel frames per video frame)


def mel_pyramid(mel):
    """``mel [B, 4T, 80] -> [mel_20 [B, T, 20], mel_40 [B, 2T, 40], mel]`` (module doc)."""
    frames = tf.shape(mel)[1]
    image = mel[..., None]
    scaled = [tf.image.resize(image, tf.stack([frames * per_frame // 4, rows]), method="bilinear",
                              antialias=False)[..., 0] for rows, per_frame in MEL_SCALES[:2]]
    return [*scaled, mel]


def real_loss(logits):
    return tf.reduce_mean(tf.nn.softplus(-logits))


def fake_loss(logits):
    return tf.reduce_mean(tf.nn.softplus(logits))


def r1_penalty(gradient):
    """Mean over the batch of the squared L2 norm of ``gradient`` = d sum(real logits) / d real mel."""
    return tf.reduce_mean(tf.reduce_sum(tf.square(gradient), axis=list(range(1, gradient.shape.rank))))


def info_nce(visual, audio, temperature=1.0):
    """Symmetric InfoNCE over the frames of each clip, ``[B, S, D]`` x 2 -> mean scalar."""
    visual, audio = tf.math.l2_normalize(visual, axis=-1), tf.math.l2_normalize(audio, axis=-1)
    similarity = tf.matmul(visual, audio, transpose_b=True) / temperature  # [B, S_visual, S_audio]
    # The diagonal as a masked mean (tf.linalg.diag_part's gradient fails on dynamic batch shapes).
    positives = tf.eye(tf.shape(similarity)[1], dtype=similarity.dtype)[None]
    frames = tf.cast(tf.shape(similarity)[1], similarity.dtype)
    visual_to_audio = tf.reduce_sum(tf.nn.log_softmax(similarity, axis=2) * positives, axis=[1, 2]) / frames
    audio_to_visual = tf.reduce_sum(tf.nn.log_softmax(similarity, axis=1) * positives, axis=[1, 2]) / frames
    return tf.reduce_mean(-0.5 * (visual_to_audio + audio_to_visual))


def sync_generator_loss(visual, audio):
    """``5 - mean_t |cos(visual_t, audio_t)|``, mean over the batch."""
    cosine = tf.reduce_sum(tf.math.l2_normalize(visual, -1) * tf.math.l2_normalize(audio, -1), axis=-1)
    return SYNC_LOSS_OFFSET - tf.reduce_mean(tf.abs(cosine))


def masked_l1(target, prediction, lengths):
    """Mean absolute difference over the frames ``t < lengths[b]`` of ``[B, time, bins]``."""
    mask = tf.sequence_mask(lengths, tf.shape(prediction)[1], dtype=prediction.dtype)[..., None]
    total = tf.reduce_sum(tf.abs(tf.cast(target, prediction.dtype) - prediction) * mask)
    count = tf.maximum(tf.reduce_sum(mask) * tf.cast(tf.shape(prediction)[2], prediction.dtype), 1.0)
    return total / count


def reconstruction_losses(targets, predictions, linear, predicted_linear, video_length):
    """``(mel L1 averaged over the 3 scales, linear L1)``; ``targets`` from :func:`mel_pyramid`."""
    video_length = tf.cast(video_length, tf.int32)
    mel_terms = [masked_l1(unscale_log_mel(target), unscale_log_mel(prediction), video_length * per_frame)
                 for target, prediction, (_, per_frame) in zip(targets, predictions, MEL_SCALES)]
    return tf.add_n(mel_terms) / len(mel_terms), masked_l1(linear, predicted_linear, video_length * 4)
