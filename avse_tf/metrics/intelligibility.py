"""Intelligibility: STOI (Taal et al. 2011) and extended STOI (Jensen & Taal 2016), via pystoi.

pystoi resamples to 10 kHz and drops the reference's silent frames (more than 40 dB below its
loudest frame) itself, so any sample rate is accepted. Lengths within 1 % are trimmed (see
:mod:`._signals`).
"""

from __future__ import annotations

import warnings

from avse_tf.constants import SAMPLE_RATE
from avse_tf.errors import MetricInputError
from avse_tf.metrics._signals import check_rate, require_sound, signal_pair


def stoi(reference, estimate, sample_rate: int = SAMPLE_RATE, extended: bool = False) -> float:
    """Short-time objective intelligibility of ``estimate`` against the clean ``reference``.

    ``extended=False``: STOI, Taal, Hendriks, Heusdens & Jensen, "An algorithm for intelligibility
    prediction of time-frequency weighted noisy speech", IEEE TASLP 19(7), 2011 (0..1).
    ``extended=True``: ESTOI, Jensen & Taal, "An algorithm for predicting the intelligibility of
    speech masked by modulated noise maskers", IEEE/ACM TASLP 24(11), 2016.

    Raises:
        MetricInputError: silent reference, or less than 30 frames (about 0.4 s) of speech left
        after removing silent frames (pystoi would quietly return 1e-5).
    """
    sample_rate = check_rate(sample_rate)
    reference, estimate = signal_pair(reference, estimate)
    name = "ESTOI" if extended else "STOI"
    require_sound(reference, "reference", name)
    from pystoi import stoi as pystoi_stoi

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        value = pystoi_stoi(reference, estimate, sample_rate, extended=bool(extended))
    too_short = False
    for warning in caught:
        if "Not enough STFT frames" in str(warning.message):
            too_short = True
        else:  # not ours to swallow
            warnings.warn(warning.message, warning.category, stacklevel=2)
    if too_short:
        raise MetricInputError(
            f"too little speech for {name}: fewer than 30 non-silent 25.6 ms frames "
            f"in a {len(reference) / sample_rate:.2f} s reference; give a longer clip"
        )
    return float(value)


def estoi(reference, estimate, sample_rate: int = SAMPLE_RATE) -> float:
    """Extended STOI (Jensen & Taal 2016); ``stoi(..., extended=True)``."""
    return stoi(reference, estimate, sample_rate, extended=True)
