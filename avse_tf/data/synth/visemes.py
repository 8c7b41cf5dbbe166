"""Mouth shapes (visemes) of espeak-ng phonemes: (jaw opening 0..1, lip width factor; < 1 rounded,
> 1 spread), and the mouth intervals a phoneme sequence goes through.

How a phoneme gets its shape depends on how espeak names it:

- English (``language="en"``) keeps espeak's ASCII mnemonics and the first table this library
  had, seven classes chosen by the mnemonic's first character (p b m and pauses closed, f v
  labiodental, u U o O w 0 rounded, a A V & open, E e @ 3 mid, i I j close_front, the rest
  consonant), so English corpora stay byte-identical.
- Every other language gets espeak's phoneme events in IPA (:mod:`avse_tf.data.synth.speech`,
  ``ipa=True``) and one rule set by articulatory features, whatever the language. Consonants:
  bilabial stops and nasals (p b m) close the lips; the bilabial approximant β and labiodentals
  (f v ɱ ʋ) leave them nearly closed; w and ɥ round them; j spreads them; any other consonant is
  the tongue working behind a half-open mouth. Vowels: the jaw by height (close 0.3, mid 0.65,
  open 1.0, the English table's i, e and a), the lips by rounding (u y o ɔ ... narrow,
  unrounded close and mid vowels spread). A diphthong or a final (Mandarin ``ai``, ``iou``,
  ``onɡ``) goes through one shape per vowel and nasal coda, its nucleus (the most open vowel)
  held twice as long as each glide or coda.
- A phoneme espeak-ng has no IPA for keeps its mnemonic in IPA mode (Mandarin ``o-``, ``i.``,
  ``s.``, ``kh``); :data:`ESPEAK_NAMES_TO_IPA` gives those an IPA name per language first.
"""

from __future__ import annotations

VISEMES = {
    "closed": (0.0, 1.0),     # p b m, pauses
    "labiodental": (0.12, 1.05),  # f v
    "rounded": (0.45, 0.72),  # u U o O w
    "open": (1.0, 1.0),       # a A V aI aU
    "mid": (0.65, 1.12),      # E e @ 3 eI
    "close_front": (0.3, 1.22),  # i I j
    "consonant": (0.28, 1.0),  # t d n s z l r k g h ...
}
_ENGLISH_MNEMONIC_CLASSES = [
    (("p", "b", "m"), "closed"),
    (("f", "v"), "labiodental"),
    (("u", "U", "o", "O", "w", "0"), "rounded"),
    (("a", "A", "V", "&"), "open"),
    (("E", "e", "@", "3"), "mid"),
    (("i", "I", "j"), "close_front"),
]
_ENGLISH_STRESS = "',%="

# espeak-ng's names of the phonemes it has no IPA for, per language (seen in its phoneme events
# for the corpus grammars; aspirated stops such as kh, ph, tsh need none: their first letter
# already says where they are made).
ESPEAK_NAMES_TO_IPA = {
    "cmn": {"o-": "ɤ", "i.": "ʅ", "s.": "ʂ", "ts.": "ʈʂ", "ts.h": "ʈʂʰ", "z.": "ʐ"},
    "es": {},
}
_IPA_STRESS = "ˈˌ'"
_BILABIAL = "pbmɓ"
_NEAR_CLOSED = "βfvɱʋ"  # bilabial approximant and labiodentals
_ROUNDED_GLIDES = "wɥʍ"
_SPREAD_GLIDES = "j"
_CODAS = "nŋm"  # a nasal after a final's vowels (Mandarin an, ang; espeak spells ong as onɡ)
_VOWELS = {  # vowel -> (height: 0 close, 1 mid, 2 open; rounded)
    **{v: (0, False) for v in "iɪɨɯɿʅ"}, **{v: (0, True) for v in "uyʊʏʉ"},
    **{v: (1, False) for v in "eɛəɘɜɤʌɚɝ"}, **{v: (1, True) for v in "oɔøœɵɞ"},
    **{v: (2, False) for v in "aɑɐæäɶ"}, **{v: (2, True) for v in "ɒ"},
}
_JAW_BY_HEIGHT = (0.3, 0.65, 1.0)
_ROUNDED_WIDTH_BY_HEIGHT = (0.72, 0.8, 0.9)
_UNROUNDED_WIDTH_BY_HEIGHT = (1.22, 1.12, 1.0)


