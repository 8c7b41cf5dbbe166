"""The student's noisy mel windows, made on the fly from a record's clean waveform (Hegde et al.,
WACV 2021: the student reads NOISY mels, the teacher the clean ones of the same frames).

For a window of video frames ``s .. s + W - 1``: the mel frames its windows read, ``[m0, m1)``, are
widened to ``mix_seconds`` (80 mel frames per second; the clip's length when shorter), a span
``[a, a + M)`` centred on them and kept inside the clip; the samples those frames see in the
reflect-padded clip, ``padded[200 a : 200 (a + M - 1) + 800]``, are mixed with noise
(:func:`avse_tf.data.noise.noisy_example`, numpy, inside ``tf.numpy_function``: a noise clip and an
SNR drawn with a per-example seed); the uncentred mel of the mixture then has exactly the frames
``a .. a + M - 1`` of the clip's mel, and the windows are cut from it as from the clean mel.
"""

from __future__ import annotations

import os

import numpy as np

from avse_tf.constants import SAMPLE_RATE
from avse_tf.errors import NoiseDataError
from avse_tf.systems.pseudo_visual.features import HOP, MEL_FRAMES_PER_SECOND, MEL_STEP, NUM_MELS


def load_noise(noise) -> list:
    """16 kHz float32 noise waveforms: a folder (:func:`avse_tf.data.noise.noise_clips`, training
    kinds of a bank) or a list of waveforms."""
    from avse_tf.audio.io import load_audio
    from avse_tf.data.noise import noise_clips
    from avse_tf.data.noise.registry import TRAIN

    if isinstance(noise, (str, os.PathLike)):
        waveforms = [load_audio(path, SAMPLE_RATE) for path in noise_clips(noise, split=TRAIN)]
    else:
        waveforms = [np.asarray(waveform, np.float32) for waveform in noise]
    waveforms = [waveform for waveform in waveforms if waveform.size]
    if not waveforms:
        raise NoiseDataError("no noise to mix: give --noise_data_root a folder of noise wavs or one written by "
                             "avse noise-bank")
    return waveforms


class NoisyMels:
    """Callable ``(decoded clip, start, window_frames, seed) -> (noisy_mels [W, 16, 80], snr_db)`` (module doc);
    with ``with_waveform=True`` also the noisy clip: the clip's waveform with the mixed span in place
    (what a teacher with other audio features, Speech2Vid's MFCC, reads)."""

    def __init__(self, noise, snrs_db=(0.0, 5.0, 10.0), augment: bool = False, mix_seconds: float = 1.0):
        self.noise = load_noise(noise)
        self.snrs_db = tuple(float(snr) for snr in snrs_db)
        self.augment = bool(augment)
        self.mix_frames = max(MEL_STEP, int(round(mix_seconds * MEL_FRAMES_PER_SECOND)))

    def _mix(self, speech, seed):
        from avse_tf.data.noise import noisy_example

        rng = np.random.default_rng(int(seed))
        noise = self.noise[int(rng.integers(len(self.noise)))]
        example = noisy_example(speech, noise, rng, self.snrs_db, augment=self.augment)
        return example.mixture.astype(np.float32), np.float32(example.snr_db)

    def __call__(self, clip, start, window_frames, seed=None, with_waveform=False):
        import tensorflow as tf

        from avse_tf.systems.pseudo_visual.features import wav2lip_mel_tf, window_starts_tf

        num_mel = tf.shape(clip["mel"])[0]
        starts = window_starts_tf(start + tf.range(window_frames), num_mel)
        first, end = starts[0], starts[-1] + MEL_STEP
        span = tf.minimum(tf.maximum(self.mix_frames, end - first), num_mel)
        crop_start = tf.clip_by_value(first - (span - (end - first)) // 2, 0, num_mel - span)
        waveform = clip["waveform"]
        # Frame m reads padded[200 m : 200 m + 800]; a mel padded to 16 frames (a very short clip) reads
        # past the waveform's end: zeros there.
        needed = (num_mel - 1) * HOP - tf.shape(waveform)[0]
        waveform = tf.pad(waveform, [[0, tf.maximum(0, needed)]])
        padded = tf.pad(waveform, [[400, 400]], mode="REFLECT")
        crop = padded[crop_start * HOP:(crop_start + span - 1) * HOP + 800]
        example_seed = tf.random.uniform([], 0, 2 ** 31 - 1, tf.int64, seed=seed)
        mixture, snr = tf.numpy_function(self._mix, [crop, example_seed], [tf.float32, tf.float32], stateful=True)
        mixture.set_shape([None])
        mel = wav2lip_mel_tf(mixture, centred=False)
        windows = tf.gather(mel, (starts - crop_start)[:, None] + tf.range(MEL_STEP)[None, :])
        windows, snr = tf.ensure_shape(windows, [window_frames, MEL_STEP, NUM_MELS]), tf.ensure_shape(snr, [])
        if not with_waveform:
            return windows, snr
        # The crop is padded[crop_start * 200:], i.e. the clip from sample crop_start * 200 - 400 (the
        # reflected 400 samples at either end belong to no clip sample and are dropped).
        offset = crop_start * HOP - 400
        first = tf.maximum(offset, 0)
        last = tf.minimum(offset + tf.shape(mixture)[0], tf.shape(waveform)[0])
        noisy = tf.concat([waveform[:first], mixture[first - offset:last - offset], waveform[last:]], axis=0)
        return windows, snr, noisy
