"""Hyper-parameter search with keras-tuner over record sets, for any system that declares a tuning job.

The search space is the one the papers leave open: LSTM units, BLSTM layers, learning rate and
dropout (each system says which of them its models have). Hyperband or Bayesian optimisation minimise the validation loss; trials live in
``<directory>/`` (keras-tuner's JSON trial files and weights, resumed when the same command runs
again). The best trial becomes a preset (the base preset with the tuned values and a provenance
note) that ``from_preset`` / ``--preset`` read like the paper presets.
"""

from __future__ import annotations

import json
import os

from avse_tf.errors import UserInputError
from avse_tf.utils import atomic_write_text

TUNERS = ("hyperband", "bayesian", "random")


SEARCHED = ("hidden_units", "num_layers", "learning_rate", "dropout")


def search_space(hp, units=(32, 64, 128, 250), max_layers=5, keys=SEARCHED):
    space = {
        "hidden_units": lambda: hp.Choice("hidden_units", list(units)),
        "num_layers": lambda: hp.Int("num_layers", 1, int(max_layers)),
        "learning_rate": lambda: hp.Float("learning_rate", 1e-4, 1e-2, sampling="log"),
        "dropout": lambda: hp.Float("dropout", 0.0, 0.5, step=0.1),
    }
    return {key: space[key]() for key in keys}


def tune(build_and_compile, train_dataset, validation_dataset, directory, project_name, tuner="hyperband",
         max_trials=10, epochs=10, seed=None, units=(32, 64, 128, 250), max_layers=5, verbose=0, keys=SEARCHED):
    """Run the search; returns ``(trials, best_values)``.

    ``build_and_compile(**values)`` returns a compiled model for the searched ``keys`` (of
    :data:`SEARCHED`). ``trials``: one dict per finished trial (its values and best validation loss), best first.
    """
    import keras_tuner

    if tuner not in TUNERS:
        raise UserInputError(f"unknown tuner {tuner!r}; choose {', '.join(TUNERS)}")

    def build(hp):
        return build_and_compile(**search_space(hp, units, max_layers, keys))

    common = dict(objective="val_loss", directory=directory, project_name=project_name, seed=seed,
                  overwrite=False)
    if tuner == "hyperband":
        search = keras_tuner.Hyperband(build, max_epochs=int(epochs), factor=3, **common)
    elif tuner == "bayesian":
        search = keras_tuner.BayesianOptimization(build, max_trials=int(max_trials), **common)
    else:
        search = keras_tuner.RandomSearch(build, max_trials=int(max_trials), **common)
    search_kwargs = {} if tuner == "hyperband" else {"epochs": int(epochs)}
    search.search(train_dataset, validation_data=validation_dataset, verbose=verbose, **search_kwargs)
    trials = []
    for trial in search.oracle.get_best_trials(num_trials=10 ** 6):
        if trial.score is None:
            continue
        trials.append({"trial": trial.trial_id, **trial.hyperparameters.values, "val_loss": float(trial.score)})
    if not trials:
        raise UserInputError(f"no trial finished in {os.path.join(directory, project_name)}")
    best = {key: trials[0][key] for key in keys}
    return trials, best


def write_tuned_preset(base_preset, best, path, description) -> dict:
    """The base preset with the tuned values, as a JSON preset file (atomically)."""
    preset = dict(base_preset)
    preset["name"] = os.path.splitext(os.path.basename(path))[0]
    architecture = {key: (float(best[key]) if key == "dropout" else int(best[key]))
                    for key in ("hidden_units", "num_layers", "dropout") if key in best}
    preset["architecture"] = {**base_preset["architecture"], **architecture}
    preset["training"] = {**base_preset["training"], **({"learning_rate": float(best["learning_rate"])}
                                                        if "learning_rate" in best else {})}
    preset["provenance"] = {**base_preset.get("provenance", {}), "tuned": description}
    atomic_write_text(path, json.dumps(preset, indent=2) + "\n")
    return preset
