"""Perceptual quality: PESQ (ITU-T P.862 / P.862.2) and ViSQOL v3 speech mode.

* :func:`pesq` wraps the ``pesq`` package (the ITU-T reference C code): narrow-band P.862 mapped
  to MOS-LQO by P.862.1 (``mode="nb"``, 1.02..4.55; the package does not return the raw P.862
  score, whose maximum is 4.5) or wide-band P.862.2 MOS-LQO (``mode="wb"``, 1.04..4.64).
* :func:`visqol` wraps ``visqol-python`` (a Python port of Google's ViSQOL v3; Hines et al.,
  "ViSQOL v3: an open source production ready objective speech and audio metric", Chinen et al.,
  QoMEX 2020) in speech mode at 16 kHz with the deterministic polynomial MOS mapper
  (``use_lattice_model=False``), so scores do not depend on an optional TFLite runtime.

Both refuse a silent reference or estimate (peak below -80 dBFS): PESQ crashes or reports "no
utterances" on one, and ViSQOL scores a silent reference as a perfect 5.0. Lengths within 1 % are
trimmed (see :mod:`._signals`). The heavy packages are imported on first use.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

from avse_tf.constants import SAMPLE_RATE
from avse_tf.errors import MetricInputError
from avse_tf.metrics._signals import check_rate, require_sound, signal_pair

PESQ_MODES = ("wb", "nb")
VISQOL_SAMPLE_RATE = 16000  # ViSQOL's speech mode is defined on 16 kHz audio


def _resample(signal: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    from avse_tf.audio.io import resample

    return np.asarray(resample(signal, int(source_rate), int(target_rate)), dtype=np.float64)


def _pesq_rate(sample_rate: int, mode: str) -> int:
    """The rate the PESQ model runs at: 16 kHz, or 8 kHz for narrow band from 8..16 kHz audio."""
    if mode == "wb":
        if sample_rate < 16000:
            # Upsampling cannot restore the 4-8 kHz band that wide-band PESQ scores.
            raise MetricInputError(
                f"wide-band PESQ needs audio sampled at 16 kHz or more, got {sample_rate} Hz; "
                "use mode='nb' (metric pesq_nb) for narrow-band audio"
            )
        return 16000
    if sample_rate < 8000:
        raise MetricInputError(f"PESQ needs audio sampled at 8 kHz or more, got {sample_rate} Hz")
    return 16000 if sample_rate >= 16000 else 8000


def pesq(reference, estimate, sample_rate: int = SAMPLE_RATE, mode: str = "wb") -> float:
    """PESQ score of ``estimate`` against the clean ``reference``.

    ``mode="wb"``: ITU-T P.862.2 wide-band MOS-LQO (16 kHz model; 8 kHz input is refused).
    ``mode="nb"``: ITU-T P.862 narrow band, as P.862.1 MOS-LQO (8 or 16 kHz model; 8 kHz input
    allowed).
    Other sample rates are resampled to 16 kHz (narrow band between 8 and 16 kHz: to 8 kHz).
    Identical signals score the maximum, about 4.64 (wb) or 4.55 (nb).

    Raises:
        MetricInputError: silent reference or estimate, a clip shorter than 0.25 s, no speech
        found by PESQ's voice activity detection, or an unsupported rate / mode.
    """
    if mode not in PESQ_MODES:
        raise MetricInputError(f"PESQ mode must be 'wb' or 'nb', got {mode!r}")
    sample_rate = check_rate(sample_rate)
    reference, estimate = signal_pair(reference, estimate)
    metric = "PESQ"
    require_sound(reference, "reference", metric)
    require_sound(estimate, "estimate", metric)
    rate = _pesq_rate(sample_rate, mode)
    reference = _resample(reference, sample_rate, rate)
    estimate = _resample(estimate, sample_rate, rate)

    import pesq as pesq_package

    try:
        return float(pesq_package.pesq(rate, reference, estimate, mode))
    except pesq_package.BufferTooShortError:
        raise MetricInputError(
            f"signals are too short for PESQ ({len(reference) / rate:.3f} s); give at least 0.25 s of audio"
        ) from None
    except pesq_package.NoUtterancesError:
        raise MetricInputError(
            "PESQ found no speech in the signals (its voice activity detection saw no utterance); "
            "give clips that contain speech"
        ) from None


@functools.lru_cache(maxsize=1)
def _visqol_api():
    # Creating the API is cheap, but keeping one avoids re-reading the model for every clip.
    from visqol import VisqolApi

    api = VisqolApi()
    api.create(mode="speech", use_lattice_model=False)
    return api


def visqol(reference, estimate, sample_rate: int = SAMPLE_RATE) -> float:
    """ViSQOL v3 speech-mode MOS-LQO (1..5) of ``estimate`` against the clean ``reference``.

    Hines et al. 2015 / Chinen et al. 2020 (ViSQOL v3), speech mode: 16 kHz, voice-activity-based
    patches, polynomial similarity-to-MOS mapping scaled so that identical signals give 5.0. Other
    sample rates are resampled to 16 kHz. The first call in a fresh environment compiles the
    package's numba kernels (about 10 s, cached on disk afterwards); a 3 s clip then takes about
    0.1 s.

    Raises:
        MetricInputError: silent reference or estimate, or a clip too short for ViSQOL's patches
        (under about 0.65 s).
    """
    sample_rate = check_rate(sample_rate)
    reference, estimate = signal_pair(reference, estimate)
    require_sound(reference, "reference", "ViSQOL")
    require_sound(estimate, "estimate", "ViSQOL")
    reference = _resample(reference, sample_rate, VISQOL_SAMPLE_RATE)
    estimate = _resample(estimate, sample_rate, VISQOL_SAMPLE_RATE)
    api = _visqol_api()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = api.measure_from_arrays(reference, estimate, VISQOL_SAMPLE_RATE)
    except IndexError:
        # visqol-python indexes an empty patch list when the clip holds no complete 20-frame patch.
        raise MetricInputError(
            f"signals are too short for ViSQOL ({len(reference) / VISQOL_SAMPLE_RATE:.2f} s): "
            "give at least 1 s of speech"
        ) from None
    score = float(result.moslqo)
    if not np.isfinite(score):
        raise MetricInputError("ViSQOL could not score the estimate (no comparable speech patches); "
                               "check that the estimate and reference hold the same utterance")
    return score