def _vowel_shape(vowel: str):
    height, rounded = _VOWELS[vowel]
    widths = _ROUNDED_WIDTH_BY_HEIGHT if rounded else _UNROUNDED_WIDTH_BY_HEIGHT
    return _JAW_BY_HEIGHT[height], widths[height]


def _ipa_label(phoneme: str, language: str) -> str:
    label = phoneme.lstrip(_IPA_STRESS)
    return ESPEAK_NAMES_TO_IPA.get(language, {}).get(label, label)


def ipa_segments(phoneme: str, language: str):
    """``[(weight, (jaw, width))]``: the mouth shapes one IPA phoneme goes through, each lasting
    its weight's share of the phoneme (module doc)."""
    label = _ipa_label(phoneme, language)
    if not label or label.startswith("_") or label[0] in _BILABIAL:
        return [(1.0, VISEMES["closed"])]
    if label[0] in _NEAR_CLOSED:
        return [(1.0, VISEMES["labiodental"])]
    if label[0] in _ROUNDED_GLIDES:
        return [(1.0, VISEMES["rounded"])]
    if label[0] in _SPREAD_GLIDES:
        return [(1.0, VISEMES["close_front"])]
    if label[0] not in _VOWELS:
        return [(1.0, VISEMES["consonant"])]
    parts = [character for character in label if character in _VOWELS or character in _CODAS]
    heights = [_VOWELS[part][0] if part in _VOWELS else -1 for part in parts]
    nucleus = heights.index(max(heights))
    return [(2.0 if index == nucleus else 1.0, _vowel_shape(part) if part in _VOWELS else VISEMES["consonant"])
            for index, part in enumerate(parts)]


def _english_class(phoneme: str) -> str:
    label = phoneme.lstrip(_ENGLISH_STRESS)
    if not label or label.startswith("_"):
        return "closed"
    for prefixes, name in _ENGLISH_MNEMONIC_CLASSES:
        if label[0] in prefixes:
            return name
    return "consonant"


def viseme(phoneme: str, language: str = "en"):
    """(jaw opening, lip width) of an espeak phoneme (stress marks ignored): a mnemonic for
    English, IPA otherwise, where a diphthong gives the shape of its nucleus."""
    if language == "en":
        return VISEMES[_english_class(phoneme)]
    return max(ipa_segments(phoneme, language), key=lambda segment: segment[0])[1]


def is_bilabial(phoneme: str, language: str = "en") -> bool:
    """Whether the lips meet for ``phoneme`` (p, b, m): the camera renderer closes them whatever
    the coarticulation."""
    if language == "en":
        return phoneme.lstrip(_ENGLISH_STRESS)[:1] in ("p", "b", "m")
    return _ipa_label(phoneme, language)[:1] in _BILABIAL


def mouth_intervals(phonemes, language: str = "en"):
    """``(start, end, jaw, width, bilabial)`` per mouth shape of ``(phoneme, start, end)``
    intervals: one per phoneme in English; a diphthong's shapes share its interval otherwise."""
    intervals = []
    for label, start, end in phonemes:
        bilabial = is_bilabial(label, language)
        if language == "en":
            intervals.append((start, end, *viseme(label), bilabial))
            continue
        segments = ipa_segments(label, language)
        total = sum(weight for weight, _ in segments)
        cursor = start
        for weight, (jaw, width) in segments:
            stop = cursor + (end - start) * weight / total
            intervals.append((cursor, stop, jaw, width, bilabial))
            cursor = stop
    return intervals
