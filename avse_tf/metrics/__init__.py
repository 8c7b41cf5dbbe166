"""Evaluation metrics for speech enhancement, separation and recognition.

===========================  =======================================================================
``pesq``                     ITU-T P.862 + P.862.1 (narrow band) / P.862.2 (wide band), ``pesq`` package
``visqol``                   ViSQOL v3 speech mode (Hines 2015, Chinen et al. 2020) via visqol-python
``stoi`` / ``estoi``         STOI (Taal et al. 2011) / extended STOI (Jensen & Taal 2016) via pystoi
``bss_eval_sources``         BSS-eval v3 SDR/SIR/SAR (Vincent et al. 2006), own vectorised numpy code
``sdr``                      BSS-eval v3 SDR of one target
``si_sdr``                   scale-invariant SDR (Le Roux et al. 2019)
``l1``                       mean absolute error, optionally masked
``mcd``                      mel-cepstral distortion in dB, Kubichek 1993 (:mod:`avse_tf.metrics.spectral`)
``edit_distance``            Levenshtein distance between token sequences
``error_rate``               corpus-level WER / PER
``word_error_rate``          WER of PocketSphinx's words (GRID grammar or free trigram LM) on waveforms
``phone_error_rate``         PER of PocketSphinx's phone decoding on waveforms (:mod:`~avse_tf.metrics.recognition`)
``evaluate``                 several metrics for an estimate, the mixture and the improvement
``format_table``             plain-text table of ``evaluate``'s result
``psnr`` / ``ssim``          image quality against reference frames (:mod:`avse_tf.metrics.image`)
``correlation``              Pearson correlation (lip-sync: mouth opening vs. reference or speech envelope)
``speech_envelope``          per-video-frame RMS of a waveform
``measured_mouth_opening``   dlib inner-lip opening of face crops (:mod:`~avse_tf.metrics.lipsync`)
===========================  =======================================================================

Inputs are 1-D numpy waveforms; lengths within 1 % are trimmed to the shortest, larger mismatches
and silent signals raise :class:`avse_tf.errors.MetricInputError`. The third-party metric packages
(PocketSphinx included) are imported on first use.
"""

from avse_tf.metrics.error_rates import edit_distance, error_rate
from avse_tf.metrics.image import correlation, psnr, speech_envelope, ssim
from avse_tf.metrics.intelligibility import estoi, stoi
from avse_tf.metrics.lipsync import measured_mouth_opening
from avse_tf.metrics.quality import pesq, visqol
from avse_tf.metrics.recognition import PocketSphinxRecognizer, phone_error_rate, word_error_rate
from avse_tf.metrics.report import DEFAULT_METRICS, METRICS, evaluate, format_table
from avse_tf.metrics.separation import bss_eval_sources, l1, sdr, si_sdr
from avse_tf.metrics.spectral import mcd

__all__ = [
    "pesq", "visqol", "stoi", "estoi", "bss_eval_sources", "sdr", "si_sdr", "l1", "mcd",
    "edit_distance", "error_rate", "evaluate", "format_table", "METRICS", "DEFAULT_METRICS",
    "psnr", "ssim", "correlation", "speech_envelope", "measured_mouth_opening",
    "PocketSphinxRecognizer", "word_error_rate", "phone_error_rate",
]
