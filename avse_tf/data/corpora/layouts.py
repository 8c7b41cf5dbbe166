"""Recognise a user's corpus folder and list its clips in one normalised form.

Accepted trees (``layout``):

* ``grid`` — GRID as its archives unpack: ``<root>/s<k>/<id>.mpg`` (video), ``<root>/s<k>/<id>.wav``
  (audio at 50 kHz, or any rate; ``audio_dir`` when the audio archives were unpacked elsewhere:
  ``<audio_dir>/s<k>/<id>.wav``), alignments in ``<root>/s<k>/align/``, ``<root>/align/s<k>/`` or
  ``<root>/alignments/s<k>/`` (``align_dir``: ``<align_dir>/s<k>/``).
* ``seed`` — this library's own layout: ``<root>/s<k>/{video,audio,align}/<id>.{mpg,wav,align}``.
* ``lrs3`` — LRS3 as distributed: ``<root>/<split>/<video id>/<clip>.mp4`` with ``<clip>.txt``
  (``Text:  THE WORDS`` on its first line), splits ``pretrain``, ``trainval``, ``test``. LRS3 has no
  speaker labels: its YouTube video ids stand in for speakers (one video is mostly one speaker,
  but a speaker may appear in several videos, so a split by video id is not strictly a split by
  speaker). The mp4's sound track is the audio.

Every layout is read into :class:`Corpus`: clips with internal speaker names ``s<k>`` and clip ids
unique per speaker, beside the corpus's own names (:attr:`Clip.source_speaker`,
:attr:`Clip.source_id`). GRID and seed keep their names; LRS3's video ids, sorted, become
``s1..sN`` over the whole tree (so a speaker keeps its name whatever ``speakers`` selects) and its
clip ids become ``<split>-<clip>`` (``trainval-00001``), since one video id can have a clip
``00001`` in both ``pretrain`` and ``trainval``.
"""

from __future__ import annotations

import dataclasses
import os
import re

from avse_tf.data import grid
from avse_tf.errors import UserInputError

LAYOUTS = ("grid", "seed", "lrs3")
VIDEO_SUFFIXES = (".mpg", ".mpeg", ".mp4", ".avi", ".mov", ".mkv")
AUDIO_SUFFIXES = (".wav", ".flac")
LRS3_SPLITS = ("pretrain", "trainval", "test")
_TEXT_LINE = re.compile(r"^\s*Text:\s*(.*?)\s*$")

ACCEPTED_TREES = ("grid: <root>/s<k>/<id>.mpg + <id>.wav, alignments in <root>/s<k>/align/ or <root>/align/s<k>/; "
                  "seed: <root>/s<k>/{video,audio,align}/; lrs3: <root>/<split>/<video id>/<clip>.mp4 + <clip>.txt")


@dataclasses.dataclass(frozen=True)
class Clip:
    """One clip of a corpus: file paths (absolute) and what is known of its words.

    ``audio`` is a wav, or the video itself when the audio is its sound track (LRS3); ``audio`` or
    ``video`` is None when the corpus lacks that file (:mod:`avse_tf.data.corpora.check` reports it).
    ``transcript``: the words (LRS3's ``Text:`` line), None where the corpus has none (GRID's words
    are in its ``.align``).
    """

    speaker: str
    clip_id: str
    audio: str | None
    video: str | None
    align: str | None = None
    transcript: str | None = None
    transcript_file: str | None = None
    source_speaker: str = ""
    source_id: str = ""


@dataclasses.dataclass(frozen=True)
class Corpus:
    """A corpus folder read in one layout: ``clips`` ordered by speaker (numerically) then clip id."""

    root: str
    layout: str
    clips: tuple

    def speakers(self) -> list:
        """Internal speaker names present, in numeric order (``s1``, ``s2``, ...)."""
        return sorted({clip.speaker for clip in self.clips}, key=_speaker_number)

    def clips_of(self, speaker) -> list:
        name = grid.speaker_name(speaker)
        return [clip for clip in self.clips if clip.speaker == name]


