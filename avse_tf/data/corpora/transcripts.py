"""The words spoken in a corpus clip: what WER / PER are measured against and what ``avse align`` aligns.

Looked up in this order (the first found wins):

1. ``<corpus>/s<k>/text/<id>.txt`` (where :func:`~avse_tf.data.corpora.import_corpus` keeps a
   corpus's transcripts, LRS3's ``Text:`` line);
2. ``<id>.txt`` beside the clip's audio (a user's own corpus);
3. ``<transcripts_dir>/s<k>/<id>.txt`` or ``<transcripts_dir>/<id>.txt`` (``avse align --transcripts``);
4. the GRID sentence the id spells (``bbaf2n`` = "bin blue at f two now");
5. the words of ``<corpus>/s<k>/align/<id>.align`` (``sil``/``sp`` dropped), for ids that are not
   GRID's.

The GRID id comes before the ``.align`` because it is the sentence by construction, while an
alignment may miss a word: the synthetic corpus's ``.align`` has no entry for the letter "a" where
espeak-ng runs it into "at" ("place green at a four please" lists 5 words).
"""

from __future__ import annotations

import os

from avse_tf.errors import TranscriptError

SILENCE_TOKENS = ("sil", "sp")


def transcript_words(text: str) -> list:
    """Words of a transcript text: lower case, split on white space, surrounding punctuation removed
    (apostrophes kept: the dictionary has ``don't``). LRS3's ``Text:`` prefix is dropped."""
    text = text.splitlines()[0] if text.startswith("Text:") else text
    text = text[len("Text:"):] if text.startswith("Text:") else text
    words = (word.strip(".,;:!?\"()[]{}").lower() for word in text.split())
    return [word for word in words if word]


def clip_transcript(corpus_root, speaker, clip_id, audio_path=None, transcripts_dir=None,
                    use_alignment=True) -> tuple:
    """``(words, source)`` of one clip (module doc for the order); ``source`` names the file, or
    ``"GRID id"``. :class:`TranscriptError` when nothing gives the words, or a transcript is empty."""
    from avse_tf.data import grid

    audio_path = audio_path or os.path.join(corpus_root, speaker, "audio", f"{clip_id}.wav")
    candidates = [os.path.join(corpus_root, speaker, "text", f"{clip_id}.txt"),
                  os.path.splitext(audio_path)[0] + ".txt"]
    if transcripts_dir is not None:
        candidates += [os.path.join(transcripts_dir, speaker, f"{clip_id}.txt"),
                       os.path.join(transcripts_dir, f"{clip_id}.txt")]
    for path in candidates:
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                words = transcript_words(handle.read())
            if not words:
                raise TranscriptError(f"transcript {path} is empty; write the words spoken in {audio_path}")
            return words, path
    try:
        return list(grid.id_to_sentence(clip_id)), "GRID id"
    except ValueError:
        pass
    align_path = os.path.join(corpus_root, speaker, "align", f"{clip_id}.align")
    if use_alignment and os.path.isfile(align_path):
        words = [word for word, _, _ in grid.read_align(align_path) if word not in SILENCE_TOKENS]
        if words:
            return words, align_path
    where = " or in --transcripts" if transcripts_dir is not None else ""
    raise TranscriptError(f"no transcript for {audio_path}: no {clip_id}.txt beside it{where}, no .align, and "
                          f"{clip_id!r} is not a GRID id; write its words to {candidates[1]}")
