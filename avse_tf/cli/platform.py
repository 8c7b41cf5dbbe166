"""Shared platform commands: ``avse export`` and ``avse tune``."""

from __future__ import annotations

import os

from avse_tf.training.strategy import add_distribution_args


def register(subparsers) -> None:
    from avse_tf.export.exporter import FORMATS, refusals_text
    from avse_tf.systems import all_systems

    export = subparsers.add_parser(
        "export", help="export a trained model of any system: SavedModel, keras or tflite",
        description="The checkpoint's system (from its model) decides what each format holds; see each "
                    "system's model card. landmark_enhancement's SavedModel is waveform in, waveform out "
                    "(signature serving_default = enhance(waveform [samples], landmarks [video_frames, 136]) -> "
                    "enhanced_waveform, mask); the others export their model core (features in, features out). "
                    "Every export carries avse_export.json (system, model), which avse_tf.load reads.",
        epilog="Not supported: " + refusals_text() + ". (--list prints the whole table.)")
    export.add_argument("--checkpoint", "--ckp", dest="checkpoint", default=None,
                        help="a .keras checkpoint or an experiment folder (uses its best.keras)")
    export.add_argument("--format", dest="export_format", choices=FORMATS, default="savedmodel")
    export.add_argument("--output", default=None, help="output folder (SavedModel: the base path); required")
    export.add_argument("--version", type=int, default=1, help="SavedModel version folder")
    export.add_argument("--norm_file", default=None, help="normalisation statistics (default: the experiment's)")
    export.add_argument("--num_frames", type=int, default=302,
                        help="tflite: frames per clip of sequence models (302 = 3 s for enhancement; inpainting "
                             "uses 250 = 3 s unless given)")
    export.add_argument("--list", action="store_true", help="print which system can be exported in which format")
    export.set_defaults(func=run_export)

    tunable = [system for system in all_systems() if system.tune]
    tune = subparsers.add_parser(
        "tune", help="keras-tuner search of units, layers, learning rate (and dropout) on TFRecords",
        description="Hyperband or Bayesian search minimising the validation loss; prints the trials and writes the "
                    "best values as a preset JSON (train with it: --preset PATH; build it: avse_tf.from_preset(PATH)). "
                    f"Systems: {', '.join(f'{s.cli_group} ({s.name})' for s in tunable)}.")
    tune.add_argument("system", choices=[system.cli_group for system in tunable],
                      help="the system (its command group) whose model to tune")
    tune.add_argument("--data_dir", required=True)
    tune.add_argument("--train_set", required=True, help="record set folder, relative to --data_dir")
    tune.add_argument("--validation_set", "--val_set", dest="validation_set", required=True)
    tune.add_argument("--model", default=None, help="model to tune (default: the system's first)")
    tune.add_argument("--tuner", choices=("hyperband", "bayesian", "random"), default="hyperband")
    tune.add_argument("--max_trials", type=int, default=10, help="bayesian / random: number of trials")
    tune.add_argument("--epochs", type=int, default=10, help="epochs per trial (hyperband: the maximum)")
    tune.add_argument("--batch_size", type=int, default=8)
    tune.add_argument("--units", default="32,64,128,250", help="LSTM unit choices")
    tune.add_argument("--max_layers", type=int, default=5)
    tune.add_argument("--exp", default="tune", help="search folder: <data_dir>/experiments/<exp>")
    tune.add_argument("--output", default=None, help="best preset JSON (default: <search folder>/<model>_tuned.json)")
    tune.add_argument("--seed", type=int, default=1)
    add_distribution_args(tune)
    tune.set_defaults(func=run_tune)


def run_export(args) -> int:
    from avse_tf.export.exporter import export_support

    if args.list:
        for system, export_format, reason in export_support():
            print(f"{system:22s} {export_format:11s} {'yes' if reason is None else 'no: ' + reason}")
        return 0
    if not args.checkpoint or not args.output:
        from avse_tf.errors import UserInputError

        raise UserInputError("avse export needs --checkpoint and --output (or --list)")
    from avse_tf.cli.main import import_tensorflow_quietly

    import_tensorflow_quietly()
    from avse_tf.export import export_model

    path = export_model(args.checkpoint, args.export_format, args.output, args.version, args.norm_file,
                        args.num_frames)
    print(f"export: {args.export_format} written to {path}")
    return 0


def run_tune(args) -> int:
    from avse_tf.cli.main import import_tensorflow_quietly
    from avse_tf.systems import get

    system = get(args.system)
    model = args.model or system.models[0]
    if model not in system.models:
        from avse_tf.errors import UserInputError

        raise UserInputError(f"--model {model} is not a model of avse {system.cli_group}; choose one of "
                             f"{', '.join(system.models)}")
    import_tensorflow_quietly()
    from avse_tf.metrics import format_table
    from avse_tf.training.strategy import set_determinism, strategy_from_args
    from avse_tf.training.tuner import tune, write_tuned_preset

    set_determinism(args.seed)
    train, validation, build_and_compile, base, keys = system.resolve(system.tune)(
        os.path.join(args.data_dir, args.train_set), os.path.join(args.data_dir, args.validation_set), model,
        args.batch_size, args.seed, strategy_from_args(args))
    directory = os.path.join(args.data_dir, "experiments", args.exp)
    trials, best = tune(build_and_compile, train, validation, directory, model, args.tuner, args.max_trials,
                        args.epochs, args.seed, tuple(int(u) for u in args.units.split(",")), args.max_layers,
                        keys=keys)
    output = args.output or os.path.join(directory, f"{model}_tuned.json")
    write_tuned_preset(base, best, output, f"avse tune {args.system} --tuner {args.tuner} --epochs {args.epochs} "
                                           f"on {os.path.join(args.data_dir, args.train_set)}")
    print(format_table([(f"trial {t['trial']}", {k: v for k, v in t.items() if k != "trial"}) for t in trials],
                       [*keys, "val_loss"], precision=4, label="trial"))
    print(f"best preset: {output}")
    return 0