def _speaker_number(name: str) -> int:
    return int(grid.SPEAKER_PATTERN.match(name).group(1))


def _files(folder: str, suffixes) -> dict:
    """``{stem: path}`` of the files in ``folder`` ending in one of ``suffixes`` (hidden files,
    such as a killed write's ``.tmp-*``, are not clips)."""
    if not os.path.isdir(folder):
        return {}
    found = {}
    for name in sorted(os.listdir(folder)):
        stem, suffix = os.path.splitext(name)
        if suffix.lower() in suffixes and not name.startswith(".") and os.path.isfile(os.path.join(folder, name)):
            found.setdefault(stem, os.path.join(folder, name))
    return found


def _speaker_folders(root: str) -> list:
    if not os.path.isdir(root):
        return []
    return grid.list_speakers(root)


def _has_files(folder, suffixes) -> bool:
    return bool(os.path.isdir(folder) and any(
        os.path.splitext(name)[1].lower() in suffixes for name in os.listdir(folder)))


def _lrs3_video_folders(root: str) -> list:
    """``(split, video id, folder)`` of every ``<root>/<split>/<video id>/`` holding ``.mp4`` files."""
    found = []
    for split in sorted(os.listdir(root)):
        split_folder = os.path.join(root, split)
        if split.startswith(".") or not os.path.isdir(split_folder) or grid.SPEAKER_PATTERN.match(split):
            continue
        for video_id in sorted(os.listdir(split_folder)):
            folder = os.path.join(split_folder, video_id)
            if os.path.isdir(folder) and _has_files(folder, (".mp4",)):
                found.append((split, video_id, folder))
    return found


def detect_layout(data_dir) -> str:
    """``grid``, ``seed`` or ``lrs3``: the one tree ``data_dir`` matches (module docstring).

    :class:`UserInputError` when it matches none (naming the accepted trees) or more than one.
    """
    root = os.fspath(data_dir)
    if not os.path.isdir(root):
        raise UserInputError(f"corpus folder not found: {root}; check the path")
    matches = []
    speakers = _speaker_folders(root)
    if any(_has_files(os.path.join(root, name, sub), VIDEO_SUFFIXES + AUDIO_SUFFIXES)
           for name in speakers for sub in ("video", "audio")):
        matches.append("seed")
    if any(_has_files(os.path.join(root, name), VIDEO_SUFFIXES + AUDIO_SUFFIXES) for name in speakers):
        matches.append("grid")
    if _lrs3_video_folders(root):
        matches.append("lrs3")
    if not matches:
        raise UserInputError(f"{root} is not a corpus layout avse knows; accepted trees: {ACCEPTED_TREES}")
    if len(matches) > 1:
        raise UserInputError(f"{root} looks like several layouts ({', '.join(matches)}); choose one with --layout")
    return matches[0]


def read_corpus(data_dir, layout: str = "auto", speakers=None, audio_dir=None, align_dir=None) -> Corpus:
    """The clips of the corpus in ``data_dir`` (module docstring).

    ``layout``: ``auto`` (:func:`detect_layout`) or one of :data:`LAYOUTS`. ``speakers``: None for
    all, or names to keep: ``3``, ``"s3"``, or an LRS3 video id. ``audio_dir`` (grid): where the
    audio archives were unpacked, if not in ``data_dir``. ``align_dir``: the alignments' root,
    ``<align_dir>/s<k>/<id>.align``, instead of looking in ``data_dir``.
    """
    root = os.path.abspath(os.fspath(data_dir))
    if layout == "auto":
        layout = detect_layout(root)
    elif layout not in LAYOUTS:
        raise UserInputError(f"unknown corpus layout {layout!r}; choose auto or one of {', '.join(LAYOUTS)}")
    elif not os.path.isdir(root):
        raise UserInputError(f"corpus folder not found: {root}; check the path")
    if layout == "lrs3":
        clips = _read_lrs3(root)
    else:
        clips = _read_grid_like(root, layout, audio_dir, align_dir)
    clips = _select(clips, speakers, root)
    if not clips:
        raise UserInputError(f"no clips found in {root} as layout {layout}; accepted trees: {ACCEPTED_TREES}")
    clips.sort(key=lambda clip: (_speaker_number(clip.speaker), clip.clip_id))
    return Corpus(root=root, layout=layout, clips=tuple(clips))


