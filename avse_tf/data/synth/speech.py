"""Speech synthesis with espeak-ng's shared library from PyPI (espeakng-loader), via ctypes.

No system package is needed: espeakng-loader ships ``libespeak-ng.so`` and its data folder.
Besides the waveform, the synthesiser reports word and phoneme events with their audio times;
they give the GRID ``.align`` word alignments and drive the rendered mouth (see ``visemes.py``).
Phonemes come as espeak's ASCII mnemonics or, with ``ipa=True``, in IPA
(``espeakINITIALIZE_PHONEME_IPA``; a phoneme with no IPA defined in espeak-ng's tables keeps its
mnemonic). Word events are per espeak word (one per Hanzi in Mandarin): the words of the
utterance are the space-separated words of the text, each spanning its events.

espeak-ng keeps global state, so one process synthesises one utterance at a time (a lock guards
it). The output is deterministic for the same text, voice, rate and pitch.
"""

from __future__ import annotations

import ctypes
import dataclasses
import re
import threading

import numpy as np

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_PHONEME_IPA = 0x0002
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EVENT_LIST_TERMINATED = 0
_EVENT_WORD = 1
_EVENT_END = 5
_EVENT_MSG_TERMINATED = 6
_EVENT_PHONEME = 7
_PARAM_RATE = 1
_PARAM_VOLUME = 2
_PARAM_PITCH = 3
_PARAM_RANGE = 4
_PARAM_WORDGAP = 7


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclasses.dataclass
class Utterance:
    """A synthesised utterance.

    ``words``: (word, start_seconds, end_seconds), one per space-separated word of the text;
    ``phonemes``: (espeak mnemonic, or IPA with ``ipa=True``, start, end), pauses included as
    ``_`` (``""`` in IPA). Times are relative to the start of ``waveform``.
    """

    waveform: np.ndarray
    sample_rate: int
    words: list
    phonemes: list


