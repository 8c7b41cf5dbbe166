"""VCA-GAN model and training step (issue 18 items 1-2): the paper preset's structure and parameter
count (counted layer by layer below), a few GAN steps on reader batches, attention masking, safe-mode
save/load, and resume of both optimisers through the shared fit engine."""

import numpy as np
import pytest
import tensorflow as tf

from avse_tf.systems.presets import from_preset
from avse_tf.systems.vca_gan.generator import VisualContextAttention
from avse_tf.systems.vca_gan.pipeline import make_lip2speech_dataset, vca_gan_schema

WINDOW = 20  # video frames: the smallest window the mel discriminators take (T / 4 >= 5)


# -- parameter count of the paper preset, from the layer sizes (model card, "Model") ------------
def _conv(kernel, cin, cout, bias=True):
    return kernel * cin * cout + (cout if bias else 0)


def _bn(c):  # gamma, beta, moving mean, moving variance
    return 4 * c


def _frontend_params():
    total = _conv(5 * 7 * 7, 1, 64, bias=False) + _bn(64) + 64
    cin = 64
    for stage, c in enumerate((64, 128, 256, 512)):
        for index in range(2):
            stride = 2 if stage and not index else 1
            total += _conv(9, cin, c, False) + _bn(c) + c + _conv(9, c, c, False) + _bn(c) + c
            if stride != 1 or cin != c:
                total += _conv(1, cin, c, False) + _bn(c)
            cin = c
    for gru_input in (512, 1024):  # Keras GRU, reset_after: kernel, recurrent kernel, 2 biases; x 2 directions
        total += 2 * 3 * 512 * (gru_input + 512 + 2)
    return total + _conv(1, 1024, 512)


def _generator_params():
    def block(cin, cout):
        return _bn(cin) + _conv(25, cin, cout) + _bn(cout) + _conv(25, cout, cout) + (cin * cout if cin != cout else 0)

    total, cin = 0, 512 + 128
    for cout in (512, 256, 256, 128, 128, 128, 64, 64, 64, 32, 32, 32):
        total += block(cin, cout)
        cin = cout
    for rows, c in ((20, 128), (40, 64), (80, 32)):
        total += _bn(c) + _conv(1, c, 1)  # to_mel
    for rows, c in ((20, 128), (40, 64)):  # attention (query, key, value -> 256, out -> rows x c/2) + fuse
        total += _conv(1, rows * c, 256) + 2 * _conv(1, 512, 256) + _conv(1, 256, rows * c // 2)
        total += _conv(25, c + c // 2, c)
    return total


def _postnet_params():
    total = _conv(7, 80, 128) + _bn(128)
    for cin, cout in ((128, 256), (256, 256), (256, 256)):
        total += _conv(5, cin, cin) + _conv(5, cin, cout) + (cin * cout if cin != cout else 0)
    return total + _conv(1, 256, 321, False)


def _mel_discriminator_params(blocks):
    total, c = _conv(25, 1, 32), 32
    for _ in range(blocks):
        out = min(2 * c, 512)
        total += _conv(25, c, c) + _conv(25, c, out) + c * out
        c = out
    unconditional = _conv(25, c, c) + _conv(1, c, 1)
    conditional = _conv(25, c + 512, c) + _conv(25, c, c) + _conv(1, c, 1)
    return total + unconditional + conditional


def _sync_discriminator_params():
    total = _conv(9, 1, 128) + _bn(128) + 128 + _conv(9, 128, 256) + _bn(256) + 256
    total += 2 * (_conv(9, 256, 256, False) + _bn(256))
    return total + _conv(1, 20 * 256, 512)


def test_paper_preset_structure_shapes_and_parameter_count():
    model = from_preset("vca_gan_grid")
    assert model.frontend.count_params() == _frontend_params() == 19_597_696
    assert model.generator.count_params() == _generator_params() == 30_485_731
    assert model.postnet.count_params() == _postnet_params() == 1_745_152
    for discriminator, blocks in zip(model.mel_discriminators, (2, 3, 4)):
        assert discriminator.count_params() == _mel_discriminator_params(blocks)
    assert model.sync_discriminator.count_params() == _sync_discriminator_params()
    assert model.count_params() == 101_965_705
    stem = model.frontend.get_layer("stem_conv")
    assert tuple(stem.kernel.shape) == (7, 7, 5, 64) and stem.strides == (2, 2)
    assert model.frontend.get_layer("context_bigru2").forward_layer.cell.reset_after
    video = tf.zeros([1, 40, 112, 112, 1])
    outputs = model({"video": video, "video_length": tf.constant([40])})
    shapes = {name: tuple(value.shape) for name, value in outputs.items()}
    assert shapes == {"mel_20": (1, 40, 20), "mel_40": (1, 80, 40), "mel": (1, 160, 80), "linear": (1, 160, 321)}


# -- reader batches -------------------------------------------------------------------------
def _records(folder, clips=2, frames=WINDOW):
    from avse_tf.records import write_records

    rng = np.random.default_rng(0)
    t = np.arange(4 * frames, dtype=np.float32)[:, None]
    examples = []
    for index in range(clips):
        mel = np.tanh(0.5 * np.sin(0.1 * t * (index + 1) + np.arange(80) / 9)).astype(np.float32)
        linear = np.exp(np.sin(0.05 * t + np.arange(321) / 40)).astype(np.float32)
        mouths = rng.integers(0, 256, (frames, 112, 112), dtype=np.uint8)
        examples.append({"clip": f"c{index}", "source": "x.mp4", "start_frame": 0, "video_frames": frames,
                         "valid_frames": frames, "crop_size": 112, "mouths": mouths.tobytes(), "mel": mel,
                         "linear": linear, "sequence_length": 4 * frames, "num_samples": 0})
    return write_records(str(folder), "records", vca_gan_schema(frames), examples)


def _batches(records, repeat=True):
    dataset = make_lip2speech_dataset(records, batch_size=2, window_frames=WINDOW).take(1).cache()
    return dataset.repeat() if repeat else dataset


def _cpu_model():
    import keras

    keras.utils.set_random_seed(3)
    return from_preset("vca_gan_cpu")


def test_cpu_gan_steps_train_both_sides_and_overfit_one_batch(tmp_path):
    from avse_tf.systems.vca_gan.model import make_optimizers

    model = _cpu_model()
    model.compile(*make_optimizers(learning_rate=1e-3))  # 10 x the paper's rate: a visible fall in 16 steps
    data = _batches(_records(tmp_path / "records"))
    generator_before = [v.numpy().copy() for v in model.generator_variables]
    discriminator_before = [v.numpy().copy() for v in model.discriminator_variables]
    history = model.fit(data, epochs=1, steps_per_epoch=1, verbose=0).history
    first = history["loss"][0]
    history = model.fit(data, epochs=3, steps_per_epoch=5, verbose=0).history
    for name, values in history.items():
        assert np.all(np.isfinite(values)), name
    changed = lambda before, variables: sum(not np.array_equal(b, v.numpy()) for b, v in zip(before, variables))
    assert changed(generator_before, model.generator_variables) > 0.9 * len(generator_before)
    assert changed(discriminator_before, model.discriminator_variables) > 0.9 * len(discriminator_before)
    assert int(model.generator_optimizer.iterations) == int(model.discriminator_optimizer.iterations) == 16
    # Overfitting one repeated batch: the reconstruction L1 falls well below its first-step value.
    assert history["loss"][-1] < 0.8 * first, (first, history["loss"])


def test_attention_ignores_padded_frames():
    layer = VisualContextAttention(16)
    features = tf.random.normal([2, 6, 4, 8])
    context = tf.random.normal([2, 5, 12])
    lengths = tf.constant([3, 5])
    altered = tf.concat([context[:, :3], 100 * tf.random.normal([2, 2, 12])], axis=1)
    out, out_altered = layer([features, context, lengths]), layer([features, altered, lengths])
    np.testing.assert_allclose(out[0], out_altered[0], atol=1e-5)  # clip 0: frames 3, 4 are padding
    assert not np.allclose(out[1], out_altered[1], atol=1e-3)  # clip 1: they are real


def test_outputs_of_valid_frames_do_not_depend_on_padding_and_survive_safe_mode_reload(tmp_path):
    import keras

    model = _cpu_model()
    rng = np.random.default_rng(1)
    video = rng.standard_normal((1, WINDOW, 112, 112, 1)).astype(np.float32)
    other = video.copy()
    other[:, 12:] = rng.standard_normal(other[:, 12:].shape)
    lengths = tf.constant([12])
    first = model({"video": video, "video_length": lengths})
    second = model({"video": other, "video_length": lengths})
    for name, frames_per_video_frame in (("mel_20", 1), ("mel_40", 2), ("mel", 4), ("linear", 4)):
        np.testing.assert_array_equal(first[name], second[name])  # padded frames are zeroed at the input
    path = str(tmp_path / "vca_gan.keras")
    model.save(path)
    reloaded = keras.models.load_model(path, safe_mode=True, compile=False)
    again = reloaded({"video": video, "video_length": lengths})
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])


