"""Non-speech noise for denoising (Hegde et al., WACV 2021: LRS3 speech + VGGSound noise).

- :mod:`.generators`: one seeded generator per kind of noise (coloured noise, mains hum,
  machinery, clicks and impacts, rain, music);
- :mod:`.rooms`: room impulse responses (image-source method) and reverberation;
- :mod:`.registry`: the kinds, their roles and the train / test split of kinds;
- :mod:`.bank`: ``write_noise_bank`` (``avse noise-bank``) and ``noise_clips`` (``--noise_data_root``);
- :mod:`.mixing`: ``mix_at_snr`` at the paper's SNRs {0, 5, 10} dB and its <= 0.2 s augmentations.
"""

from avse_tf.data.noise.bank import noise_clips, write_noise_bank
from avse_tf.data.noise.mixing import PAPER_SNRS_DB, augment_mixture, mix_at_snr, noisy_example
from avse_tf.data.noise.registry import KINDS, TEST_KINDS, TRAIN_KINDS

__all__ = ["KINDS", "PAPER_SNRS_DB", "TEST_KINDS", "TRAIN_KINDS", "augment_mixture", "mix_at_snr",
           "noise_clips", "noisy_example", "write_noise_bank"]
