"""The dummy system's model: a sigmoid gain per bin and frame from a 16-bin log spectrogram."""

import os

import keras
import numpy as np

BINS = 16


def tiny_gain(hidden_units=8, name="tiny_gain"):
    spectrogram = keras.Input((None, BINS), name="spectrogram")
    hidden = keras.layers.Dense(hidden_units, activation="relu", name="hidden")(spectrogram)
    gain = keras.layers.Dense(BINS, activation="sigmoid", name="gain")(hidden)
    return keras.Model({"spectrogram": spectrogram}, {"gain": gain}, name=name)


MODEL_BUILDERS = {"tiny_gain": tiny_gain}


def synthetic_data(examples, frames=20, seed=0):
    """Noisy log spectrograms and the ideal gain (clean / noisy power), from a seeded generator."""
    rng = np.random.default_rng(seed)
    clean = rng.uniform(0.0, 1.0, (examples, frames, BINS)) * (rng.uniform(size=(examples, 1, BINS)) > 0.5)
    noise = rng.uniform(0.05, 0.3, (examples, frames, BINS))
    noisy = clean + noise
    return np.log(noisy).astype(np.float32), (clean / noisy).astype(np.float32)


class TinyGain:
    """What avse_tf.load returns for this system."""

    system = "dummy_system"

    def __init__(self, keras_model, source):
        self.keras_model = keras_model
        self.source = source
        self.model_id = keras_model.name

    @classmethod
    def from_path(cls, path):
        from avse_tf.training.checkpoints import load_model

        path = os.fspath(path)
        if os.path.isdir(path) and os.path.isfile(os.path.join(path, "model.keras")):
            path = os.path.join(path, "model.keras")
        return cls(load_model(path, compile=False), path)

    def gain(self, log_spectrogram):
        batch = {"spectrogram": np.asarray(log_spectrogram, np.float32)[None]}
        return self.keras_model.predict_on_batch(batch)["gain"][0]
