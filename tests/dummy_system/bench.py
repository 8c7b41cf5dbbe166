"""The dummy system's benchmark case (tools/bench iterates it like the papers' systems)."""

from avse_tf.training import benchmark


def synthetic_batch(model, batch, frames, rng):
    inputs = benchmark.sequence_inputs(model, batch, frames, rng)
    return inputs, {"gain": rng.uniform(size=(batch, frames, 16)).astype("float32")}, None


def compile_for_training(model):
    import keras

    model.compile(keras.optimizers.Adam(1e-3), loss={"gain": "mse"})
    return "mse, Adam", ()


def bench_cases():
    return (benchmark.BenchCase("tiny_gain", "tiny_gain_small", synthetic_batch, compile_for_training,
                                clip_frames=30, size_keys=("hidden_units",), quick_overrides={"hidden_units": 4}),)
