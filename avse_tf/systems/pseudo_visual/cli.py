"""``avse denoising <subcommand>``: the pseudo-visual denoising seed's commands (shared/seeds/004).

``preprocess --data_root --preprocessed_root`` keeps the seed's ``preprocess.py`` flags (its
``--batch_size`` and ``--ngpu`` set the S3FD detector's batch and GPUs; the dlib detector here runs
on the CPU, one frame at a time, so they are accepted and have no effect). The training and inference
commands (``train_student``, ``train_teacher``, ``lipsync``, ``train``, ``inference``) come with the models.
"""

from __future__ import annotations

from avse_tf.cli.main import import_tensorflow_quietly
from avse_tf.systems.pseudo_visual import SYSTEM


def register(subparsers) -> None:
    from avse_tf.systems.pseudo_visual.sources import SOURCE_LAYOUTS

    group = subparsers.add_parser(
        SYSTEM.cli_group, help=SYSTEM.title,
        description="Pseudo-visual speech denoising (Hegde et al., WACV 2021): data preparation. The seed's "
                    "preprocess.py (Wav2Lip's): face crops per frame and audio.wav per clip, plus split lists "
                    "and records.")
    commands = group.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
    commands.required = True

    prep = commands.add_parser(
        "preprocess", help="videos -> PREPROCESSED_ROOT/<folder>/<clip>/{<frame>.jpg, audio.wav}, split lists, TFRecords",
        description="One resumable run: 96x96 face crops (dlib detector, box padded at the bottom) and 16 kHz "
                    "audio.wav per clip in the seed's layout, data/{training,validation,test}.txt, tfrecords/<split>/ "
                    "(schema in the system's README), bad_clips.txt (no face, several faces, unreadable, audio and "
                    "video of different lengths).")
    prep.add_argument("--data_root", required=True,
                      help="an LRS3 set (<root>/<folder>/<id>.mp4), LRS3 with its split folders, GRID or a synth-grid corpus")
    prep.add_argument("--preprocessed_root", required=True, help="output folder")
    prep.add_argument("--layout", default="auto", choices=SOURCE_LAYOUTS,
                      help="auto: a corpus layout if the tree is one, else an LRS3 set (lrs3_split)")
    prep.add_argument("--val_fraction", type=float, default=0.1)
    prep.add_argument("--test_fraction", type=float, default=0.1)
    prep.add_argument("--seed", type=int, default=0, help="split seed")
    prep.add_argument("--unseen_speakers", default="", help="comma-separated speakers (corpus speakers, LRS3 video "
                      "ids) held out of training, validation and test: their clips form the 'unseen' split")
    prep.add_argument("--examples_per_shard", type=int, default=64)
    prep.add_argument("--compression", default=None, choices=("GZIP",), help="record compression")
    prep.add_argument("--batch_size", type=int, default=None, help="the seed's detector batch: accepted, no effect here")
    prep.add_argument("--ngpu", type=int, default=None, help="the seed's GPU count: accepted, no effect (dlib on CPU)")
    prep.set_defaults(func=run_preprocess, work_folder="preprocessed_root")


def run_preprocess(args) -> int:
    import_tensorflow_quietly()
    from avse_tf.systems.pseudo_visual.preprocess import preprocess

    result = preprocess(args.data_root, args.preprocessed_root, args.layout, args.val_fraction, args.test_fraction,
                        args.seed, [name for name in args.unseen_speakers.split(",") if name],
                        args.examples_per_shard, args.compression)
    splits = ", ".join(f"{name} {count}" for name, count in result["splits"].items())
    print(f"preprocess: {result['clips']} clips, {result['frames']} face crops ({splits}); {len(result['bad'])} clips "
          f"skipped (bad_clips.txt); records in {result['records']}")
    return 0