def _align_folder(root, speaker, align_dir):
    if align_dir is not None:
        candidates = [os.path.join(align_dir, speaker), os.path.join(align_dir, speaker, "align")]
    else:
        candidates = [os.path.join(root, speaker, "align"), os.path.join(root, "align", speaker),
                      os.path.join(root, "alignments", speaker)]
    return next((folder for folder in candidates if os.path.isdir(folder)), None)


def _read_grid_like(root, layout, audio_dir, align_dir) -> list:
    speaker_names = set(_speaker_folders(root))
    if audio_dir is not None:
        speaker_names |= set(_speaker_folders(os.fspath(audio_dir)))
    clips = []
    for speaker in speaker_names:
        if layout == "seed":
            videos = _files(os.path.join(root, speaker, "video"), VIDEO_SUFFIXES)
            audio_folder = os.path.join(audio_dir, speaker, "audio") if audio_dir else os.path.join(root, speaker, "audio")
        else:
            videos = _files(os.path.join(root, speaker), VIDEO_SUFFIXES)
            audio_folder = os.path.join(audio_dir or root, speaker)
        audios = _files(audio_folder, AUDIO_SUFFIXES)
        folder = _align_folder(root, speaker, align_dir)
        aligns = _files(folder, (".align",)) if folder else {}
        for clip_id in sorted(set(videos) | set(audios)):
            clips.append(Clip(speaker=speaker, clip_id=clip_id, audio=audios.get(clip_id), video=videos.get(clip_id),
                              align=aligns.get(clip_id), source_speaker=speaker, source_id=clip_id))
    return clips


def read_lrs3_text(path) -> str | None:
    """The words of an LRS3 ``.txt`` (its ``Text:`` line; the word timings below it are not read),
    or None when it has no such line."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            match = _TEXT_LINE.match(line)
            if match:
                return match.group(1) or None
    return None


def _read_lrs3(root) -> list:
    folders = _lrs3_video_folders(root)
    numbers = {video_id: index for index, video_id in enumerate(sorted({v for _, v, _ in folders}), 1)}
    clips = []
    for split, video_id, folder in folders:
        texts = _files(folder, (".txt",))
        for clip, path in _files(folder, (".mp4",)).items():
            text_file = texts.get(clip)
            clips.append(Clip(speaker=f"s{numbers[video_id]}", clip_id=f"{split}-{clip}", audio=path, video=path,
                              transcript=read_lrs3_text(text_file) if text_file else None,
                              transcript_file=text_file, source_speaker=video_id, source_id=f"{split}/{video_id}/{clip}"))
    return clips


def _select(clips, speakers, root) -> list:
    if speakers is None:
        return list(clips)
    wanted, names = set(), {}
    for clip in clips:
        names.setdefault(clip.speaker, clip.source_speaker)
    by_source = {source: name for name, source in names.items()}
    for speaker in speakers:
        text = str(speaker)
        name = by_source.get(text) or (grid.speaker_name(text) if grid.speaker_name(text) in names else None)
        if name is None:
            known = sorted(names, key=_speaker_number)
            shown = ", ".join(f"{name} ({names[name]})" if names[name] != name else name for name in known[:10])
            raise UserInputError(f"unknown speaker {grid.speaker_name(text) if text.isdigit() else text} in {root}; speakers here: {shown or 'none'}"
                                 + (f" and {len(known) - 10} more" if len(known) > 10 else ""))
        wanted.add(name)
    return [clip for clip in clips if clip.speaker in wanted]