class EspeakSynthesizer:
    """Thin ctypes wrapper around libespeak-ng in synchronous mode.

    espeak-ng keeps static state between utterances (the glottal source's phase, for one), so the
    same text gives slightly different samples depending on what was spoken before, and
    ``espeak_Terminate`` does not reset it. To make every utterance depend only on its own
    arguments, the library is loaded fresh for each one and unloaded after (about 5 ms).
    """

    _lock = threading.Lock()

    def __init__(self):
        library = self._open(ipa=False)
        self._sample_rate = library.sample_rate
        self._close(library)

    @staticmethod
    def _open(ipa: bool):
        try:
            import espeakng_loader
        except ImportError as error:  # a dependency of avse_tf; only a broken install lacks it
            raise RuntimeError("espeakng-loader is missing: pip install espeakng-loader") from error
        library = ctypes.CDLL(espeakng_loader.get_library_path(), mode=ctypes.RTLD_LOCAL)
        library.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        library.espeak_Initialize.restype = ctypes.c_int
        library.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        library.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        library.espeak_SetVoiceByName.restype = ctypes.c_int
        library.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        library.espeak_SetParameter.restype = ctypes.c_int
        library.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
        ]
        library.espeak_Synth.restype = ctypes.c_int
        data_path = espeakng_loader.get_data_path().encode()
        flags = _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT | (_INITIALIZE_PHONEME_IPA if ipa else 0)
        rate = library.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, flags)
        if rate <= 0:
            raise RuntimeError(f"espeak-ng failed to initialise with data at {data_path.decode()}")
        library.sample_rate = rate
        return library

    @staticmethod
    def _close(library):
        import _ctypes

        library.espeak_Terminate()
        _ctypes.dlclose(library._handle)

    @property
    def sample_rate(self) -> int:
        return int(self._sample_rate)

    @staticmethod
    def _speak(library, c_callback, encoded, voice, rate, pitch, pitch_range, word_gap):
        # Breath noise and Klatt voices draw from espeak's own generator and from the C library's
        # rand(): seed both per utterance.
        library.espeak_ng_SetRandSeed(ctypes.c_long(0))
        ctypes.CDLL(None).srand(0)
        library.espeak_SetSynthCallback(c_callback)
        if library.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"espeak-ng has no voice {voice!r}")
        for parameter, value in ((_PARAM_RATE, rate), (_PARAM_PITCH, pitch), (_PARAM_RANGE, pitch_range),
                                 (_PARAM_VOLUME, 100), (_PARAM_WORDGAP, word_gap)):
            library.espeak_SetParameter(parameter, int(value), 0)
        status = library.espeak_Synth(encoded, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if status != 0:
            raise RuntimeError(f"espeak-ng synthesis failed with status {status}")

    def synthesize(self, text: str, voice: str = "en-us", rate: int = 160, pitch: int = 50,
                   pitch_range: int = 50, word_gap: int = 0, ipa: bool = False) -> Utterance:
        """Speak ``text`` with ``voice`` (e.g. ``en-us+m3``), ``rate`` in words/min, ``pitch`` 0-100;
        ``ipa``: phonemes in IPA instead of espeak's mnemonics."""
        chunks: list[np.ndarray] = []
        events: list[tuple[int, int, int, int, bytes]] = []

        def callback(samples, count, event_pointer):
            if count > 0:
                chunks.append(np.ctypeslib.as_array(samples, shape=(count,)).copy())
            index = 0
            while True:
                event = event_pointer[index]
                if event.type == _EVENT_LIST_TERMINATED:
                    break
                if event.type in (_EVENT_WORD, _EVENT_PHONEME, _EVENT_END):
                    label = bytes(event.id.string).split(b"\0", 1)[0] if event.type == _EVENT_PHONEME else b""
                    events.append((event.type, event.audio_position, event.text_position, event.length, label))
                index += 1
            return 0

        c_callback = _CALLBACK(callback)
        encoded = text.encode("utf-8") + b"\0"
        with self._lock:
            library = self._open(ipa)
            try:
                self._speak(library, c_callback, encoded, voice, rate, pitch, pitch_range, word_gap)
            finally:
                self._close(library)
        waveform = (np.concatenate(chunks) if chunks else np.zeros(0, np.int16)).astype(np.float32) / 32768.0
        duration = waveform.size / self.sample_rate
        return Utterance(waveform, self.sample_rate, *_timings(text, events, duration))


def _timings(text: str, events, duration: float):
    """Word and phoneme intervals (seconds) from espeak's start-time events."""
    phoneme_starts = [(position / 1000.0, label.decode(errors="replace"))
                      for kind, position, _, _, label in events if kind == _EVENT_PHONEME]
    phonemes = []
    for index, (start, label) in enumerate(phoneme_starts):
        end = phoneme_starts[index + 1][0] if index + 1 < len(phoneme_starts) else duration
        if end > start:
            phonemes.append((label, start, min(end, duration)))
    # espeak counts text positions and lengths in characters (1-based), not UTF-8 bytes
    word_events = [(position / 1000.0, text[text_position - 1: text_position - 1 + length], text_position - 1)
                   for kind, position, text_position, length, _ in events if kind == _EVENT_WORD]
    pauses = ("_", "", "_:", "_!")
    spoken = [(label, begin, end) for label, begin, end in phonemes if label not in pauses]
    words = []
    previous_end = 0.0
    for index, (event_start, word, _) in enumerate(word_events):
        limit = word_events[index + 1][0] if index + 1 < len(word_events) else duration
        # espeak's word event can fire a little before or after the word's first phoneme; the
        # word spans its own phonemes: those starting after the previous word and before the next.
        own = [(begin, end) for _, begin, end in spoken
               if begin >= previous_end - 1e-6 and begin >= event_start - 0.05 and begin < limit - 1e-6]
        start = min(begin for begin, _ in own) if own else event_start
        end = max(end for _, end in own) if own else limit
        words.append((word.lower(), start, end))
        previous_end = end
    return _join_text_words(text, words, [offset for _, _, offset in word_events]), phonemes


def _join_text_words(text: str, words, offsets):
    """One interval per space-separated word of ``text``: consecutive espeak words that start
    inside the same text word (Hanzi, read one by one) become one, from the first one's start to
    the last one's end. A text word espeak read as one word keeps its interval as it was."""
    spans = [(match.start(), match.end(), match.group()) for match in re.finditer(r"\S+", text)]
    joined, owners = [], []
    for (word, start, end), offset in zip(words, offsets):
        owner = next((index for index, (first, last, _) in enumerate(spans) if first <= offset < last), None)
        if owner is not None and owners and owners[-1] == owner:
            joined[-1] = (spans[owner][2].lower(), joined[-1][1], end)
        else:
            joined.append((word, start, end))
            owners.append(owner)
    return joined
