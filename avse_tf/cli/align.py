"""The shared ``avse align`` command: GRID ``.align`` word timings by forced alignment.

For GRID-like corpora (as distributed, or the seed layout) that come without word alignments:
every clip's audio (``s<k>/<id>.wav`` or ``s<k>/audio/<id>.wav``) that has no alignment gets
``s<k>/align/<id>.align``, from PocketSphinx's forced alignment
(:meth:`avse_tf.metrics.recognition.PocketSphinxRecognizer.align`) of its transcript. The
transcript of a clip is, in this order: ``<id>.txt`` beside the audio, ``TRANSCRIPTS/s<k>/<id>.txt``
or ``TRANSCRIPTS/<id>.txt`` (``--transcripts``), else the GRID sentence its id spells
(:func:`avse_tf.data.grid.id_to_sentence`). Every transcript is read and checked against the
dictionary before the first clip is aligned, so a bad one stops the command before it writes
anything; each ``.align`` is written atomically, so an interrupted run resumes where it stopped.
A clip that cannot be aligned (the search finds no path through all its words) gets no ``.align``;
the others are written and the command then fails naming those clips (exit code 2).
"""

from __future__ import annotations

import os

from avse_tf.constants import SAMPLE_RATE
from avse_tf.errors import TranscriptError, UserInputError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "align", help="write GRID .align word timings by forced alignment (PocketSphinx) where they are missing",
        description="For every clip of DIR (GRID as distributed or s<k>/audio/) without an .align file: force-align its "
                    "transcript with PocketSphinx's US-English acoustic model and write the word timings in "
                    "GRID's .align format (1/25000 s, sil/sp between words). Transcript: <id>.txt beside the "
                    "audio, else in --transcripts (as s<k>/<id>.txt or <id>.txt), else the GRID sentence of "
                    "the id (bbaf2n = 'bin blue at f two now'). Existing .align files are kept unless "
                    "--overwrite, so an interrupted run resumes.")
    parser.add_argument("data_dir", metavar="DIR", help="corpus folder: GRID as distributed (s<k>/<id>.wav) or "
                        "s<k>/audio/<id>.wav; .align files go to s<k>/align/")
    parser.add_argument("--layout", choices=("auto", "grid", "seed"), default="auto",
                        help="the corpus's folder tree (default: detected)")
    parser.add_argument("--speakers", default=None,
                        help="comma-separated speakers to align, e.g. s1,s2 or 1,2 (default: every s<k> folder)")
    parser.add_argument("--transcripts", default=None, metavar="FOLDER",
                        help="folder of transcripts <id>.txt or s<k>/<id>.txt (one line of words per clip)")
    parser.add_argument("--overwrite", action="store_true", help="re-align clips that already have an .align file")
    parser.set_defaults(func=run_align, work_folder="data_dir")


def _speakers(root, text) -> list:
    from avse_tf.data import grid

    if text is None:
        speakers = grid.list_speakers(root)
        if not speakers:
            raise UserInputError(f"no speaker folders (s1, s2, ...) in {root}; expected GRID layout s<k>/audio/")
        return speakers
    names = [grid.speaker_name(item.strip()) for item in text.split(",") if item.strip()]
    for name in names:
        grid.speaker_dir(root, name)  # raises naming the speakers that exist
    return list(dict.fromkeys(names))


def _pending_clips(root, speakers, transcripts_dir, overwrite, layout="auto") -> tuple:
    """``(clips to align, number kept)``; each clip ``(speaker, id, audio, align, words, source)``.
    The corpus is read in its layout (:func:`avse_tf.data.corpora.read_corpus`: GRID as distributed
    or the seed layout); a missing ``.align`` is written to ``s<k>/align/<id>.align``, where both
    layouts look for it."""
    from avse_tf.data.corpora import read_corpus
    from avse_tf.data.corpora.transcripts import clip_transcript

    corpus = read_corpus(root, layout, speakers)
    if corpus.layout == "lrs3":
        raise UserInputError(f"{root} is LRS3: its .txt files hold word timings already; avse align is for "
                             "GRID-like corpora (s<k>/...)")
    clips, kept = [], 0
    for clip in corpus.clips:
        if clip.audio is None:
            continue  # avse check-corpus reports clips without audio
        align_path = clip.align or os.path.join(root, clip.speaker, "align", f"{clip.clip_id}.align")
        if os.path.exists(align_path) and not overwrite:
            kept += 1
            continue
        words, source = clip_transcript(root, clip.speaker, clip.clip_id, clip.audio, transcripts_dir,
                                        use_alignment=False)
        clips.append((clip.speaker, clip.clip_id, clip.audio, align_path, words, source))
    return clips, kept


def run_align(args) -> int:
    from avse_tf.audio.io import load_audio
    from avse_tf.data.grid import write_align
    from avse_tf.metrics.recognition import PocketSphinxRecognizer
    from avse_tf.utils import progress

    root = args.data_dir
    if not os.path.isdir(root):
        raise UserInputError(f"corpus folder not found: {root}")
    if args.transcripts is not None and not os.path.isdir(args.transcripts):
        raise UserInputError(f"--transcripts {args.transcripts} is not a folder")
    clips, kept = _pending_clips(root, _speakers(root, args.speakers), args.transcripts, args.overwrite, args.layout)
    recognizer = PocketSphinxRecognizer()
    for _, _, audio_path, _, words, source in clips:  # every transcript checked before anything is written
        unknown = recognizer.unknown_words(words)
        if unknown:
            raise TranscriptError(f"{audio_path}: transcript ({source}) has words the CMU pronouncing dictionary "
                                  f"lacks: {', '.join(unknown[:10])}; spell them as dictionary words")
    unaligned = []
    for speaker, utterance_id, audio_path, align_path, words, source in progress(clips, "align", unit="clip"):
        audio = load_audio(audio_path, SAMPLE_RATE)
        try:
            timed_words = recognizer.align(audio, words, SAMPLE_RATE)
        except TranscriptError:
            # The search found no path through every word (speech far from the model, or the wrong
            # transcript): no .align is guessed; the other clips go on and the error names this one.
            unaligned.append(f"{speaker}/{utterance_id}")
            continue
        write_align(align_path, timed_words, audio.size / SAMPLE_RATE)
    done = len(clips) - len(unaligned)
    print(f"aligned {done} clips in {root}" + (f" ({kept} already had an .align file)" if kept else ""))
    if unaligned:
        raise TranscriptError(f"{len(unaligned)} clips could not be aligned to their transcripts (wrong transcript, "
                              f"or speech the recogniser cannot follow): {', '.join(unaligned[:10])}"
                              f"{' ...' if len(unaligned) > 10 else ''}; check their transcripts")
    return 0
