"""Speech recognition by a recogniser trained on real speech: WER, PER and forced alignment.

PocketSphinx (CMU Sphinx, the ``pocketsphinx`` wheel on PyPI, 5.x) ships everything used here in
``pocketsphinx.get_model_path()``, so nothing is trained by this project and nothing downloads:

* ``en-us/en-us``: the US-English acoustic model: continuous (PTM) HMMs over 16 kHz audio, 13 MFCCs
  (+ deltas, double deltas) at 100 frames/s, with batch cepstral mean normalisation and noise
  subtraction (its ``feat.params``: ``-cmn batch``, ``-remove_noise yes``). Audio at any other rate
  is resampled to 16 kHz first (:func:`avse_tf.audio.io.resample`).
* ``cmudict-en-us.dict``: the CMU pronouncing dictionary without lexical stress; alternates are
  ``word(2)``, ``word(3)``; single letters are there as letter names (``b`` = ``B IY``) except that
  ``a``'s first entry is the article (``AH``; the letter name ``EY`` is ``a(2)``).
* ``en-us.lm.bin``: a general-purpose trigram language model (the "free" language model);
  ``en-us-phone.lm.bin``: a phone n-gram model used for phone decoding (allphone search).

Word recognition (:meth:`PocketSphinxRecognizer.words`) runs either a JSGF grammar of GRID's
sentences (``language_model="grid"``: command colour preposition letter digit adverb, the word
lists of :mod:`avse_tf.data.grid`; the decoder admits every pronunciation of a word, so the letter
``a`` may be said as ``EY`` or ``AH``) or the free trigram model (``"free"``). The grammar is the
fair test of GRID-style intelligibility (the task is closed-vocabulary); the free model says how
intelligible the speech is to a general recogniser. Fillers (``<s>``, ``</s>``, ``<sil>``,
``[NOISE]``...) are dropped and alternates are reported as the word (``white(2)`` -> ``white``).

Phone recognition (:meth:`PocketSphinxRecognizer.phones`) returns the model's context-independent
phones, which are the 39 ARPAbet phones of CMUdict without stress: the same set as
:data:`avse_tf.data.phones.PHONES`, so no mapping is needed; silence (``SIL``) and noise units
(``+NSN+``, ``+SPN+``...) are dropped. Reference phones (:meth:`PocketSphinxRecognizer.reference_phones`)
are each word's first dictionary pronunciation, except that single letters are letter names as in
:mod:`avse_tf.data.phones` (this only changes ``a``: ``EY``, as GRID's letter slot says it).

Forced alignment (:meth:`PocketSphinxRecognizer.align`): PocketSphinx 5's ``Decoder.set_align_text``
(a linear grammar of the transcript, optional silences between words, every pronunciation of each
word), then the word segmentation in frames of 10 ms. :func:`avse_tf.data.grid.write_align` turns
the result into a GRID ``.align`` file (``avse align``).

One decoder is created on first use and reused; its searches (grammar, trigram model, phone
model, alignment) are added when first needed. Each clip is one utterance decoded whole
(``full_utt=True``: the cepstral mean is the clip's own) after ``start_stream()`` resets the noise
subtraction's estimate (5.1.1 carries it across utterances otherwise: a word boundary moved by 20 ms
after a noisy clip), so a clip's result does not depend on the clips decoded before it.

Forced alignment can fail: the search keeps only paths within its beams, and on speech far from
the model (some espeak voices of the synthetic corpus) every path through all the transcript's
words may be pruned, wider beams notwithstanding; :meth:`PocketSphinxRecognizer.align` then raises
:class:`~avse_tf.errors.TranscriptError` rather than guess timings.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from avse_tf.constants import SAMPLE_RATE
from avse_tf.data.corpora.transcripts import transcript_words
from avse_tf.errors import MetricInputError, TranscriptError, UserInputError
from avse_tf.validation import require_finite

GRID_GRAMMAR = "grid"
FREE_LANGUAGE_MODEL = "free"
LANGUAGE_MODELS = (GRID_GRAMMAR, FREE_LANGUAGE_MODEL)
PHONE_SEARCH = "phones"
RECOGNIZER_RATE = 16000  # the en-us acoustic model's audio rate
FRAMES_PER_SECOND = 100  # PocketSphinx's default frame rate (-frate 100): segment times are in frames


def _import_pocketsphinx():
    try:
        import pocketsphinx
    except ImportError:
        raise UserInputError("speech recognition (WER, PER, avse align) needs PocketSphinx: "
                             "pip install pocketsphinx") from None
    return pocketsphinx


def grid_jsgf() -> str:
    """A JSGF grammar accepting exactly GRID's sentences (one alternative list per word slot)."""
    from avse_tf.data.grid import GRAMMAR

    slots = " ".join("( " + " | ".join(choices) + " )" for choices in GRAMMAR)
    return f"#JSGF V1.0;\ngrammar grid;\npublic <sentence> = {slots} ;\n"


