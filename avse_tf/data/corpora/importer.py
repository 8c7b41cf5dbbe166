"""Write a user's corpus in the library's own layout, which every recipe reads.

``<dest>/s<k>/audio/<id>.wav``   16 kHz mono 16-bit PCM, resampled with :func:`avse_tf.audio.io.resample`
``<dest>/s<k>/video/<id><ext>``  a symbolic link to the original video (a copy where links fail)
``<dest>/s<k>/align/<id>.align`` the original alignment, copied, when the corpus has one
``<dest>/s<k>/text/<id>.txt``    the transcript, one line, when the corpus has one (LRS3)
``<dest>/corpus_import.json``    the manifest: internal speaker and clip names -> the original files

Every file is written atomically and skipped when it exists, so a killed import started again
finishes the rest; the manifest is written last.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings

from avse_tf.constants import SAMPLE_RATE
from avse_tf.data.corpora.layouts import read_corpus
from avse_tf.errors import InputWarning, UserInputError

MANIFEST = "corpus_import.json"


def import_corpus(data_dir, dest, speakers=None, layout: str = "auto", *, audio_dir=None, align_dir=None,
                  show_progress: bool = True) -> dict:
    """Import the corpus in ``data_dir`` into ``dest`` (module docstring); returns the manifest.

    ``layout``, ``speakers``, ``audio_dir``, ``align_dir``: as :func:`~avse_tf.data.corpora.read_corpus`.
    Clips without audio or without video are left out with a warning and listed under ``skipped``.
    The manifest: ``{"source", "layout", "sample_rate", "video_extensions", "speakers": {"s<k>":
    {"source": <corpus speaker name>, "clips": {<id>: {"source_id", "audio", "video", "align",
    "transcript"}}}}, "skipped": [...]}`` with absolute original paths (None where absent).
    ``dest`` already holding another corpus's import is an error.
    """
    from avse_tf.utils import atomic_write_text, progress
    from avse_tf.workdir_lock import work_folder_lock

    corpus = read_corpus(data_dir, layout, speakers, audio_dir=audio_dir, align_dir=align_dir)
    dest = os.path.abspath(os.fspath(dest))
    _refuse_another_corpus(dest, corpus)
    complete = [clip for clip in corpus.clips if clip.audio and clip.video]
    skipped = [clip for clip in corpus.clips if not (clip.audio and clip.video)]
    if not complete:
        raise UserInputError(f"no clip of {corpus.root} has both audio and video; avse check-corpus {corpus.root} "
                             "lists what is missing")
    if skipped:
        first = skipped[0]
        missing = "audio" if not first.audio else "video"
        warnings.warn(InputWarning(
            f"left out {len(skipped)} clip{'s' if len(skipped) > 1 else ''} without audio or video (first: "
            f"{first.video or first.audio} has no {missing}); avse check-corpus {corpus.root} lists them"), stacklevel=2)
    with work_folder_lock(dest, "avse import_corpus"):
        for clip in progress(complete, "import-corpus", disable=None if show_progress else True, unit="clip"):
            _import_clip(clip, os.path.join(dest, clip.speaker))
        manifest = _manifest(corpus, complete, skipped)
        atomic_write_text(os.path.join(dest, MANIFEST), json.dumps(manifest, indent=2) + "\n")
    return manifest


def _refuse_another_corpus(dest, corpus) -> None:
    path = os.path.join(dest, MANIFEST)
    if not os.path.isfile(path):
        return
    try:
        with open(path, encoding="utf-8") as handle:
            previous = json.load(handle)
    except (OSError, ValueError):
        return  # a damaged manifest is rewritten at the end
    if previous.get("source") != corpus.root or previous.get("layout") != corpus.layout:
        raise UserInputError(f"{dest} holds the import of {previous.get('source')} ({previous.get('layout')}); "
                             f"import {corpus.root} into another folder")


def _import_clip(clip, speaker_folder) -> None:
    from avse_tf.audio.io import load_audio, write_audio
    from avse_tf.utils import atomic_path, atomic_write_text

    audio_path = os.path.join(speaker_folder, "audio", clip.clip_id + ".wav")
    if not os.path.exists(audio_path):
        write_audio(audio_path, load_audio(clip.audio, SAMPLE_RATE), SAMPLE_RATE)
    extension = os.path.splitext(clip.video)[1].lower()
    _link_or_copy(clip.video, os.path.join(speaker_folder, "video", clip.clip_id + extension))
    if clip.align:
        align_path = os.path.join(speaker_folder, "align", clip.clip_id + ".align")
        if not os.path.exists(align_path):
            with atomic_path(align_path) as temporary:
                shutil.copyfile(clip.align, temporary)
    if clip.transcript:
        text_path = os.path.join(speaker_folder, "text", clip.clip_id + ".txt")
        if not os.path.exists(text_path):
            atomic_write_text(text_path, clip.transcript + "\n")


def _link_or_copy(source, target) -> None:
    """A symbolic link ``target`` -> ``source``; a copy where the file system refuses links (FAT,
    some network shares, Windows without the privilege). A link left dangling is made again."""
    from avse_tf.utils import atomic_path, temporary_beside

    if os.path.exists(target):
        return
    temporary = temporary_beside(target, os.path.splitext(target)[1])
    os.remove(temporary)  # only its unique name is wanted: the link is made there, then renamed
    try:
        os.symlink(os.path.abspath(source), temporary)
        os.replace(temporary, target)
        return
    except OSError:
        if os.path.lexists(temporary):
            os.remove(temporary)
    with atomic_path(target) as copy:
        shutil.copyfile(source, copy)


def _manifest(corpus, clips, skipped) -> dict:
    speakers = {}
    for clip in clips:
        entry = speakers.setdefault(clip.speaker, {"source": clip.source_speaker, "clips": {}})
        entry["clips"][clip.clip_id] = {"source_id": clip.source_id, "audio": clip.audio, "video": clip.video,
                                        "align": clip.align, "transcript": clip.transcript_file}
    return {
        "source": corpus.root,
        "layout": corpus.layout,
        "sample_rate": SAMPLE_RATE,
        "video_extensions": sorted({os.path.splitext(clip.video)[1].lower().lstrip(".") for clip in clips}),
        "speakers": speakers,
        "skipped": [{"speaker": clip.speaker, "source_id": clip.source_id, "audio": clip.audio, "video": clip.video}
                    for clip in skipped],
    }
