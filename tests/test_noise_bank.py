"""The noise bank (Hegde et al. 2021's non-speech noise): determinism and resume, each kind's
claimed property, the train / test split, SNR mixing, the <= 0.2 s augmentations, room reverberation
and the user-folder reader."""

import hashlib
import json
import os

import numpy as np
import pytest
import soundfile
from scipy import signal, stats

from avse_tf.cli.main import main
from avse_tf.data.noise import generators
from avse_tf.data.noise.bank import MANIFEST, noise_clips, write_noise_bank
from avse_tf.data.noise.mixing import (MAX_AUGMENTED_SECONDS, PAPER_SNRS_DB, augment_mixture, mix_at_snr,
                                       noisy_example, speech_power)
from avse_tf.data.noise.registry import IMPULSE_RESPONSE, KINDS, TEST_KINDS, TRAIN_KINDS
from avse_tf.data.noise.rooms import ShoeboxRoom, estimate_rt60, reverberate, simulate_rir
from avse_tf.errors import NoiseDataError, NonFiniteError

RATE = 16000
SEEDS = (0, 1, 2)


def _bank_digest(root):
    digest = {}
    for folder, _, names in os.walk(root):
        for name in names:
            if name.endswith((".wav", ".json")):
                path = os.path.join(folder, name)
                with open(path, "rb") as handle:
                    digest[os.path.relpath(path, root)] = hashlib.md5(handle.read()).hexdigest()
    return digest


