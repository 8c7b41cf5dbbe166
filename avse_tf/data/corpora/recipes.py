"""Where a recipe's corpus comes from: the synthetic generator, or a user's corpus (``--data_dir``).

Every recipe reads ``<work_dir>/corpus`` in the library's layout. Without ``--data_dir`` the recipe
makes it with ``synth-grid`` and splits the speakers itself; with ``--data_dir`` the user's corpus
(GRID as distributed, the seed layout, LRS3: :mod:`avse_tf.data.corpora.layouts`) is imported
there (:func:`~avse_tf.data.corpora.import_corpus`: 16 kHz wavs, linked videos, alignments) and the
user names the training, validation and test speakers, as the original projects' commands did.
"""

from __future__ import annotations

import dataclasses
import os

from avse_tf.errors import UserInputError

SET_FLAGS = {"TRAINING_SET": "train_speakers", "VALIDATION_SET": "val_speakers", "TEST_SET": "test_speakers"}


@dataclasses.dataclass(frozen=True)
class RecipeCorpus:
    """The corpus a recipe runs on: its folder (library layout), the speaker split (internal names
    ``s<k>`` per set) and the videos' file extension."""

    root: str
    split: dict
    video_extension: str = "mpg"

    @property
    def speakers(self) -> list:
        return [name for names in self.split.values() for name in names]


def add_user_corpus_arguments(parser) -> None:
    """``--data_dir``, ``--layout`` and the three speaker lists of a recipe."""
    from avse_tf.data.corpora.layouts import LAYOUTS

    group = parser.add_argument_group(
        "your own corpus (instead of a synthetic one; avse check-corpus DIR checks it first)")
    group.add_argument("--data_dir", default=None,
                       help="a corpus folder: GRID as distributed, s<k>/{video,audio,align}, or LRS3 (README, "
                            "'Your own corpus'); it is imported into <work_dir>/corpus")
    group.add_argument("--layout", choices=("auto",) + tuple(LAYOUTS), default="auto",
                       help="the corpus's folder tree (default: detected)")
    for flag, what in (("train_speakers", "training"), ("val_speakers", "validation"), ("test_speakers", "test")):
        group.add_argument(f"--{flag}", nargs="+", default=None, metavar="SPEAKER",
                           help=f"{what} speakers of --data_dir (GRID: 3 or s3; LRS3: video ids)")


def user_corpus_from_args(args, synthetic_flags=("speakers", "voices", "video")) -> dict | None:
    """The user-corpus settings of parsed recipe flags, or None for a synthetic corpus. Flags of
    the other source are refused with one line each way."""
    lists = {set_name: getattr(args, flag) for set_name, flag in SET_FLAGS.items()}
    if args.data_dir is None:
        given = [f"--{SET_FLAGS[name]}" for name, value in lists.items() if value]
        if given:
            raise UserInputError(f"{', '.join(given)} name speakers of --data_dir; give --data_dir, or drop them "
                                 "to run on a synthetic corpus (--speakers N)")
        return None
    clashing = [f"--{flag}" for flag in synthetic_flags if getattr(args, flag, None) is not None]
    if clashing:
        raise UserInputError(f"{', '.join(clashing)} describe the synthetic corpus; with --data_dir the corpus is "
                             "yours: drop them")
    missing = [f"--{SET_FLAGS[name]}" for name, value in lists.items() if not value]
    if missing:
        raise UserInputError(f"--data_dir needs {', '.join(missing)} (which of its speakers train, validate and "
                             "test; e.g. --train_speakers 1 2 3 --val_speakers 4 --test_speakers 5)")
    return {"data_dir": args.data_dir, "layout": args.layout, "split": lists}


def recipe_corpus(work_dir, user_corpus, make_synthetic) -> RecipeCorpus:
    """``<work_dir>/corpus``: ``make_synthetic(folder) -> split`` when ``user_corpus`` is None, else
    the user's corpus imported (resumable) with its split mapped to the internal speaker names."""
    from avse_tf.data.corpora.importer import import_corpus

    root = os.path.join(work_dir, "corpus")
    if user_corpus is None:
        return RecipeCorpus(root, make_synthetic(root))
    split = user_corpus["split"]
    requested = [str(name) for names in split.values() for name in names]
    repeated = sorted({name for name in requested if requested.count(name) > 1})
    if repeated:
        raise UserInputError(f"speaker(s) {', '.join(repeated)} given in more than one of --train_speakers, "
                             "--val_speakers, --test_speakers; each speaker belongs to one set")
    manifest = import_corpus(user_corpus["data_dir"], root, speakers=requested, layout=user_corpus["layout"])
    internal = _internal_names(manifest)
    mapped = {set_name: [internal[str(name)] for name in names] for set_name, names in split.items()}
    extensions = sorted(set(manifest.get("video_extensions") or ["mpg"]))
    if len(extensions) != 1:
        raise UserInputError(f"{user_corpus['data_dir']} mixes video formats ({', '.join(extensions)}); convert "
                             "them to one (ffmpeg) before running a recipe")
    return RecipeCorpus(root, mapped, extensions[0].lstrip("."))


def _internal_names(manifest) -> dict:
    """``{any name a user may give: internal s<k>}``: the corpus's own name, and for GRID-like names
    their number and ``s<k>`` spelling."""
    names = {}
    for internal, entry in manifest["speakers"].items():
        source = str(entry.get("source", internal))
        for alias in {internal, source, source.lstrip("s") if source[1:].isdigit() else source}:
            names[alias] = internal
    return names
