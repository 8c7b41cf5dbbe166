"""Languages of the synthetic corpus: a GRID-like 6-slot grammar, its utterance ids, and the espeak-ng voice.

English (``en``, the default) is GRID itself (:mod:`avse_tf.data.grid`, Cooke et al., JASA 2006):
command(4) colour(4) preposition(4) letter(25) digit(10) adverb(4). Mandarin (``cmn``, written in
Hanzi so espeak-ng's ``cmn`` voice reads it) and Spanish (``es``) have grammars of the same shape,
one short word per slot, and keep GRID's 6-character ids, one character per slot, so the words come
back from the id (:meth:`CodedGrammar.id_to_sentence`):

- command (4): en bin lay place set; cmn f 放, b 摆, n 拿, s 设; es p pon, d deja, m mete, c coloca
- colour (4): en blue green red white; cmn l 蓝, v 绿, h 红, b 白; es a azul, v verde, r rojo, b blanco
- preposition (4): en at by in with; cmn z 在, k 靠, d 对, y 用; es e en, c con, p por, s sin
- letter (25, codes a..z without w): en the letter; cmn a 安, b 包, c 草, d 刀, e 鹅, f 风, g 狗, h 花,
  i 衣, j 鸡, k 卡, l 龙, m 马, n 牛, o 欧, p 皮, q 旗, r 日, s 伞, t 天, u 屋, v 鱼, x 星, y 羊, z 竹;
  es the letter's Spanish name: a be ce de e efe ge hache i jota ka ele eme ene o pe cu erre ese te u
  uve equis ye zeta
- digit (10, codes z 1..9): en zero..nine; cmn 零 一 二 三 四 五 六 七 八 九; es cero uno dos tres cuatro
  cinco seis siete ocho nueve
- adverb (4): en again now please soon; cmn y 又, x 现在, q 请, m 马上; es a ahora, l luego, p pronto, y ya

English codes are the words' initials (GRID's). The Mandarin letter slot has one-syllable nouns
whose pinyin starts with the code letter (pinyin has no syllable starting with i, u or ü: 衣 yī,
屋 wū and 鱼 yú stand in). The three languages'
preposition codes are disjoint ({a b i w}, {z k d y}, {e c p s}), so an id names its language.
Words are written with a space between slots (a Mandarin word's characters without one); espeak
reports one word event per Hanzi, and the synthesiser joins them back into one ``.align`` entry
per slot word (:mod:`avse_tf.data.synth.speech`).
"""

from __future__ import annotations

import dataclasses

from avse_tf.errors import LanguageError

_GRID_DIGIT_CODES = "z123456789"  # GRID's digit codes (zero is z), shared by every grammar


class CodedGrammar:
    """Six slots of ``(code, word)`` pairs; an id is the codes of a sentence's words, in order.

    Offers the functions :mod:`avse_tf.data.grid` offers for English (``sentence_to_id``,
    ``id_to_sentence``, ``random_sentence``), and draws the same random numbers.
    """

    def __init__(self, name: str, slots):
        self.name = name
        self.slots = tuple(tuple(slot) for slot in slots)
        for slot in self.slots:
            codes = [code for code, _ in slot]
            if len(set(codes)) != len(codes) or any(len(code) != 1 for code in codes):
                raise AssertionError(f"{name}: slot codes must be single, distinct characters: {codes}")
        self.GRAMMAR = tuple(tuple(word for _, word in slot) for slot in self.slots)

    def sentence_to_id(self, words) -> str:
        words = tuple(words)
        if len(words) != len(self.slots):
            raise ValueError(f"a {self.name} sentence has {len(self.slots)} words, got {len(words)}: {' '.join(words)}")
        codes = []
        for word, slot in zip(words, self.slots):
            matches = [code for code, choice in slot if choice == word]
            if not matches:
                raise ValueError(f"{word!r} is not in the {self.name} grammar (expected one of "
                                 f"{', '.join(choice for _, choice in slot)})")
            codes.append(matches[0])
        return "".join(codes)

    def id_to_sentence(self, utterance_id: str) -> tuple:
        if len(utterance_id) != len(self.slots):
            raise ValueError(f"{self.name} ids have {len(self.slots)} characters, got {utterance_id!r}")
        words = []
        for code, slot in zip(utterance_id, self.slots):
            matches = [word for choice, word in slot if choice == code]
            if not matches:
                raise ValueError(f"{utterance_id!r}: {code!r} is not a {self.name} code here "
                                 f"(one of {''.join(choice for choice, _ in slot)})")
            words.append(matches[0])
        return tuple(words)

    def random_sentence(self, rng) -> tuple:
        """A uniformly drawn sentence; the draws are those of :func:`avse_tf.data.grid.random_sentence`."""
        return tuple(choices[int(rng.integers(len(choices)))] for choices in self.GRAMMAR)


