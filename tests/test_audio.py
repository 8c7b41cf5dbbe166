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


@pytest.fixture(scope="module")
def speech():
    """Real (synthetic) speech: espeak-ng at its native 22050 Hz, as the synthetic corpus makes it."""
    from avse_tf.data.synth.speech import EspeakSynthesizer

    synthesizer = EspeakSynthesizer()
    utterance = synthesizer.synthesize("bin blue at f two now", voice="en-us+f2", rate=130)
    return utterance.waveform.astype(np.float32), utterance.sample_rate


@pytest.fixture(scope="module")
def speech16(speech):
    from avse_tf.audio.io import resample

    return resample(speech[0], speech[1], 16000)[:24000]  # 1.5 s


def _librosa_stft(waveform, config):
    """librosa's STFT framed as :func:`stft.stft` frames: our frame t holds samples
    ``[t*hop, t*hop + win)`` zero-padded at the end to the FFT size, librosa's ``center=False`` frame
    centres the window in the FFT buffer, so it gets ``(fft - win) // 2`` more zeros in front; the
    phase is moved back by that many samples."""
    import librosa

    offset = (config.fft_length - config.frame_length) // 2
    padded = np.pad(waveform, (config.pad_start + offset, config.fft_length))
    spectrum = librosa.stft(padded, n_fft=config.fft_length, hop_length=config.frame_step,
                            win_length=config.frame_length, window="hann", center=False).T
    shift = np.exp(2j * np.pi * np.arange(config.num_bins) * offset / config.fft_length)
    return spectrum[: config.num_frames(waveform.size)] * shift


@pytest.mark.parametrize("config", ["morrone2019", "morrone2021"])
def test_stft_matches_librosa(speech16, config):
    settings = stft.get_config(config)
    waveform = speech16
    ours = stft.stft(waveform, settings).numpy()
    reference = _librosa_stft(waveform, settings)
    assert ours.shape == reference.shape == (settings.num_frames(24000), 257)
    assert np.abs(ours - reference).max() < 1e-6 * np.abs(reference).max()  # float32 vs float64 FFT


def test_log_mel_matches_librosa(speech16):
    """The inpainting recogniser's log-mel (80 Slaney bands, 125-7600 Hz, 2021 STFT magnitude)."""
    import librosa

    settings = stft.get_config("morrone2021")
    waveform = speech16
    ours = np.log(features.mel_spectrogram(np.abs(stft.stft(waveform, settings)), 16000, 80, 125.0, 7600.0) + 1e-6)
    magnitude = np.abs(_librosa_stft(waveform, settings)).T
    reference = np.log(librosa.feature.melspectrogram(S=magnitude, sr=16000, n_mels=80, fmin=125, fmax=7600).T + 1e-6)
    # Bands within 60 dB of the loudest agree to 1e-4 in log (0.001 dB); fainter ones carry more of
    # float32's rounding.
    loud = reference > reference.max() - np.log(1e3)
    assert loud.mean() > 0.3
    assert np.abs(ours - reference)[loud].max() < 1e-4
    assert np.abs(ours - reference).max() < 1e-3


def test_mfcc_htk_matches_librosa(speech16):
    """``mfcc_htk`` against librosa's pieces set to python_speech_features' conventions (symmetric
    Hamming, pre-emphasis without librosa's extrapolated first sample, HTK filters unnormalised,
    power / NFFT, natural log). The lifter is checked on its own: librosa weights c_k by
    ``sin(pi (k + 1) / L)`` where HTK and python_speech_features use ``sin(pi k / L)``."""
    import librosa

    rate = 16000
    waveform = speech16[:rate]
    ours = features.mfcc_htk(waveform, rate, lifter=0).numpy()
    assert ours.shape == (100, 13)  # 100 frames per second, the last ones zero-padded
    emphasised = librosa.effects.preemphasis(waveform.astype(np.float64), coef=0.97, zi=[0.0])
    padded = np.pad(emphasised, (56, 512))  # a 400-sample window centred in 512: 56 zeros in front
    power = librosa.feature.melspectrogram(
        y=padded, sr=rate, n_fft=512, hop_length=160, win_length=400, window=np.hamming(400), center=False,
        power=2.0, n_mels=40, fmin=300, fmax=3700, htk=True, norm=None)[:, :100] / 512
    reference = librosa.feature.mfcc(S=np.log(power), n_mfcc=13, dct_type=2, norm="ortho", lifter=0).T
    # 2e-7 measured; a periodic Hamming window instead of the symmetric one would be 2e-3 off.
    assert np.abs(ours - reference).max() < 1e-5 * np.abs(reference).max()
    lifted = features.mfcc_htk(waveform, rate).numpy()
    np.testing.assert_allclose(lifted, ours * (1 + 11 * np.sin(np.pi * np.arange(13) / 22)), rtol=1e-6)


@pytest.mark.parametrize("source,target", [(22050, 16000), (44100, 16000), (16000, 8000), (13760, 16000)])
def test_resample_is_librosas_default_resampler(speech, source, target):
    """(22050 -> 16000: synthetic corpus; 44.1 kHz files; PESQ narrow band; speed perturbation 0.86.)"""
    import librosa

    from avse_tf.audio.io import resample

    waveform = speech[0] if source == speech[1] else librosa.resample(speech[0], orig_sr=speech[1], target_sr=source)
    ours = resample(waveform, source, target)
    reference = librosa.resample(waveform, orig_sr=source, target_sr=target, res_type="soxr_hq")
    assert ours.dtype == np.float32 and ours.shape == reference.shape
    assert np.abs(ours - reference).max() < 1e-6
    batch = resample(np.stack([waveform, -waveform]).astype(np.float64), source, target)
    assert batch.dtype == np.float32 and np.abs(batch - np.stack([ours, -ours])).max() < 1e-6


def test_resample_keeps_the_band_rejects_aliases_and_time():
    from avse_tf.audio.io import resample

    def gain_db(frequency, source=22050, target=16000):
        tone = np.sin(2 * np.pi * frequency * np.arange(2 * source) / source)
        output = resample(tone, source, target)[target // 2: -target // 2]
        window = np.hanning(output.size)
        return 20 * np.log10(np.abs(np.fft.rfft(output * window)).max() / (window.sum() / 2) + 1e-12)

    assert abs(gain_db(0.9 * 8000)) < 0.1  # flat to 0.9 x Nyquist
    assert gain_db(1.05 * 8000) < -100  # what lies past the new Nyquist does not fold back
    click = np.zeros(22050, np.float32)
    click[10000] = 1.0
    assert int(np.argmax(np.abs(resample(click, 22050, 16000)))) == round(10000 * 16000 / 22050)  # no delay


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
