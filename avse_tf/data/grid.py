"""The GRID corpus: sentence grammar, utterance ids, folder layout and ``.align`` files.

GRID (Cooke et al., JASA 2006) sentences have six words: command, colour, preposition, letter,
digit, adverb ("bin blue at f two now"). The utterance id spells the first letter of each word
(digit zero is ``z``): ``bbaf2n``. Layout: ``<root>/s<k>/{audio,video,align}/<id>.{wav,mpg,align}``.
Word alignments list ``start end word`` in 1/25000 s (GRID's 25 kHz audio sample clock), with
``sil`` at both ends; a 3 s clip ends at 75000.
"""

from __future__ import annotations

import os
import re

from avse_tf.errors import UserInputError

COMMANDS = ("bin", "lay", "place", "set")
COLOURS = ("blue", "green", "red", "white")
PREPOSITIONS = ("at", "by", "in", "with")
LETTERS = tuple("abcdefghijklmnopqrstuvxyz")  # GRID has no "w"
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ADVERBS = ("again", "now", "please", "soon")
GRAMMAR = (COMMANDS, COLOURS, PREPOSITIONS, LETTERS, DIGITS, ADVERBS)

ALIGN_UNITS_PER_SECOND = 25000
SPEAKER_PATTERN = re.compile(r"^s(\d+)$")
_DIGIT_CODES = ("z", "1", "2", "3", "4", "5", "6", "7", "8", "9")


def sentence_to_id(words) -> str:
    """``("bin", "blue", "at", "f", "two", "now")`` -> ``"bbaf2n"``."""
    words = tuple(words)
    if len(words) != 6:
        raise ValueError(f"a GRID sentence has 6 words, got {len(words)}: {' '.join(words)}")
    for word, choices in zip(words, GRAMMAR):
        if word not in choices:
            raise ValueError(f"{word!r} is not in GRID's grammar (expected one of {', '.join(choices)})")
    return words[0][0] + words[1][0] + words[2][0] + words[3] + _DIGIT_CODES[DIGITS.index(words[4])] + words[5][0]


def id_to_sentence(utterance_id: str) -> tuple:
    """``"bbaf2n"`` -> ``("bin", "blue", "at", "f", "two", "now")``."""
    if len(utterance_id) != 6:
        raise ValueError(f"GRID ids have 6 characters, got {utterance_id!r}")
    words = []
    for code, choices in zip(utterance_id[:3], GRAMMAR[:3]):
        words.append(_by_initial(code, choices, utterance_id))
    if utterance_id[3] not in LETTERS:
        raise ValueError(f"{utterance_id!r}: {utterance_id[3]!r} is not a GRID letter")
    words.append(utterance_id[3])
    if utterance_id[4] not in _DIGIT_CODES:
        raise ValueError(f"{utterance_id!r}: {utterance_id[4]!r} is not a GRID digit code")
    words.append(DIGITS[_DIGIT_CODES.index(utterance_id[4])])
    words.append(_by_initial(utterance_id[5], ADVERBS, utterance_id))
    return tuple(words)


def _by_initial(code, choices, utterance_id):
    for word in choices:
        if word[0] == code:
            return word
    raise ValueError(f"{utterance_id!r}: no word starting with {code!r} among {', '.join(choices)}")


def random_sentence(rng) -> tuple:
    """A uniformly drawn GRID sentence (``rng``: numpy Generator)."""
    return tuple(choices[int(rng.integers(len(choices)))] for choices in GRAMMAR)


def write_align(path, words, clip_seconds: float) -> None:
    """Write a GRID ``.align`` file from ``(word, start_s, end_s)`` intervals, adding ``sil``/``sp``."""
    def units(seconds):
        return int(round(seconds * ALIGN_UNITS_PER_SECOND))

    lines = []
    cursor = 0
    for word, start, end in words:
        start_units, end_units = max(units(start), cursor), units(end)
        if start_units > cursor:
            lines.append((cursor, start_units, "sil" if not lines else "sp"))
        end_units = max(end_units, start_units + 1)
        lines.append((start_units, end_units, word))
        cursor = end_units
    total = units(clip_seconds)
    if total > cursor:
        lines.append((cursor, total, "sil"))
    from avse_tf.utils import atomic_write_text

    atomic_write_text(path, "".join(f"{start} {end} {word}\n" for start, end, word in lines))


def read_align(path) -> list:
    """Read a GRID ``.align`` file as ``(word, start_s, end_s)`` tuples (``sil``/``sp`` kept)."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.readlines()
    except UnicodeDecodeError:
        raise UserInputError(f"{path} is not a text file; re-download or re-create the alignment") from None
    entries = []
    for number, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3:
            raise UserInputError(f"{path}:{number}: an .align line needs 'start end word', got {line.strip()!r}; "
                                 "re-download or re-create the alignment")
        try:
            start, end = int(parts[0]), int(parts[1])
        except ValueError:
            raise UserInputError(f"{path}:{number}: start/end must be integers, got "
                                 f"{line.strip()!r}; re-download or re-create the alignment") from None
        entries.append((parts[2], start / ALIGN_UNITS_PER_SECOND, end / ALIGN_UNITS_PER_SECOND))
    return entries


def speaker_dir(root, speaker) -> str:
    """Folder of speaker ``speaker`` (``3``, ``"3"`` or ``"s3"``) under ``root``; checks it exists."""
    name = speaker_name(speaker)
    path = os.path.join(root, name)
    if not os.path.isdir(path):
        raise UserInputError(
            f"unknown speaker {name}: no folder {path}; speakers here: {', '.join(list_speakers(root)) or 'none'}"
        )
    return path


def speaker_name(speaker) -> str:
    text = str(speaker)
    return text if text.startswith("s") else f"s{text}"


def list_speakers(root) -> list:
    """Speaker folder names (``s1``, ``s2``, ...) under ``root``, in numeric order."""
    if not os.path.isdir(root):
        raise UserInputError(f"corpus folder not found: {root}; check --data_dir")
    names = [name for name in os.listdir(root) if SPEAKER_PATTERN.match(name) and os.path.isdir(os.path.join(root, name))]
    return sorted(names, key=lambda name: int(SPEAKER_PATTERN.match(name).group(1)))


def list_utterances(root, speaker, subdir="audio", extension=".wav") -> list:
    """Utterance ids of one speaker that have a ``<subdir>/<id><extension>`` file."""
    folder = os.path.join(speaker_dir(root, speaker), subdir)
    if not os.path.isdir(folder):
        raise UserInputError(f"folder not found: {folder}; expected GRID layout s<k>/{subdir}/")
    return sorted(name[: -len(extension)] for name in os.listdir(folder)
                  if name.endswith(extension) and not name.startswith("."))  # .tmp-*: a killed write
