"""Which clips a folder holds: any tree of videos (with or without a separate audio folder), or a
corpus in a layout :mod:`avse_tf.data.corpora` reads (GRID as distributed, this library's seed
layout, LRS3).
"""

from __future__ import annotations

import dataclasses
import os

from avse_tf.data.corpora.layouts import AUDIO_SUFFIXES, LAYOUTS, VIDEO_SUFFIXES
from avse_tf.errors import UserInputError

SOURCE_LAYOUTS = ("auto", "folder", *LAYOUTS)


@dataclasses.dataclass(frozen=True)
class Source:
    """One input clip: ``name`` (unique, file-name safe: the output folders are named from it),
    its ``video``, its ``audio`` (a separate file, or None: the video's sound track) and its
    ``speaker`` (a corpus's speaker; in a plain folder, the first sub-folder; None at the top)."""

    name: str
    video: str
    audio: str | None = None
    speaker: str | None = None


def _visible(name: str) -> bool:
    return not name.startswith(".")  # .tmp-*: a write that was killed


def find_files(root, suffixes) -> list:
    """Files under ``root`` ending in ``suffixes`` (case-insensitive), sorted, hidden ones left out."""
    return sorted(os.path.join(folder, name) for folder, _, names in os.walk(root)
                  for name in names if _visible(name) and name.lower().endswith(suffixes))


def _name(relative: str) -> str:
    return os.path.splitext(relative)[0].replace(os.sep, "_").replace("/", "_")


def _folder_sources(root, audio_dir) -> list:
    sources = []
    for video in find_files(root, VIDEO_SUFFIXES):
        relative = os.path.relpath(video, root)
        audio = None
        if audio_dir is not None:
            stem = os.path.splitext(relative)[0]
            candidates = [os.path.join(audio_dir, stem + suffix) for suffix in AUDIO_SUFFIXES]
            candidates += [os.path.join(audio_dir, os.path.basename(stem) + suffix) for suffix in AUDIO_SUFFIXES]
            audio = next((path for path in candidates if os.path.isfile(path)), None)
        parts = relative.replace(os.sep, "/").split("/")
        sources.append(Source(_name(relative), video, audio, parts[0] if len(parts) > 1 else None))
    return sources


def list_sources(input_dir, layout: str = "auto", audio_dir=None) -> list:
    """The clips of ``input_dir`` as :class:`Source` s.

    ``layout``: ``folder`` (every video under ``input_dir``, named by its relative path; audio from
    ``audio_dir/<relative path>.{wav,flac}`` or ``audio_dir/<file name>.{wav,flac}`` when given,
    else the video's sound track), one of the corpus layouts (``grid``, ``seed``, ``lrs3``:
    :func:`avse_tf.data.corpora.read_corpus`, clips named ``<speaker>_<clip id>``), or ``auto``
    (a corpus layout when the tree is one, else ``folder``).
    """
    from avse_tf.data.corpora import read_corpus
    from avse_tf.data.corpora.layouts import detect_layout

    root = os.path.abspath(os.fspath(input_dir))
    if not os.path.isdir(root):
        raise UserInputError(f"input folder not found: {root}; check --input_dir")
    if layout not in SOURCE_LAYOUTS:
        raise UserInputError(f"unknown layout {layout!r}; choose one of {', '.join(SOURCE_LAYOUTS)}")
    if audio_dir is not None and not os.path.isdir(audio_dir):
        raise UserInputError(f"audio folder not found: {audio_dir}; check --audio_dir")
    if layout == "auto":
        try:
            layout = detect_layout(root)
        except UserInputError:
            layout = "folder"
    if layout == "folder":
        sources = _folder_sources(root, audio_dir)
    else:
        corpus = read_corpus(root, layout, audio_dir=audio_dir)
        sources = [Source(f"{clip.speaker}_{clip.clip_id}", clip.video,
                          clip.audio if clip.audio != clip.video else None, clip.speaker)
                   for clip in corpus.clips if clip.video]
    if not sources:
        raise UserInputError(f"no videos ({', '.join(VIDEO_SUFFIXES)}) under {root}; check --input_dir")
    return sources
