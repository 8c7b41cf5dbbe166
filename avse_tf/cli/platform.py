"""Shared platform commands: ``avse export`` and ``avse tune``."""

from __future__ import annotations

import os

from avse_tf.training.strategy import add_distribution_args


def register(subparsers) -> None:
    export = subparsers.add_parser(
        "export", help="export a trained model: SavedModel (waveform in, waveform out), keras or tflite",
        description="SavedModel: OUTPUT/<version>/ for TensorFlow Serving, signature serving_default = "
                    "enhance(waveform [samples], landmarks [video_frames, 136]) -> enhanced_waveform, mask; "
                    "features and reconstruction are inside the graph.")
    export.add_argument("--checkpoint", "--ckp", dest="checkpoint", required=True,
                        help="a .keras checkpoint or an experiment folder (uses its best.keras)")
    export.add_argument("--format", dest="export_format", choices=("savedmodel", "keras", "tflite", "onnx"),
                        default="savedmodel")
    export.add_argument("--output", required=True, help="output folder (SavedModel: the base path)")
    export.add_argument("--version", type=int, default=1, help="SavedModel version folder")
    export.add_argument("--norm_file", default=None, help="normalisation statistics (default: the experiment's)")
    export.add_argument("--num_frames", type=int, default=302, help="tflite: frames per clip (302 = 3 s)")
    export.set_defaults(func=run_export)

    tune = subparsers.add_parser(
        "tune", help="keras-tuner search of units, layers, learning rate and dropout on TFRecords",
        description="Hyperband or Bayesian search minimising the validation loss; prints the trials and writes the "
                    "best values as a preset JSON (build it with avse_tf.from_preset(PATH)).")
    tune.add_argument("family", choices=("enhancement",), help="model family")
    tune.add_argument("--data_dir", required=True)
    tune.add_argument("--train_set", required=True, help="record set folder, relative to --data_dir")
    tune.add_argument("--validation_set", "--val_set", dest="validation_set", required=True)
    tune.add_argument("--model", default="av_concat_mask", help="architecture to tune")
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
    from avse_tf.cli.main import import_tensorflow_quietly

    import_tensorflow_quietly()
    from avse_tf.export import export_model

    path = export_model(args.checkpoint, args.export_format, args.output, args.version, args.norm_file,
                        args.num_frames)
    print(f"export: {args.export_format} written to {path}")
    return 0


def run_tune(args) -> int:
    from avse_tf.cli.main import import_tensorflow_quietly

    import_tensorflow_quietly()
    from avse_tf.metrics import format_table
    from avse_tf.systems.presets import get_preset
    from avse_tf.tasks import enhancement
    from avse_tf.training.strategy import set_determinism, strategy_from_args
    from avse_tf.training.tuner import tune, write_tuned_preset

    set_determinism(args.seed)
    strategy = strategy_from_args(args)
    train = enhancement.make_model_dataset(os.path.join(args.data_dir, args.train_set), args.model, args.batch_size,
                                           shuffle=True, seed=args.seed)
    validation = enhancement.make_model_dataset(os.path.join(args.data_dir, args.validation_set), args.model,
                                                args.batch_size)
    base = get_preset(f"{args.model}_grid")

    def build_and_compile(hidden_units, num_layers, learning_rate, dropout):
        with strategy.scope():
            return enhancement.build_and_compile(args.model, hidden_units=hidden_units, layers=num_layers,
                                                 dropout=dropout, opt=base["training"].get("optimizer", "adam"),
                                                 learning_rate=learning_rate)

    directory = os.path.join(args.data_dir, "experiments", args.exp)
    trials, best = tune(build_and_compile, train, validation, directory, args.model, args.tuner, args.max_trials,
                        args.epochs, args.seed, tuple(int(u) for u in args.units.split(",")), args.max_layers)
    output = args.output or os.path.join(directory, f"{args.model}_tuned.json")
    write_tuned_preset(base, best, output, f"avse tune {args.family} --tuner {args.tuner} --epochs {args.epochs} "
                                           f"on {os.path.join(args.data_dir, args.train_set)}")
    print(format_table([(f"trial {t['trial']}", {k: v for k, v in t.items() if k != "trial"}) for t in trials],
                       ["hidden_units", "num_layers", "learning_rate", "dropout", "val_loss"], precision=4,
                       label="trial"))
    print(f"best preset: {output}")
    return 0