def dictionary_word(token: str) -> str:
    """A decoder output token as the word it spells: ``white(2)`` -> ``white``."""
    return token.split("(", 1)[0] if token.endswith(")") else token


def _is_filler_word(token: str) -> bool:
    return token.startswith(("<", "[")) or not token


def _is_filler_phone(token: str) -> bool:
    return token == "SIL" or token.startswith("+") or not token


class PocketSphinxRecognizer:
    """Words, phones and word alignments of 1-D waveforms (see the module doc for the models).

    ``model_dir``: a folder laid out like ``pocketsphinx.get_model_path()`` (``en-us/en-us``,
    ``en-us/cmudict-en-us.dict``, ``en-us/en-us.lm.bin``, ``en-us/en-us-phone.lm.bin``); default:
    the wheel's own. Not thread-safe: give each thread its own recogniser.
    """

    def __init__(self, model_dir=None):
        self.model_dir = model_dir
        self._decoder = None
        self._searches: set = set()

    def _model_file(self, name: str) -> str:
        root = self.model_dir or _import_pocketsphinx().get_model_path()
        return os.path.join(root, "en-us", name)

    @property
    def decoder(self):
        """The PocketSphinx ``Decoder`` (created on first use; logging off: it writes to stderr)."""
        if self._decoder is None:
            pocketsphinx = _import_pocketsphinx()
            self._decoder = pocketsphinx.Decoder(
                hmm=self._model_file("en-us"), dict=self._model_file("cmudict-en-us.dict"), lm=None,
                samprate=RECOGNIZER_RATE, loglevel="FATAL", logfn=os.devnull)
        return self._decoder

    def _activate(self, search: str) -> None:
        decoder = self.decoder
        if search not in self._searches:
            if search == GRID_GRAMMAR:
                decoder.add_jsgf_string(search, grid_jsgf())
            elif search == FREE_LANGUAGE_MODEL:
                decoder.add_lm_file(search, self._model_file("en-us.lm.bin"))
            elif search == PHONE_SEARCH:
                decoder.add_allphone_file(search, self._model_file("en-us-phone.lm.bin"))
            else:
                raise MetricInputError(f"unknown language model {search!r}; choose from {', '.join(LANGUAGE_MODELS)}")
            self._searches.add(search)
        decoder.activate_search(search)

    def _decode(self, pcm: bytes) -> list:
        """``(token, start_frame, end_frame_inclusive)`` of the active search over one clip."""
        import warnings

        decoder = self.decoder
        with warnings.catch_warnings():  # deprecated as "unnecessary" in 5.x, yet without it the noise
            warnings.simplefilter("ignore", DeprecationWarning)  # estimate of one clip shifts the next one's
            decoder.start_stream()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)  # full_utt: batch CMN over the whole clip
        decoder.end_utt()
        segments = decoder.seg() or ()  # None when no path reaches the end (a grammar on noise)
        return [(segment.word, segment.start_frame, segment.end_frame) for segment in segments]

    def words(self, audio, sample_rate: int = SAMPLE_RATE, language_model: str = GRID_GRAMMAR) -> list:
        """Recognised words of ``audio`` with the GRID grammar (``"grid"``) or the free trigram model."""
        if language_model not in LANGUAGE_MODELS:
            raise MetricInputError(f"unknown language model {language_model!r}; "
                                   f"choose from {', '.join(LANGUAGE_MODELS)}")
        return self.recognize_pcm(_pcm16(audio, sample_rate), language_model)

    def phones(self, audio, sample_rate: int = SAMPLE_RATE) -> list:
        """Recognised phones (39 ARPAbet phones, no stress, no silence) of ``audio``."""
        return self.recognize_pcm(_pcm16(audio, sample_rate), PHONE_SEARCH)

    def recognize_pcm(self, pcm: bytes, search: str) -> list:
        """Words (a language model of :data:`LANGUAGE_MODELS`) or phones (``"phones"``) of 16 kHz
        16-bit mono PCM, fillers and silence left out."""
        self._activate(search)
        tokens = [token for token, _, _ in self._decode(pcm)]
        if search == PHONE_SEARCH:
            return [token for token in tokens if not _is_filler_phone(token)]
        return [dictionary_word(token) for token in tokens if not _is_filler_word(token)]

    def align(self, audio, transcript_words, sample_rate: int = SAMPLE_RATE) -> list:
        """``[(word, start_s, end_s)]``: each transcript word's span in ``audio`` by forced alignment.

        ``transcript_words``: a string or a list of words, each in the dictionary (words are
        lower-cased). Silence is not listed; ``grid.write_align`` adds ``sil``/``sp`` around words.

        Raises:
            TranscriptError: an empty transcript, a word the dictionary does not know, or a
                transcript that does not fit in the audio (too many words for its length).
        """
        if isinstance(transcript_words, str):
            transcript_words = transcript_words.split()
        words = [str(word).lower() for word in transcript_words]
        if not words:
            raise TranscriptError("the transcript has no words; nothing to align")
        self.check_words(words)
        pcm = _pcm16(audio, sample_rate)
        self.decoder.set_align_text(" ".join(words))  # also activates the alignment search
        aligned = [(dictionary_word(token), start, end) for token, start, end in self._decode(pcm)
                   if not _is_filler_word(token)]
        seconds = len(pcm) / 2 / RECOGNIZER_RATE
        if [word for word, _, _ in aligned] != words:
            raise TranscriptError(f"the transcript ({len(words)} words: {' '.join(words[:8])}"
                                  f"{' ...' if len(words) > 8 else ''}) cannot be aligned to {seconds:.2f} s of "
                                  "audio: too many words for its length, or not this clip's transcript")
        return [(word, start / FRAMES_PER_SECOND, min(seconds, (end + 1) / FRAMES_PER_SECOND))
                for word, start, end in aligned]

    def unknown_words(self, words) -> list:
        """The words (lower-cased, in order, once each) that the pronouncing dictionary lacks."""
        decoder = self.decoder
        missing = (str(word).lower() for word in words)
        return list(dict.fromkeys(word for word in missing if decoder.lookup_word(word) is None))

    def check_words(self, words) -> None:
        """Raise :class:`TranscriptError` naming the words the dictionary does not know."""
        unknown = self.unknown_words(words)
        if unknown:
            raise TranscriptError(f"not in the CMU pronouncing dictionary: {', '.join(unknown[:10])}; "
                                  "spell numbers and abbreviations out as words")

    def pronunciation(self, word: str) -> tuple:
        """First dictionary pronunciation of ``word``; single letters as letter names (``a`` -> EY)."""
        from avse_tf.data.phones import LETTER_NAMES

        word = str(word).lower()
        if word in LETTER_NAMES:
            return LETTER_NAMES[word]
        phones = self.decoder.lookup_word(word)
        if phones is None:
            self.check_words([word])
        return tuple(phones.split())

    def reference_phones(self, words) -> list:
        """Phones of a transcript (string or word list), as :meth:`phones` would ideally return them."""
        if isinstance(words, str):
            words = words.split()
        return [phone for word in words for phone in self.pronunciation(word)]


