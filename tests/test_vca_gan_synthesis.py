"""VCA-GAN inference: mel-cepstral distortion, synthesis from a video (wav + mp4), the SavedModel
export against the Python path, and the typed errors. The CPU preset is untrained: these check
shapes, lengths, files and round trips, not speech quality."""

import os

import numpy as np
import pytest

from avse_tf.constants import SAMPLE_RATE


def speech_like(seconds=1.0, seed=0):
    """Harmonics with a slow amplitude envelope plus a little noise (a voiced-speech stand-in)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    pitch = 120 + 20 * np.sin(2 * np.pi * 1.5 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 20))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    return (0.3 * envelope * voiced + 0.01 * rng.standard_normal(t.size)).astype(np.float64)


def reference_mcd(reference, estimate, rate=SAMPLE_RATE):
    """MCD written out frame by frame with librosa's HTK filterbank and scipy's DCT."""
    import librosa
    from scipy.fft import dct

    filters = librosa.filters.mel(sr=rate, n_fft=512, n_mels=40, fmin=0.0, fmax=rate / 2, htk=True, norm=None)
    window = np.hanning(401)[:400]  # periodic Hann of 400 samples
    distances = []
    for start in range(0, len(reference) - 400 + 1, 160):
        cepstra = []
        for signal in (reference, estimate):
            spectrum = np.abs(np.fft.rfft(signal[start:start + 400] * window, 512))
            cepstra.append(dct(np.log(np.maximum(filters @ spectrum, 1e-8)), type=2, norm="ortho")[1:25])
        distances.append(10 / np.log(10) * np.sqrt(2 * np.sum((cepstra[0] - cepstra[1]) ** 2)))
    return float(np.mean(distances))


def test_mcd_zero_for_identical_grows_with_noise_and_matches_a_direct_computation():
    from avse_tf.errors import MetricInputError
    from avse_tf.metrics import mcd

    clean = speech_like()
    rng = np.random.default_rng(1)
    slightly, very = (clean + level * rng.standard_normal(clean.size) for level in (0.01, 0.1))
    assert mcd(clean, clean) == 0.0
    assert 0.0 < mcd(clean, slightly) < mcd(clean, very)
    assert mcd(clean, very) == pytest.approx(reference_mcd(clean, very), rel=1e-6)
    assert mcd(clean, 3.0 * clean) == pytest.approx(0.0, abs=1e-9)  # gain lives in c0, left out
    with pytest.raises(MetricInputError, match="NaN"):
        mcd(clean, np.where(np.arange(clean.size) == 5, np.nan, clean))
    with pytest.raises(MetricInputError, match="silent"):
        mcd(clean, np.zeros_like(clean))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    import keras

    from avse_tf.systems.presets import from_preset

    keras.utils.set_random_seed(0)
    path = str(tmp_path_factory.mktemp("vca_ckpt") / "vca_gan_cpu.keras")
    from_preset("vca_gan_cpu").save(path)
    return path


@pytest.fixture(scope="module")
def videos(small_corpus, tmp_path_factory):
    """A 1.2 s clip of one synthetic speaker at 30 fps (read back at 25: 30 frames), silent, and a
    faceless one."""
    from avse_tf.video.io import read_video, write_video

    root, _ = small_corpus
    folder = os.path.join(root, "s1", "video")
    frames, _ = read_video(os.path.join(folder, sorted(os.listdir(folder))[0]))
    out = tmp_path_factory.mktemp("vca_videos")
    at_30 = np.floor(np.arange(36) * 25 / 30).astype(int)
    write_video(out / "speaker_30fps.mp4", frames[at_30], 30)
    noise = np.random.default_rng(0).integers(0, 255, (10, 64, 64, 3), dtype=np.uint8)
    write_video(out / "faceless.mp4", noise, 25)
    return {"speaker": str(out / "speaker_30fps.mp4"), "faceless": str(out / "faceless.mp4")}


@pytest.fixture(scope="module")
def synthesized(checkpoint, videos, tmp_path_factory):
    from avse_tf.systems.vca_gan.predict import synthesize_file

    out = tmp_path_factory.mktemp("vca_out")
    written = synthesize_file(checkpoint, videos["speaker"], str(out / "speech.wav"), str(out / "speech.mp4"))
    return written


@pytest.mark.media
def test_synthesize_file_writes_the_speech_and_the_video_with_it(synthesized):
    from avse_tf.audio.io import load_audio
    from avse_tf.media import audio_sample_count, media_info
    from avse_tf.video.io import read_video

    assert synthesized["num_frames"] == 30 and synthesized["source_fps"] == 30
    waveform = load_audio(synthesized["wav"], None)
    assert waveform.size == 640 * 30 and synthesized["seconds"] == pytest.approx(1.2)
    assert np.all(np.isfinite(waveform)) and 0.85 < np.max(np.abs(waveform)) <= 0.91
    frames, fps = read_video(synthesized["mp4"])
    assert len(frames) == 30 and fps == 25
    info = media_info(synthesized["mp4"])
    assert info.has_audio and info.has_video
    samples, rate = audio_sample_count(synthesized["mp4"])
    assert samples / rate == pytest.approx(1.2, abs=0.03)  # AAC frames round the track's end


@pytest.mark.media
def test_load_gives_the_task_and_bad_inputs_are_typed_one_line_errors(checkpoint, videos, tmp_path):
    import avse_tf
    from avse_tf.errors import NoFaceError, UserInputError, VideoReadError
    from avse_tf.systems.vca_gan.predict import LipToSpeech, synthesize_file

    model = avse_tf.load(checkpoint)
    assert isinstance(model, LipToSpeech) and model.system == "vca_gan"
    with pytest.raises(VideoReadError, match="not found") as missing:
        model.synthesize(str(tmp_path / "nowhere.mp4"))
    assert "\n" not in str(missing.value)
    with pytest.raises(NoFaceError) as faceless:
        synthesize_file(model.keras_model, videos["faceless"], str(tmp_path / "x.wav"))
    assert "\n" not in str(faceless.value) and not os.path.exists(tmp_path / "x.wav")
    with pytest.raises(UserInputError, match="mp4"):
        synthesize_file(model.keras_model, videos["speaker"], str(tmp_path / "x.wav"), str(tmp_path / "x.avi"))


@pytest.mark.media
@pytest.mark.slow
def test_savedmodel_export_gives_synthesize_waveform(checkpoint, videos, tmp_path):
    import tensorflow as tf

    import avse_tf
    from avse_tf.export.exporter import export_model
    from avse_tf.systems.vca_gan.predict import synthesize

    waveform, info = synthesize(checkpoint, videos["speaker"])
    lips = info["lips"]
    assert lips.shape == (30, 112, 112) and lips.dtype == np.uint8
    folder = export_model(checkpoint, "savedmodel", str(tmp_path / "export"))
    serving = tf.saved_model.load(folder).signatures["serving_default"]
    outputs = serving(video=tf.constant(lips[None]), video_length=tf.constant([30], tf.int32))
    exported = outputs["waveform"].numpy()[0]
    assert exported.shape == (640 * 30,) and outputs["linear"].shape == (1, 120, 321)
    # Griffin-Lim amplifies float rounding differences between the eager and graph generator.
    assert np.max(np.abs(exported - waveform)) < 0.05
    assert np.corrcoef(exported, waveform)[0, 1] > 0.999
    shorter = serving(video=tf.constant(lips[None]), video_length=tf.constant([20], tf.int32))["waveform"]
    assert shorter.shape == (1, 640 * 20)
    loaded = avse_tf.load(str(tmp_path / "export"))  # the stamped SavedModel through the task class
    assert np.max(np.abs(loaded.lips_to_waveform(lips) - exported)) < 1e-5
    with pytest.raises(avse_tf.errors.UserInputError, match="tflite"):
        export_model(checkpoint, "tflite", str(tmp_path / "lite"))
