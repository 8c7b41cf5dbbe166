"""The pseudo-visual denoiser's network (issue 20): the paper-size model against the original's layer
list (``models.py`` ``Model``), its time axes, and the mask added to the noisy input."""

import numpy as np


def _conv1d(cin, cout, kernel=3, batch_norm=True):
    """Parameters of one of the original's Conv1d blocks as Keras counts them (weights, bias, BN's
    scale, offset, moving mean and variance)."""
    return kernel * cin * cout + cout + (4 * cout if batch_norm else 0)


def _conv2d(cin, cout, kernel=3):
    return kernel * kernel * cin * cout + cout + 4 * cout


def test_paper_denoiser_has_the_original_layers_and_feature_maps():
    import avse_tf

    model = avse_tf.from_preset("pseudo_visual_denoiser_lrs3")
    lip_encoder = model.get_layer("lip_frames").layer
    sizes = [tuple(lip_encoder.get_layer(f"lip_encoder_s{index}_relu").output.shape[1:3]) for index in range(5)]
    assert sizes == [(48, 48), (24, 24), (12, 12), (6, 6), (3, 3)]  # the original's comments
    assert lip_encoder.output_shape == (None, 512)
    audio = [_conv1d(514, 600)] + [_conv1d(600, 600)] * 6
    face = [_conv2d(3, 32, 5), _conv2d(32, 32), _conv2d(32, 64), _conv2d(64, 64), _conv2d(64, 128),
            _conv2d(128, 128), _conv2d(128, 256), _conv2d(256, 256), _conv2d(256, 512), _conv2d(512, 512),
            _conv2d(512, 512), _conv2d(512, 512, 1)]
    time_upsampler = [_conv1d(512, 512)] * 2
    decoder = [_conv1d(1112, 1024)] + [_conv1d(1024, 1024)] * 14 + [_conv1d(1024, 514, 1, batch_norm=False)]
    assert model.count_params() == sum(audio + face + time_upsampler + decoder) == 64_412_346
    assert avse_tf.from_preset("pseudo_visual_denoiser_cpu").count_params() < model.count_params() / 10


def test_any_length_four_stft_frames_per_lip_frame_and_the_mask_is_added_to_the_input():
    import keras

    import avse_tf

    keras.utils.set_random_seed(0)
    model = avse_tf.from_preset("pseudo_visual_denoiser_cpu")
    rng = np.random.default_rng(0)
    for seconds in (1, 3):  # the original's 1 s window and a longer one
        stft = rng.uniform(0, 1, (2, 100 * seconds, 514)).astype(np.float32)
        lips = rng.uniform(0, 1, (2, 25 * seconds, 48, 96, 3)).astype(np.float32)
        out = np.asarray(model({"stft": stft, "lips": lips}))
        assert out.shape == stft.shape and np.all((out >= 0) & (out <= 1))
    # sigmoid(decoder + input): with the decoder's last layer zeroed the output is sigmoid(input).
    last = model.get_layer("decoder_out")
    last.set_weights([np.zeros_like(weight) for weight in last.get_weights()])
    out = np.asarray(model({"stft": stft, "lips": lips}))
    np.testing.assert_allclose(out, 1 / (1 + np.exp(-stft)), atol=1e-6)
