"""Which clips ``--data_root`` holds, and where each one's face crops go.

Trees read (``layout``):

* ``lrs3_split`` - the seed's ``data_root``: one LRS3 set as distributed, ``<root>/<video id>/<id>.mp4``
  (the mp4's sound track is the audio); output ``<preprocessed_root>/<video id>/<id>/``, the seed's layout.
* ``lrs3``, ``grid``, ``seed`` - the trees :func:`avse_tf.data.corpora.read_corpus` reads (LRS3 with
  its ``pretrain`` / ``trainval`` / ``test`` folders; GRID as distributed; this library's synthetic
  corpus); output ``<preprocessed_root>/<speaker>/<clip id>/`` (``s1/trainval-00001`` for LRS3, whose
  video ids the corpus reader numbers ``s1..sN``).
* ``auto`` - a corpus layout when the tree is one, else ``lrs3_split``.

The speaker of a clip (for ``--unseen_speakers``): the LRS3 video id, or the corpus speaker.
"""

from __future__ import annotations

import dataclasses
import os

from avse_tf.errors import UserInputError

SOURCE_LAYOUTS = ("auto", "lrs3_split", "lrs3", "grid", "seed")


@dataclasses.dataclass(frozen=True)
class Clip:
    """One input clip: output ``folder`` / ``clip`` names (file-name safe), its ``video`` and ``audio``
    (the video itself when the audio is its sound track) and its ``speaker``."""

    folder: str
    clip: str
    video: str
    audio: str
    speaker: str

    @property
    def name(self) -> str:
        """``<folder>/<clip>``: the clip's folder under ``--preprocessed_root`` and its records name."""
        return f"{self.folder}/{self.clip}"


def _lrs3_split_clips(root) -> list:
    clips = []
    for folder in sorted(os.listdir(root)):
        path = os.path.join(root, folder)
        if folder.startswith(".") or not os.path.isdir(path):
            continue
        for name in sorted(os.listdir(path)):
            if name.lower().endswith(".mp4") and not name.startswith("."):
                video = os.path.join(path, name)
                clips.append(Clip(folder, os.path.splitext(name)[0], video, video, folder))
    return clips


def list_clips(data_root, layout: str = "auto") -> list:
    """The clips of ``data_root`` as :class:`Clip` s (module doc). A folder with none raises
    :class:`~avse_tf.errors.UserInputError` naming the trees read."""
    from avse_tf.data.corpora import read_corpus
    from avse_tf.data.corpora.layouts import ACCEPTED_TREES, detect_layout

    root = os.path.abspath(os.fspath(data_root))
    if not os.path.isdir(root):
        raise UserInputError(f"data folder not found: {root}; check --data_root")
    if layout not in SOURCE_LAYOUTS:
        raise UserInputError(f"unknown layout {layout!r}; choose one of {', '.join(SOURCE_LAYOUTS)}")
    if layout == "auto":
        try:
            layout = detect_layout(root)
        except UserInputError:
            layout = "lrs3_split"
    if layout == "lrs3_split":
        clips = _lrs3_split_clips(root)
    else:
        corpus = read_corpus(root, layout)
        clips = [Clip(clip.speaker, clip.clip_id, clip.video, clip.audio or clip.video, clip.speaker)
                 for clip in corpus.clips if clip.video]
    if not clips:
        raise UserInputError(f"no clips in {root}; --data_root takes <root>/<folder>/<id>.mp4 (an LRS3 set) "
                             f"or a corpus ({ACCEPTED_TREES})")
    return clips
