"""``avse_tf.training.fit`` on a finished folder: the same command returns the finished run; asking
for more epochs says, in one line, that nothing more is trained and how to train longer."""

import csv
import os

import numpy as np


def _model_and_data():
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, x.sum(axis=1, keepdims=True))).batch(4)
    return model, data


def _epochs_in_history(exp_dir):
    with open(os.path.join(exp_dir, "history.csv"), encoding="utf-8") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def test_a_finished_folder_asked_for_more_epochs_says_so_and_trains_nothing(tmp_path, capsys):
    from avse_tf.training.fit import fit

    exp_dir = str(tmp_path / "run")
    model, data = _model_and_data()
    first = fit(model, data, data, epochs=2, exp_dir=exp_dir, verbose=0)
    assert first["epochs_requested"] == 2 and _epochs_in_history(exp_dir) == [0, 1]
    capsys.readouterr()

    assert fit(model, data, data, epochs=2, exp_dir=exp_dir, verbose=0) == first  # the same command: quiet
    assert capsys.readouterr().err == ""

    assert fit(model, data, data, epochs=5, exp_dir=exp_dir, verbose=0) == first
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and exp_dir in error[0] and "2 epochs" in error[0] and "last.keras" in error[0]
    assert _epochs_in_history(exp_dir) == [0, 1]  # nothing more was trained