def test_same_seed_same_bytes_and_resume(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    manifest = write_noise_bank(first, seconds_per_kind=1.0, clip_seconds=0.5, seed=3)
    write_noise_bank(second, seconds_per_kind=1.0, clip_seconds=0.5, seed=3)
    digest = _bank_digest(first)
    assert digest == _bank_digest(second)
    assert len(digest) == 2 * len(KINDS) + 1  # two clips per kind and the manifest
    assert _bank_digest(tmp_path / "other") == {} and write_noise_bank(
        tmp_path / "other", 1.0, 0.5, seed=4)["clips"][0]["seed"][0] == 4
    assert _bank_digest(tmp_path / "other") != digest
    removed = os.path.join(first, manifest["clips"][5]["path"])
    kept = os.path.join(first, manifest["clips"][0]["path"])
    os.remove(removed)
    kept_time = os.stat(kept).st_mtime_ns
    write_noise_bank(first, seconds_per_kind=1.0, clip_seconds=0.5, seed=3)
    assert _bank_digest(first) == digest
    assert os.stat(kept).st_mtime_ns == kept_time  # existing clips are kept, not re-made
    stored = json.loads((first / MANIFEST).read_text())
    clip = stored["clips"][0]
    assert {"path", "kind", "split", "role", "seed", "seconds"} <= set(clip)
    assert all("room" in clip for clip in stored["clips"] if clip["role"] == IMPULSE_RESPONSE)
    assert soundfile.info(kept).samplerate == RATE and soundfile.info(kept).frames == RATE // 2


def test_train_and_test_kinds_are_disjoint_and_cover_the_registry(tmp_path):
    assert set(TRAIN_KINDS).isdisjoint(TEST_KINDS)
    assert set(TRAIN_KINDS) | set(TEST_KINDS) == set(KINDS)
    assert set(TEST_KINDS) == {"rain", "music", "hall_reverb"}
    write_noise_bank(tmp_path, seconds_per_kind=0.5, clip_seconds=0.5, seed=0, kinds=["pink_noise", "rain"])
    assert [os.path.basename(p) for p in noise_clips(tmp_path, "train")] == ["pink_noise_000.wav"]
    assert [os.path.basename(p) for p in noise_clips(tmp_path, "test")] == ["rain_000.wav"]


@pytest.mark.parametrize("name", [name for name, kind in KINDS.items() if kind.role == "additive"])
def test_every_kind_is_float32_finite_any_duration_and_never_clips(name):
    for seconds in (0.01, 1.3):
        clip = KINDS[name].generate(np.random.default_rng(7), seconds, RATE)
        assert clip.dtype == np.float32 and clip.shape == (round(seconds * RATE),)
        assert np.all(np.isfinite(clip)) and np.max(np.abs(clip)) <= generators.MAX_PEAK + 1e-6
    again = KINDS[name].generate(np.random.default_rng(7), 1.3, RATE)
    assert np.array_equal(clip, again)


def _slope_db_per_octave(clip):
    frequencies, power = signal.welch(clip, RATE, nperseg=4096)
    band = (frequencies >= 100) & (frequencies <= 4000)
    return np.polyfit(np.log2(frequencies[band]), 10 * np.log10(power[band]), 1)[0]


@pytest.mark.parametrize("seed", SEEDS)
def test_coloured_noise_slopes(seed):
    assert abs(_slope_db_per_octave(generators.pink_noise(np.random.default_rng(seed), 3.0)) + 3.0) < 0.5
    assert abs(_slope_db_per_octave(generators.brown_noise(np.random.default_rng(seed), 3.0)) + 6.0) < 0.5


@pytest.mark.parametrize("seed", SEEDS)
def test_hum_energy_sits_on_mains_harmonics(seed):
    frequencies, power = signal.welch(generators.mains_hum(np.random.default_rng(seed), 3.0), RATE, nperseg=16000)
    shares = []
    for fundamental in (50.0, 60.0):
        near = np.any(np.abs(frequencies[:, None] - fundamental * np.arange(1, 40)[None]) <= 2.0, axis=1)
        shares.append(power[near].sum() / power.sum())
    assert max(shares) > 0.99 and min(shares) < 0.5  # on one mains frequency's harmonics, not the other's


def _envelope_peak_to_median(clip):
    envelope = np.abs(signal.hilbert(clip))
    spectrum = np.abs(np.fft.rfft(envelope - envelope.mean())) ** 2
    frequencies = np.fft.rfftfreq(envelope.size, 1.0 / RATE)
    band = (frequencies >= 2) & (frequencies <= 60)
    return spectrum[band].max() / np.median(spectrum[band])


@pytest.mark.parametrize("seed", SEEDS)
def test_machinery_is_periodically_modulated(seed):
    machine = _envelope_peak_to_median(generators.machinery(np.random.default_rng(seed), 3.0))
    stationary = _envelope_peak_to_median(generators.pink_noise(np.random.default_rng(seed), 3.0))
    assert machine > 200 and machine > 20 * stationary


@pytest.mark.parametrize("seed", SEEDS)
def test_clicks_are_sparse_and_impulsive(seed):
    clip = generators.clicks_impacts(np.random.default_rng(seed), 3.0)
    crest_db = 20 * np.log10(np.max(np.abs(clip)) / np.sqrt(np.mean(clip ** 2)))
    assert stats.kurtosis(clip) > 30 and crest_db > 20
    assert np.mean(np.abs(clip) > 0.01 * np.max(np.abs(clip))) < 0.2  # silent most of the time


@pytest.mark.parametrize("seed", SEEDS)
def test_rain_is_bright_and_bursty(seed):
    clip = generators.rain(np.random.default_rng(seed), 3.0)
    frequencies, power = signal.welch(clip, RATE, nperseg=2048)
    assert (frequencies * power).sum() / power.sum() > 2000  # high-passed: a bright hiss
    assert power[frequencies < 500].sum() / power.sum() < 0.01
    assert stats.kurtosis(clip) > 3  # bursts, not Gaussian noise


def _tonal_share(clip):
    """Share of the power in spectral bins 10x above the median of their +-50 Hz neighbourhood."""
    frequencies, power = signal.welch(clip, RATE, nperseg=16384)
    local = signal.medfilt(power, 101)
    return power[power > 10 * local].sum() / power.sum()


@pytest.mark.parametrize("seed", SEEDS)
def test_music_has_tonal_peaks_at_equal_tempered_pitches(seed):
    clip = generators.music(np.random.default_rng(seed), 3.0)
    assert _tonal_share(clip) > 0.8
    assert _tonal_share(generators.pink_noise(np.random.default_rng(seed), 3.0)) < 0.05
    frequencies, power = signal.welch(clip, RATE, nperseg=16384)
    peak = frequencies[np.argmax(power)]
    candidates = np.outer(np.arange(1, 9), generators.midi_frequency(np.arange(36, 97)))
    assert np.min(np.abs(candidates - peak)) <= 1.0  # a partial of an equal-tempered note (1 Hz bins)


def test_rir_decays_with_the_rooms_rt60():
    room = ShoeboxRoom((6.0, 4.0, 3.0), (1.5, 1.2, 1.6), (4.1, 2.7, 1.3), rt60=0.45)
    rir = simulate_rir(room, RATE)
    assert rir.dtype == np.float32 and rir.size == int(0.45 * RATE) and np.all(np.isfinite(rir))
    assert 0.35 < estimate_rt60(rir, RATE) < 0.55
    direct = int(round(np.linalg.norm(np.subtract(room.source, room.microphone)) / 343.0 * RATE))
    assert abs(int(np.argmax(np.abs(rir))) - direct) <= 1  # the direct path arrives first and loudest
    energy = rir.astype(np.float64) ** 2
    tenth = rir.size // 10
    assert energy[-tenth:].sum() < 1e-3 * energy[:tenth].sum()
    for name in ("room_reverb", "hall_reverb"):
        drawn = KINDS[name].generate(np.random.default_rng(0), None, RATE)
        low, high = (0.2, 0.6) if name == "room_reverb" else (0.8, 1.2)
        assert low * 0.9 < estimate_rt60(drawn, RATE) < high * 1.1


def test_reverberation_keeps_timing_and_level():
    speech = np.random.default_rng(0).standard_normal(RATE).astype(np.float32) * np.float32(0.1)
    rir = simulate_rir(ShoeboxRoom((5.0, 4.0, 3.0), (1.0, 1.0, 1.5), (3.0, 2.5, 1.5), 0.3), RATE)
    wet = reverberate(speech, rir)
    assert wet.dtype == np.float32 and wet.shape == speech.shape
    assert np.isclose(np.sqrt(np.mean(wet ** 2)), np.sqrt(np.mean(speech ** 2)), rtol=1e-3)
    lag = np.argmax(signal.correlate(wet, speech, "full", "fft")) - (speech.size - 1)
    assert lag == 0  # direct path at sample 0: in sync with the lips


def _speech_like(rng, seconds=1.5):
    """Voiced bursts with silences: enough structure to tell active-speech level from plain power."""
    time = np.arange(int(seconds * RATE)) / RATE
    gate = (np.sin(2 * np.pi * 2.0 * time) > 0.2).astype(np.float64)
    return (gate * np.sin(2 * np.pi * 180 * time) * 0.3 + rng.standard_normal(time.size) * 1e-4).astype(np.float32)


@pytest.mark.parametrize("level", ["plain", "active"])
def test_mix_at_snr_hits_the_requested_snr(level):
    rng = np.random.default_rng(0)
    speech = _speech_like(rng)
    noise = generators.machinery(np.random.default_rng(1), 0.7)  # shorter than the speech: looped
    for snr_db in PAPER_SNRS_DB + (-5.0, 20.0):
        mixture, scaled = mix_at_snr(speech, noise, snr_db, rng, level=level)
        assert mixture.dtype == np.float32 and mixture.shape == speech.shape and np.all(np.isfinite(mixture))
        measured = 10 * np.log10(speech_power(speech, level) / np.mean(scaled.astype(np.float64) ** 2))
        assert abs(measured - snr_db) < 0.1
        assert np.allclose(mixture, speech + scaled, atol=1e-6)
    assert speech_power(speech, "active") > 1.5 * speech_power(speech, "plain")
    silent_noise, _ = mix_at_snr(speech, np.zeros(100, np.float32), 5.0, rng)
    assert np.array_equal(silent_noise, speech)
    with pytest.raises(NonFiniteError, match="NaN"):
        mix_at_snr(np.array([0.1, np.nan, 0.2], np.float32), noise, 5.0, rng)
    with pytest.raises(NonFiniteError):
        mix_at_snr(speech, np.full(10, np.inf, np.float32), 5.0, rng)


def test_augmentations_cover_short_seeded_segments():
    speech = _speech_like(np.random.default_rng(0), 1.0)
    noise = generators.pink_noise(np.random.default_rng(1), 1.0)
    seen = {}
    for seed in range(60):
        mixture, augmentation = augment_mixture(speech, noise, np.random.default_rng(seed))
        again, same = augment_mixture(speech, noise, np.random.default_rng(seed))
        assert same == augmentation and np.array_equal(mixture, again)
        assert 1 <= augmentation.length <= MAX_AUGMENTED_SECONDS * RATE
        segment = slice(augmentation.start, augmentation.start + augmentation.length)
        outside = np.ones(speech.size, bool)
        outside[segment] = False
        assert np.allclose(mixture[outside], (speech + noise)[outside], atol=1e-6)
        expected = {"zero_speech": 0 * speech, "reduce_speech": 0.1 * speech, "increase_noise": speech + 2 * noise}
        assert np.allclose(mixture[segment], expected[augmentation.kind][segment], atol=1e-6)
        seen[augmentation.kind] = seen.get(augmentation.kind, 0) + 1
    assert set(seen) == {"zero_speech", "reduce_speech", "increase_noise"} and min(seen.values()) >= 10
    _, untouched = augment_mixture(speech, noise, np.random.default_rng(0), probabilities={"none": 1.0})
    assert untouched.kind == "none" and untouched.length == 0


def test_noisy_example_with_reverberation_keeps_the_dry_target():
    rng = np.random.default_rng(5)
    speech = _speech_like(rng, 1.0)
    rir = KINDS["room_reverb"].generate(np.random.default_rng(0), None, RATE)
    example = noisy_example(speech, generators.rain(np.random.default_rng(2), 2.0), rng, rir=rir)
    assert example.snr_db in PAPER_SNRS_DB and example.reverberant and example.augmentation is not None
    assert np.array_equal(example.speech, speech)
    assert example.mixture.dtype == np.float32 and np.all(np.isfinite(example.mixture))


def test_user_noise_folder(tmp_path):
    nested = tmp_path / "vggsound" / "part1"
    nested.mkdir(parents=True)
    soundfile.write(nested / "b.flac", np.zeros(800, np.float32) + 0.01, RATE)
    soundfile.write(tmp_path / "vggsound" / "a.wav", np.zeros(800, np.float32) + 0.01, RATE)
    (tmp_path / "vggsound" / "notes.txt").write_text("not audio")
    assert [os.path.relpath(p, tmp_path) for p in noise_clips(tmp_path / "vggsound")] == [
        os.path.join("vggsound", "a.wav"), os.path.join("vggsound", "part1", "b.flac")]
    for folder in (tmp_path / "missing", tmp_path / "empty"):
        if folder.name == "empty":
            folder.mkdir()
        with pytest.raises(NoiseDataError) as error:
            noise_clips(folder)
        assert str(folder) in str(error.value) and "\n" not in str(error.value)
    (nested / "broken.wav").write_bytes(b"RIFF\x00\x00not a wav at all")
    with pytest.raises(NoiseDataError) as error:
        noise_clips(tmp_path / "vggsound")
    assert str(nested / "broken.wav") in str(error.value) and "\n" not in str(error.value)


def test_cli_noise_bank(tmp_path, capsys):
    out = tmp_path / "bank"
    assert main(["noise-bank", "--out", str(out), "--seconds", "0.5", "--clip_seconds", "0.5", "--seed", "2",
                 "--kinds", "mains_hum", "music"]) == 0
    assert "1 test clips" in capsys.readouterr().out
    assert len(noise_clips(out, "train")) == 1 and len(noise_clips(out, "test")) == 1
    assert main(["noise-bank", "--out", str(tmp_path / "x"), "--seconds", "0"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("avse: error:") and error.count("\n") == 1