@pytest.mark.slow
def test_resume_through_the_fit_engine_restores_both_optimisers(tmp_path):
    import keras

    from avse_tf.training import fit

    records = _records(tmp_path / "records")
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    exp_dir = str(tmp_path / "exp")
    snapshot = {}

    def state(model):
        return {name: (int(optimizer.iterations.numpy()), [np.array(v.numpy()) for v in optimizer.variables])
                for name, optimizer in (("g", model.generator_optimizer), ("d", model.discriminator_optimizer))}

    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshot.update(state(self.model))

        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt("killed")  # after the backup of epoch 0 was written

    class Restored(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            snapshot.setdefault("restored", (epoch, state(self.model)))

    def run(callback):
        with strategy.scope():
            model = _cpu_model()
            model.compile()
        return fit(model, _batches(records), _batches(records, repeat=False), 2, exp_dir, steps_per_epoch=2,
                   verbose=0, extra_callbacks=[callback])

    with pytest.raises(KeyboardInterrupt):
        run(StopAfterFirstEpoch())
    summary = run(Restored())
    epoch, restored = snapshot["restored"]
    assert epoch == 1 and summary["epochs_run_this_call"] == 1
    for name in ("g", "d"):
        assert restored[name][0] == snapshot[name][0] == 2
        assert len(restored[name][1]) == len(snapshot[name][1]) > 2
        for before, after in zip(snapshot[name][1], restored[name][1]):
            np.testing.assert_array_equal(before, after)
    assert np.isfinite(summary["best_val_loss"])


def test_de_emphasis_inverts_pre_emphasis_like_scipy():
    from scipy import signal

    from avse_tf.audio.features import de_emphasis, pre_emphasis

    waveform = np.random.default_rng(2).standard_normal((2, 400)).astype(np.float32)
    restored = de_emphasis(pre_emphasis(waveform, 0.97), 0.97).numpy()
    np.testing.assert_allclose(restored, waveform, atol=1e-4)
    np.testing.assert_allclose(de_emphasis(waveform[0]).numpy(), signal.lfilter([1], [1, -0.97], waveform[0]), atol=1e-4)
