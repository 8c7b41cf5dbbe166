"""The denoiser's features and training examples (Hegde et al., WACV 2021 §3.3; the original's
``scripts/data_loader.py`` and ``audio/audio_utils.py``).

Features (``get_spec``): the STFT of the shared ``hegde2021`` settings (librosa 0.7's centred
``stft(n_fft=512, hop_length=160, win_length=400)``, matched to 3e-6), the last frame dropped, so
a 1 s crop gives 100 frames; per frame the magnitude in dB, ``20 log10(max(1e-5, |X|))``, mapped
from [-100, 80] to [0, 1], then the phase, ``atan2``, from [-pi, pi] to [0, 1]: ``[T, 514]``. No
pre-emphasis (only the lip-sync mels have it). :func:`features_to_waveform` inverts them (the
original's ``reconstruct_wav``) with the shared least-squares inverse STFT.

Examples (:func:`make_denoiser_dataset`, one random 1 s window of 25 video frames per clip and pass):
the clip's clean speech mixed with a training-kind noise clip at {0, 5, 10} dB with the paper's
<= 0.2 s augmentations (:class:`noisy.NoisyMels`, which mixes the span all 25 mel windows read, so
the STFT crop and the student's windows hear one mixture); ``noisy_stft`` and ``clean_stft`` of the
window's 16000 samples, ``noisy_mels`` (the student's input, the windows it was trained on) and
``lips``, the real lower faces (rows 48-95) for the real-lips comparison. Departure: the original
draws the 1 s crop at any sample and cuts each mel window from 1280 samples before its frame; here
the crop starts on a video frame and the mel windows are the student's own (:mod:`features`), so
lips, mels and spectrogram frames stay aligned (4 STFT frames per video frame).
"""

from __future__ import annotations

import numpy as np

from avse_tf.systems.pseudo_visual.faces import FACE_SIZE
from avse_tf.systems.pseudo_visual.features import SAMPLES_PER_VIDEO_FRAME

MAG_DB_RANGE = (-100.0, 80.0)
STFT_CONFIG = "hegde2021"
WINDOW_FRAMES = 25  # 1 s of video: the original's N / wav_step_size 16000


def spectrogram_features(spectrogram):
    """Complex STFT frames ``[..., T, 257]`` -> ``[..., T, 514]`` float32 in [0, 1] (module doc)."""
    import tensorflow as tf

    from avse_tf.audio.stft import magnitude_phase

    magnitude, phase = magnitude_phase(spectrogram)
    low, high = MAG_DB_RANGE
    decibels = 20.0 * tf.math.log(tf.maximum(magnitude, 1e-5)) / np.log(10.0)
    return tf.concat([(decibels - low) / (high - low), (phase + np.pi) / (2 * np.pi)], axis=-1)


def features_spectrogram(features):
    """The inverse of :func:`spectrogram_features`: ``[..., T, 514]`` -> complex ``[..., T, 257]``."""
    import tensorflow as tf

    from avse_tf.audio.stft import from_magnitude_phase

    features = tf.convert_to_tensor(features, tf.float32)
    low, high = MAG_DB_RANGE
    half = features.shape[-1] // 2
    magnitude = tf.pow(10.0, ((high - low) * features[..., :half] + low) / 20.0)
    return from_magnitude_phase(magnitude, 2 * np.pi * features[..., half:] - np.pi)


def stft_features(waveform):
    """``[..., samples]`` -> ``[..., samples // 160, 514]`` float32 in [0, 1] (module doc)."""
    import tensorflow as tf

    from avse_tf.audio.stft import stft

    return spectrogram_features(stft(tf.convert_to_tensor(waveform, tf.float32), STFT_CONFIG)[..., :-1, :])


def features_to_waveform(features, num_samples=None):
    """The inverse of :func:`stft_features`: ``[..., T, 514]`` -> ``[..., num_samples]`` (default 160 T)."""
    from avse_tf.audio.stft import istft

    num_samples = int(num_samples) if num_samples is not None else 160 * int(features.shape[-2])
    return istft(features_spectrogram(features), STFT_CONFIG, num_samples=num_samples)


def denoiser_example(clip, noisy, window_frames=WINDOW_FRAMES, seed=None) -> dict:
    """One training example of a decoded clip (module doc); ``noisy`` a :class:`noisy.NoisyMels`."""
    import tensorflow as tf

    from avse_tf.systems.pseudo_visual.pipeline import _seed

    count = clip["frames"] - window_frames + 1
    start = tf.random.uniform([], 0, count, tf.int32, seed=_seed(seed, 4))
    noisy_mels, snr, noisy_clip = noisy(clip, start, window_frames, _seed(seed, 5), with_waveform=True)
    first, samples = start * SAMPLES_PER_VIDEO_FRAME, window_frames * SAMPLES_PER_VIDEO_FRAME
    lips = tf.cast(clip["faces"][start:start + window_frames, FACE_SIZE // 2:], tf.float32) / 255.0
    return {"noisy_mels": noisy_mels, "snr_db": snr,
            "noisy_stft": stft_features(noisy_clip[first:first + samples]),
            "clean_stft": stft_features(clip["waveform"][first:first + samples]),
            "lips": tf.ensure_shape(lips, [window_frames, FACE_SIZE // 2, FACE_SIZE, 3]),
            "start": start, "clip": clip["clip"]}


def make_denoiser_dataset(records, noise, batch_size=32, window_frames=WINDOW_FRAMES, snrs_db=(0.0, 5.0, 10.0),
                          augment=True, shuffle=True, seed=None, repeat=False, drop_remainder=False):
    """Batches of :func:`denoiser_example`: ``noisy_stft``, ``clean_stft`` ``[B, 4 W, 514]``,
    ``noisy_mels`` ``[B, W, 16, 80]``, ``lips`` ``[B, W, 48, 96, 3]``, ``snr_db``, ``start``, ``clip``.
    ``noise``: as :func:`pipeline.make_student_dataset`'s; ``augment``: the paper's <= 0.2 s
    augmentations (on by default, as the original's denoiser loader)."""
    import tensorflow as tf

    from avse_tf.systems.pseudo_visual.noisy import NoisyMels
    from avse_tf.systems.pseudo_visual.pipeline import _check, _records

    _check(window_frames, batch_size)
    # The mixed span covers every mel window of the 25 frames (about 1.2 s), so at least that long.
    noisy = NoisyMels(noise, snrs_db, augment, mix_seconds=window_frames / 25 + 0.2)
    dataset = _records(records, shuffle, seed, repeat, int(window_frames))
    dataset = dataset.map(lambda clip: denoiser_example(clip, noisy, int(window_frames), seed),
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.batch(int(batch_size), drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


__all__ = ["stft_features", "features_to_waveform", "spectrogram_features", "features_spectrogram", "denoiser_example", "make_denoiser_dataset", "MAG_DB_RANGE",
           "WINDOW_FRAMES"]