def _pcm16(audio, sample_rate: int) -> bytes:
    """Little-endian 16-bit PCM at 16 kHz, the decoder's input, of a 1-D waveform (floats in [-1, 1]
    or int16 samples)."""
    from avse_tf.audio.io import resample

    samples = np.asarray(audio)
    if samples.ndim == 2 and 1 in samples.shape:
        samples = samples.reshape(-1)
    if samples.ndim != 1:
        raise MetricInputError(f"audio must be a 1-D mono waveform, got shape {samples.shape}")
    if samples.size == 0:
        raise MetricInputError("audio has no samples")
    if not (isinstance(sample_rate, (int, np.integer)) and sample_rate > 0):
        raise MetricInputError(f"sample_rate must be a positive integer (Hz), got {sample_rate!r}")
    if samples.dtype == np.int16:
        samples = samples.astype(np.float32) / 32768.0
    samples = require_finite(samples.astype(np.float32), "audio given to the recogniser", axes=("sample",))
    samples = resample(samples, sample_rate, RECOGNIZER_RATE)
    return np.round(np.clip(samples, -1.0, 32767 / 32768) * 32768).astype("<i2").tobytes()


@functools.lru_cache(maxsize=1)
def shared_recognizer() -> PocketSphinxRecognizer:
    """The process's default recogniser (its decoder is loaded once, on first use)."""
    return PocketSphinxRecognizer()


