"""Audio I/O, the papers' STFT settings, and spectral features."""

import os

import numpy as np
import pytest
import soundfile

from avse_tf.audio import features, stft
from avse_tf.audio.io import load_audio, write_audio
from avse_tf.errors import AudioReadError


def _tone(seconds=1.0, rate=44100, frequency=440.0):
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


@pytest.mark.parametrize("extension,subtype", [("wav", "PCM_16"), ("flac", "PCM_24"), ("ogg", "VORBIS"), ("mp3", "MPEG_LAYER_III")])
def test_load_any_format_rate_and_channels_as_mono_16k(tmp_path, extension, subtype):
    tone = _tone()
    path = tmp_path / f"tone.{extension}"
    soundfile.write(str(path), np.stack([tone, tone], axis=1), 44100, subtype=subtype)
    audio = load_audio(path, 16000)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(audio.size - 16000) <= 1200  # mp3/ogg encoders add a little padding
    spectrum = np.abs(np.fft.rfft(audio[2000:14000]))
    assert abs(np.argmax(spectrum) * 16000 / 12000 - 440) < 3


@pytest.mark.media
def test_video_sound_track(small_corpus):
    root, description = small_corpus
    speaker = description["speakers"][0]
    utterance_id = speaker["utterances"][0]
    from_video = load_audio(os.path.join(root, speaker["name"], "video", f"{utterance_id}.mpg"))
    from_wav = load_audio(os.path.join(root, speaker["name"], "audio", f"{utterance_id}.wav"))
    assert abs(from_video.size - from_wav.size) < 1152  # MP2 codes whole 1152-sample frames
    # MP2's encoder delay (481 samples at 16 kHz) is stored as an earlier audio start in the program
    # stream; load_audio aligns sample 0 with the first frame, so the sound track is in sync (lag 0)
    # and, MP2 being lossy, almost equal to the wav.
    length = min(from_wav.size, from_video.size) - 1200
    correlation = [np.dot(from_video[lag:lag + length], from_wav[:length])
                   / np.linalg.norm(from_video[lag:lag + length]) / np.linalg.norm(from_wav[:length])
                   for lag in range(0, 1152, 1)]
    assert int(np.argmax(correlation)) == 0 and max(correlation) > 0.99


def test_write_audio_round_trip(tmp_path):
    tone = _tone(rate=16000)
    write_audio(tmp_path / "x.wav", tone, 16000)
    assert np.abs(load_audio(tmp_path / "x.wav") - tone).max() < 1e-4
    assert [name for name in os.listdir(tmp_path)] == ["x.wav"]  # no temporary left behind


def test_bad_audio_files_raise_one_clear_error(tmp_path):
    write_audio(tmp_path / "good.wav", _tone(rate=16000), 16000)
    data = (tmp_path / "good.wav").read_bytes()
    (tmp_path / "truncated.wav").write_bytes(data[: len(data) // 3])
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "garbage.wav").write_bytes(b"not audio at all" * 100)
    for name, words in (("truncated.wav", "truncated"), ("empty.wav", "empty"), ("garbage.wav", "cannot read"),
                        ("missing.wav", "not found")):
        with pytest.raises(AudioReadError) as error:
            load_audio(tmp_path / name)
        assert words in str(error.value) and name in str(error.value)
        assert "\n" not in str(error.value)


@pytest.mark.parametrize("config,frames", [("morrone2019", 302), ("morrone2021", 250)])
def test_frame_counts_match_the_fact_sheets(config, frames):
    waveform = np.random.default_rng(0).normal(size=48000).astype(np.float32)
    spectrogram = stft.stft(waveform, config)
    assert tuple(spectrogram.shape) == (frames, 257)
    assert stft.get_config(config).num_frames(48000) == frames


@pytest.mark.parametrize("config", ["morrone2019", "morrone2021", "hegde2021"])
def test_stft_istft_round_trip(config):
    settings = stft.get_config(config)
    waveform = (0.3 * np.random.default_rng(1).normal(size=(2, 48000))).astype(np.float32)
    rebuilt = stft.istft(stft.stft(waveform, settings), settings, num_samples=48000).numpy()
    start = settings.reliable_samples()
    assert start < settings.frame_step  # only the first window's near-zero start is lost (2021 framing)
    assert np.abs(rebuilt[:, start:] - waveform[:, start:]).max() < 1e-4


def test_magnitude_phase_recombine():
    waveform = np.random.default_rng(2).normal(size=16000).astype(np.float32)
    spectrogram = stft.stft(waveform)
    magnitude, phase = stft.magnitude_phase(spectrogram)
    assert np.allclose(stft.from_magnitude_phase(magnitude, phase).numpy(), spectrogram.numpy(), atol=1e-4)


def test_power_law_and_log_inverses():
    magnitude = np.abs(np.random.default_rng(3).normal(size=(10, 257))).astype(np.float32)
    assert np.allclose(features.inverse_power_law(features.power_law(magnitude)), magnitude, rtol=1e-4, atol=1e-6)
    assert np.allclose(features.power_law(np.float32(8.0)), 8.0 ** 0.3)
    assert np.allclose(features.inverse_log_magnitude(features.log_magnitude(magnitude)), magnitude, atol=1e-4)


def test_mel_filterbank_matches_librosa():
    import librosa

    ours = features.mel_filterbank(16000, 800, 80, 55.0, 7600.0, htk=False, slaney_norm=True)
    reference = librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600).T
    assert np.allclose(ours, reference, atol=1e-6)
    ours_htk = features.mel_filterbank(16000, 512, 40, 300.0, 3700.0, htk=True, slaney_norm=False)
    reference_htk = librosa.filters.mel(sr=16000, n_fft=512, n_mels=40, fmin=300, fmax=3700, htk=True, norm=None).T
    assert np.allclose(ours_htk, reference_htk, atol=1e-6)


def test_mfcc_htk_against_a_direct_numpy_computation():
    from scipy.fft import dct

    rate = 16000
    waveform = np.random.default_rng(4).normal(size=rate).astype(np.float32) * 0.1
    ours = features.mfcc_htk(waveform, rate).numpy()
    assert ours.shape == (100, 13)  # 100 frames per second
    emphasised = np.append(waveform[0], waveform[1:] - 0.97 * waveform[:-1])
    padded = np.pad(emphasised, (0, 400))
    frames = np.stack([padded[i * 160: i * 160 + 400] for i in range(100)]) * np.hamming(400)
    power = np.abs(np.fft.rfft(frames, 512)) ** 2 / 512
    filters = features.mel_filterbank(rate, 512, 40, 300.0, 3700.0, True, False)
    cepstra = dct(np.log(power @ filters), type=2, norm="ortho", axis=1)[:, :13]
    cepstra *= 1 + 11 * np.sin(np.pi * np.arange(13) / 22)
    assert np.allclose(ours, cepstra, rtol=1e-3, atol=1e-2)


def test_griffin_lim_converges():
    t = np.arange(32000) / 16000
    waveform = (0.4 * np.sin(2 * np.pi * (200 + 100 * t) * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    magnitude = np.abs(stft.stft(waveform, "morrone2021").numpy())

    def spectral_error(iterations):
        rebuilt = features.griffin_lim(magnitude, "morrone2021", 32000, iterations=iterations)
        estimate = np.abs(stft.stft(rebuilt, "morrone2021").numpy())
        return np.linalg.norm(estimate - magnitude) / np.linalg.norm(magnitude)

    few, many = spectral_error(2), spectral_error(40)
    assert many < few and many < 0.15
