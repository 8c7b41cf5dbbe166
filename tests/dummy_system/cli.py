"""``avse tiny training``: the dummy system's one command, with --preset like every system's."""


from avse_tf.systems.presets import add_preset_argument

PRESET_FLAGS = {"hidden_units": "architecture.hidden_units", "learning_rate": "training.learning_rate",
                "batch_size": "training.batch_size", "epochs": "training.epochs"}


def register(subparsers):
    from dummy_system import SYSTEM

    group = subparsers.add_parser(SYSTEM.cli_group, help=SYSTEM.title)
    commands = group.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
    commands.required = True
    training = commands.add_parser("training", help="train tiny_gain on synthetic spectrograms")
    training.add_argument("--exp", required=True, help="experiment folder")
    training.add_argument("--model", default=None, choices=SYSTEM.models)
    add_preset_argument(training, SYSTEM.name)
    for flag, kind in (("--hidden_units", int), ("--learning_rate", float), ("--batch_size", int), ("--epochs", int)):
        training.add_argument(flag, type=kind, default=None)
    training.set_defaults(func=run_training)


def run_training(args):
    import tensorflow as tf

    from avse_tf.systems.presets import resolve_training_flags, save_resolved_config
    from avse_tf.training import fit, make_optimizer
    from dummy_system import SYSTEM
    from dummy_system.model import synthetic_data, tiny_gain

    config = resolve_training_flags(args, SYSTEM, PRESET_FLAGS, {})
    save_resolved_config(args.exp, config)
    model = tiny_gain(args.hidden_units)
    model.compile(make_optimizer("adam", args.learning_rate), loss={"gain": "mse"})

    def dataset(count, seed):
        features, gains = synthetic_data(count, seed=seed)
        return tf.data.Dataset.from_tensor_slices(({"spectrogram": features}, {"gain": gains})).batch(args.batch_size)

    summary = fit(model, dataset(32, 1), dataset(8, 2), args.epochs, args.exp, verbose=0)
    print(f"training: best validation loss {summary['best_val_loss']:.4f}; model {summary['best_model']}")
    return 0
