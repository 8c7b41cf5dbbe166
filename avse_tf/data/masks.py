"""Target binary masks from the long-term average speech spectrum (Morrone 2019, ``tbm_computation``).

Per speaker, the LTASS is the per-frequency mean ``mu`` and standard deviation ``sigma`` of the
power-law spectrogram |S|^0.3 over all frames of all that speaker's clean utterances;
``TBM = |S|^0.3 > mu + k * sigma`` with ``k`` = ``mask_factor`` (0.6 on the original command line).
"""

from __future__ import annotations

import os

import numpy as np

from avse_tf.constants import SAMPLE_RATE
from avse_tf.errors import UserInputError

DEFAULT_MASK_FACTOR = 0.6


def ltass(spectrograms) -> tuple:
    """Per-bin mean and std over all frames of a list of ``[T, F]`` power-law spectrograms."""
    stacked = np.concatenate([np.asarray(s, np.float64) for s in spectrograms], axis=0)
    return stacked.mean(axis=0).astype(np.float32), stacked.std(axis=0).astype(np.float32)


def target_binary_mask(spectrogram, mean, std, mask_factor: float = DEFAULT_MASK_FACTOR) -> np.ndarray:
    """``[T, F]`` uint8 mask: 1 where the power-law spectrogram exceeds ``mean + mask_factor * std``."""
    return (np.asarray(spectrogram) > (mean + mask_factor * std)[None, :]).astype(np.uint8)


def compute_tbms(data_dir, speaker_ids, audio_dir="audio", dest_dir="tbm", sample_rate=SAMPLE_RATE,
                 max_wav_length=48000, mask_factor=DEFAULT_MASK_FACTOR) -> list:
    """Write ``<data_dir>/s<k>/<dest_dir>/<id>.npy`` TBMs (uint8 ``[T, 257]``) and ``ltass.npz`` per speaker."""
    from avse_tf.audio import features, stft
    from avse_tf.audio.io import load_audio
    from avse_tf.data.preprocess import (
        _fit_length,
        output_folder,
        resolve_speaker_folder,
    )
    from avse_tf.utils import atomic_path, atomic_save_npy, progress

    written = []
    for speaker in progress(list(speaker_ids), "tbm_computation"):
        source = resolve_speaker_folder(data_dir, speaker, audio_dir)
        target = output_folder(data_dir, speaker, source, dest_dir, audio_dir)
        names = sorted(name for name in os.listdir(source) if name.endswith(".wav") and not name.startswith("."))
        if not names:
            raise UserInputError(f"no .wav files in {source}; check --audio_dir")
        spectrograms = []
        for name in names:
            path = os.path.join(source, name)
            waveform = _fit_length(load_audio(path, sample_rate), max_wav_length, path)
            spectrograms.append(features.power_law(np.abs(stft.stft(waveform, "morrone2019"))).numpy())
        mean, std = ltass(spectrograms)
        with atomic_path(os.path.join(target, "ltass.npz")) as temporary:
            with open(temporary, "wb") as handle:
                np.savez(handle, mean=mean, std=std, mask_factor=np.float32(mask_factor))
        for name, spectrogram in zip(names, spectrograms):
            path = os.path.join(target, os.path.splitext(name)[0] + ".npy")
            atomic_save_npy(path, target_binary_mask(spectrogram, mean, std, mask_factor))
            written.append(path)
    return written
