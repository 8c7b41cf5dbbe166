"""The shared ``avse preprocess <system>`` command: a system's corpus preparation, on this machine
or on Apache Beam (:mod:`avse_tf.preprocessing`), with the same outputs either way."""

from __future__ import annotations

import sys


def add_runner_arguments(parser) -> None:
    """``--runner`` and ``--beam_option``, for every command that runs a clip-by-clip preparation."""
    from avse_tf.preprocessing import RUNNER_CHOICES

    parser.add_argument("--runner", default="local", choices=RUNNER_CHOICES,
                        help="local (default): one clip after another here, no Beam needed; direct: Apache Beam's "
                             "DirectRunner on this machine's cores; flink, spark, dataflow, portable: a cluster "
                             "(pip install 'avse_tf[beam]'; every path must be on storage all workers see)")
    parser.add_argument("--beam_option", action="append", default=[], metavar="K=V",
                        help="a Beam pipeline option, repeatable (direct_num_workers=4, flink_master=host:8081, "
                             "job_endpoint=host:8099, environment_type=LOOPBACK, project=..., temp_location=...)")


# Flags of one system's preparation only: {flag: help}; the system is named in the help.
SYSTEM_FLAGS = {"image_size": "speech2vid: face crop side, a multiple of 16 (default 112, the paper's)",
                "num_identity": "speech2vid: identity stills per example (default 5, the paper's)",
                "av_offsets": "pseudo_visual: FILE of the clips' audio-visual offsets to undo (sync correction): "
                              "a synth_grid.json or {\"<folder>/<clip>\": offset_ms}"}
SYSTEM_FLAG_TYPES = {"av_offsets": str}  # the others: int


def register(subparsers) -> None:
    from avse_tf.systems import all_systems

    names = [system.name for system in all_systems()]
    parser = subparsers.add_parser(
        "preprocess", help="a system's corpus -> its training data and records, locally or on Apache Beam",
        description="Run a system's whole corpus preparation (the same steps and outputs as its own preprocess "
                    "command): per clip read and check, crop, featurise and write, then split lists and sharded "
                    "TFRecords. Bad clips are listed in DEST_DIR/bad_clips.txt with the reason (a dead-letter "
                    "report) and the run goes on. Resumable, with either runner: a clip is done when its marker "
                    "DEST_DIR/data/done/<clip>.json exists, and every file is written atomically.")
    parser.add_argument("system", metavar="SYSTEM", help=f"a system name or its command group ({', '.join(names)})")
    parser.add_argument("--data_dir", required=True, help="the corpus (the layouts the system's preprocess reads)")
    parser.add_argument("--dest_dir", required=True, help="output folder")
    parser.add_argument("--val_fraction", type=float, default=0.1)
    parser.add_argument("--test_fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0, help="split seed")
    parser.add_argument("--unseen_speakers", default="", help="comma-separated speakers held out of every split "
                        "but 'unseen'")
    parser.add_argument("--examples_per_shard", type=int, default=64)
    parser.add_argument("--compression", default=None, choices=("GZIP",), help="record compression")
    parser.add_argument("--shape_predictor", default=None, help="dlib 68-point model (.dat)")
    for flag, text in SYSTEM_FLAGS.items():
        parser.add_argument(f"--{flag}", type=SYSTEM_FLAG_TYPES.get(flag, int), default=None, help=text)
    add_runner_arguments(parser)
    parser.set_defaults(func=run_preprocess, work_folder="dest_dir")


def run_preprocess(args) -> int:
    from avse_tf.cli.main import import_tensorflow_quietly
    from avse_tf.errors import UserInputError
    from avse_tf.preprocessing import run
    from avse_tf.systems import all_systems, get

    system = get(args.system)
    if system.preparation is None:
        ready = ", ".join(other.name for other in all_systems() if other.preparation)
        raise UserInputError(f"{system.name}'s corpus preparation is not a clip-by-clip preparation yet (ready: "
                             f"{ready}); run its own steps: avse {system.cli_group} --help")
    extra = {flag: getattr(args, flag) for flag in SYSTEM_FLAGS if getattr(args, flag) is not None}
    for flag in extra:
        if not SYSTEM_FLAGS[flag].startswith(system.name + ":"):
            raise UserInputError(f"--{flag} is a flag of {SYSTEM_FLAGS[flag].split(':')[0]}'s preparation, not "
                                 f"{system.name}'s; leave it out")
    import_tensorflow_quietly()
    preparation = system.resolve(system.preparation)(
        args.data_dir, args.dest_dir, val_fraction=args.val_fraction, test_fraction=args.test_fraction,
        seed=args.seed, unseen_speakers=[name for name in args.unseen_speakers.split(",") if name],
        examples_per_shard=args.examples_per_shard, compression=args.compression,
        shape_predictor=args.shape_predictor, **extra)
    result = run(preparation, args.runner, args.beam_option)
    splits = ", ".join(f"{name} {len(examples)}" for name, examples in result["splits"].items())
    print(f"preprocess {system.name}: {len(result['done'])} clips ({splits}); {len(result['bad'])} skipped "
          f"(bad_clips.txt); records in {result['records']} ({args.runner})", file=sys.stdout)
    return 0