def _pairs(codes, words: str):
    words = words.split()
    assert len(codes) == len(words), (codes, words)
    return tuple(zip(codes, words))


MANDARIN = CodedGrammar("Mandarin", (
    _pairs("fbns", "放 摆 拿 设"),
    _pairs("lvhb", "蓝 绿 红 白"),
    _pairs("zkdy", "在 靠 对 用"),
    _pairs("abcdefghijklmnopqrstuvxyz",
           "安 包 草 刀 鹅 风 狗 花 衣 鸡 卡 龙 马 牛 欧 皮 旗 日 伞 天 屋 鱼 星 羊 竹"),
    _pairs(_GRID_DIGIT_CODES, "零 一 二 三 四 五 六 七 八 九"),
    _pairs("yxqm", "又 现在 请 马上"),
))

SPANISH = CodedGrammar("Spanish", (
    _pairs("pdmc", "pon deja mete coloca"),
    _pairs("avrb", "azul verde rojo blanco"),
    _pairs("ecps", "en con por sin"),
    _pairs("abcdefghijklmnopqrstuvxyz", "a be ce de e efe ge hache i jota ka ele eme ene o pe cu erre ese te u "
                                        "uve equis ye zeta"),
    _pairs(_GRID_DIGIT_CODES, "cero uno dos tres cuatro cinco seis siete ocho nueve"),
    _pairs("alpy", "ahora luego pronto ya"),
))


@dataclasses.dataclass(frozen=True)
class Language:
    """A corpus language: its code (``synth_grid.json``'s ``language``), espeak-ng voice and grammar.

    ``ipa_phonemes``: espeak reports phonemes in IPA (visemes by articulatory features,
    :mod:`avse_tf.data.synth.visemes`); English keeps espeak's own mnemonics and their viseme
    table, so its corpora stay byte-identical to those the model cards were measured on.
    """

    code: str
    name: str
    espeak_voice: str
    ipa_phonemes: bool

    @property
    def grammar(self):
        """:mod:`avse_tf.data.grid` for English, else a :class:`CodedGrammar` (same functions)."""
        if self.code == "en":
            from avse_tf.data import grid

            return grid
        return {"cmn": MANDARIN, "es": SPANISH}[self.code]

    def text(self, words) -> str:
        """What espeak reads: the slot words with a space between them."""
        return " ".join(words)


LANGUAGES = {
    "en": Language("en", "English", "en-us", ipa_phonemes=False),
    "cmn": Language("cmn", "Mandarin", "cmn", ipa_phonemes=True),
    "es": Language("es", "Spanish", "es", ipa_phonemes=True),
}


def get_language(code) -> Language:
    """The :class:`Language` of ``code`` (``"en"``, ``"cmn"``, ``"es"``), or :class:`LanguageError`."""
    if isinstance(code, Language):
        return code
    if code not in LANGUAGES:
        raise LanguageError(f"unknown language {code!r}: the synthetic corpus speaks {', '.join(LANGUAGES)}")
    return LANGUAGES[code]


def id_to_sentence(utterance_id: str) -> tuple:
    """``(language code, words)`` of an id of any language (their preposition codes are disjoint)."""
    for code, language in LANGUAGES.items():
        try:
            return code, tuple(language.grammar.id_to_sentence(utterance_id))
        except ValueError:
            continue
    raise ValueError(f"{utterance_id!r} is not an id of any synthetic-corpus language ({', '.join(LANGUAGES)})")
