"""A user's corpus (GRID as distributed, this library's own layout, LRS3): read, check, import.

* :func:`read_corpus` / :func:`detect_layout` (:mod:`.layouts`): which tree a folder is, and its
  clips as :class:`Clip` (audio, video, alignment, transcript) with internal speaker names ``s<k>``;
* :func:`check_corpus` (:mod:`.check`): every problem of every clip, as :class:`Problem` (the
  ``avse check-corpus`` command);
* :func:`import_corpus` (:mod:`.importer`): the corpus rewritten in the layout every recipe reads
  (16 kHz wavs, linked videos, alignments, transcripts) with a manifest back to the originals.
"""

from avse_tf.data.corpora.check import Problem, check_clip, check_corpus, summary
from avse_tf.data.corpora.importer import MANIFEST, import_corpus
from avse_tf.data.corpora.layouts import LAYOUTS, Clip, Corpus, detect_layout, read_corpus, read_lrs3_text

__all__ = ["LAYOUTS", "MANIFEST", "Clip", "Corpus", "Problem", "check_clip", "check_corpus", "detect_layout",
           "import_corpus", "read_corpus", "read_lrs3_text", "summary"]