def _paired(references, audios) -> tuple:
    references, audios = list(references), list(audios)
    if len(references) != len(audios):
        raise MetricInputError(f"{len(references)} references but {len(audios)} audio clips; "
                               "give one reference transcript per clip")
    return references, audios


def _word_list(reference) -> list:
    return reference.split() if isinstance(reference, str) else [str(word) for word in reference]


def recognize_words(audios, sample_rate: int = SAMPLE_RATE, language_model: str = GRID_GRAMMAR,
                    recognizer: PocketSphinxRecognizer | None = None) -> list:
    """The recognised words of every clip in ``audios``."""
    recognizer = recognizer or shared_recognizer()
    return [recognizer.words(audio, sample_rate, language_model) for audio in audios]


def word_error_rate(references, audios, language_model: str = GRID_GRAMMAR, sample_rate: int = SAMPLE_RATE,
                    recognizer: PocketSphinxRecognizer | None = None) -> float:
    """Corpus WER (:func:`avse_tf.metrics.error_rates.error_rate`) of PocketSphinx's words on ``audios``
    against ``references`` (one transcript per clip: a string or a word list, lower case)."""
    from avse_tf.metrics.error_rates import error_rate

    references, audios = _paired(references, audios)
    hypotheses = recognize_words(audios, sample_rate, language_model, recognizer)
    return error_rate([[word.lower() for word in _word_list(reference)] for reference in references], hypotheses)


def phone_error_rate(references, audios, sample_rate: int = SAMPLE_RATE,
                     recognizer: PocketSphinxRecognizer | None = None) -> float:
    """Corpus PER of PocketSphinx's phone decoding on ``audios`` against the references' dictionary
    phones (:meth:`PocketSphinxRecognizer.reference_phones`)."""
    from avse_tf.metrics.error_rates import error_rate

    recognizer = recognizer or shared_recognizer()
    references, audios = _paired(references, audios)
    reference_phones = [recognizer.reference_phones(_word_list(reference)) for reference in references]
    hypotheses = [recognizer.phones(audio, sample_rate) for audio in audios]
    return error_rate(reference_phones, hypotheses)


# The recognition measures a results table may ask for: (what is decoded, the search).
RECOGNITION_METRICS = {"wer": ("words", GRID_GRAMMAR), "wer_free": ("words", FREE_LANGUAGE_MODEL),
                       "per": ("phones", PHONE_SEARCH)}


def clip_errors(metric, reference_words, audio, sample_rate: int = SAMPLE_RATE,
                recognizer: PocketSphinxRecognizer | None = None) -> tuple:
    """``(edit distance, reference length)`` of one clip for ``metric`` (``wer``: GRID grammar,
    ``wer_free``: the trigram model, ``per``: phones against the words' dictionary phones). Pool
    them over a test set (sum of distances over sum of lengths) for the corpus-level rate.
    Decodes are cached by the audio's content, so the clean reference and the mixture heard for
    several models of one results table are decoded once."""
    from avse_tf.metrics.error_rates import edit_distance

    if metric not in RECOGNITION_METRICS:
        raise MetricInputError(f"unknown recognition metric {metric!r}; choose from {', '.join(RECOGNITION_METRICS)}")
    recognizer = recognizer or shared_recognizer()
    unit, search = RECOGNITION_METRICS[metric]
    words = [str(word).lower() for word in _word_list(reference_words)]
    reference = words if unit == "words" else recognizer.reference_phones(words)
    hypothesis = _cached_decode(recognizer, search, _pcm16(audio, sample_rate))
    return edit_distance(reference, hypothesis), len(reference)


def recognition_row(metrics, reference_words, signals: dict, sample_rate: int = SAMPLE_RATE) -> dict:
    """One results row's recognition columns: ``<metric>_<kind>`` error rates of each signal in
    ``signals`` (``{kind: waveform}``, e.g. mixture, enhanced, clean) and
    ``<metric>_reference_length``, which :func:`pooled_rates` weighs them by."""
    row = {}
    for metric in metrics:
        errors = {kind: clip_errors(metric, reference_words, signal, sample_rate) for kind, signal in signals.items()}
        length = max(next(iter(errors.values()))[1], 1)
        row.update({f"{metric}_{kind}": value[0] / length for kind, value in errors.items()})
        row[f"{metric}_reference_length"] = length
    return row


def pooled_rates(rows, metrics, kinds) -> dict:
    """Corpus-level ``<metric>_<kind>`` rates of :func:`recognition_row` rows: errors summed over
    the rows divided by the summed reference length (not a mean of per-clip rates)."""
    summary = {}
    for metric in metrics:
        lengths = np.array([row[f"{metric}_reference_length"] for row in rows], float)
        for kind in kinds:
            rates = np.array([row[f"{metric}_{kind}"] for row in rows], float)
            summary[f"{metric}_{kind}"] = float(np.sum(rates * lengths) / lengths.sum())
    return summary


_DECODES: dict = {}
_DECODE_CACHE_SIZE = 4096  # about 3 s clips x 3 searches of one results table


def _cached_decode(recognizer, search, pcm: bytes) -> list:
    import hashlib

    key = (id(recognizer), search, hashlib.sha1(pcm).hexdigest())
    if key not in _DECODES:
        if len(_DECODES) >= _DECODE_CACHE_SIZE:
            _DECODES.pop(next(iter(_DECODES)))
        _DECODES[key] = recognizer.recognize_pcm(pcm, search)
    return _DECODES[key]


__all__ = ["PocketSphinxRecognizer", "LANGUAGE_MODELS", "GRID_GRAMMAR", "FREE_LANGUAGE_MODEL", "grid_jsgf",
           "transcript_words", "shared_recognizer", "recognize_words", "word_error_rate", "phone_error_rate",
           "RECOGNITION_METRICS", "clip_errors", "recognition_row", "pooled_rates"]
