"""Enhancement data steps: mixtures with a manifest, LTASS target binary masks, normalisation."""

import os

import numpy as np
import pytest

from avse_tf.audio.io import load_audio, write_audio
from avse_tf.data import masks, mixing, normalization
from avse_tf.errors import UserInputError


@pytest.fixture()
def tiny_corpus(tmp_path):
    """3 speakers with underscores in file names and clips of different lengths."""
    rng = np.random.default_rng(0)
    for speaker in ("s1", "s2", "s3"):
        folder = tmp_path / speaker / "audio"
        folder.mkdir(parents=True)
        for index, seconds in enumerate((3.0, 2.5, 0.5)):
            write_audio(folder / f"{speaker}_take_{index}.wav", 0.05 * rng.normal(size=int(16000 * seconds)), 16000)
    return tmp_path


def test_two_and_three_speaker_mixtures_follow_the_original_rules(tiny_corpus):
    entries = mixing.generate_mixtures(tiny_corpus, [1, 2], [1, 2, 3], dest_dir="mix/TRAINING_SET",
                                       num_samples=2, num_mix=2, num_mix_speakers=1, seed=3)
    manifest = mixing.load_manifest(tiny_corpus / "mix" / "TRAINING_SET")
    assert len(manifest) == len(entries) > 0
    for entry in manifest:
        assert entry["speaker"] not in [i["speaker"] for i in entry["interferers"]]
        target, interferers, mixture = mixing.render_mixture(entry)
        assert np.allclose(mixture, target + interferers)  # 0 dB raw overlay
        assert np.abs(load_audio(entry["mixture"]) - mixture).max() < 1e-3  # the wav on disk is that sum
        # Interferers >= 2 s shorter than the target are rejected (the 0.5 s clips never meet a 3 s target).
        for interferer in entry["interferers"]:
            assert target.size / 16000 - load_audio(interferer["path"]).size / 16000 < 2.0
    # Names with underscores are recorded, not parsed.
    assert any("_take_" in entry["utterance"] for entry in manifest)
    three = mixing.generate_mixtures(tiny_corpus, [1], [1, 2, 3], dest_dir="mix3", num_samples=1, num_mix=1,
                                     num_mix_speakers=2, seed=1)
    assert len({i["speaker"] for i in three[0]["interferers"]}) == 2


def test_shorter_interferer_is_centred():
    placed, offset = mixing._place(np.ones(10, np.float32), 30)
    assert offset == 10 and placed[:10].sum() == 0 and placed[10:20].sum() == 10 and placed[20:].sum() == 0
    cut, _ = mixing._place(np.arange(50, dtype=np.float32), 30)
    assert cut.size == 30


def test_mixtures_are_seeded_and_snr_extension(tiny_corpus):
    first = mixing.generate_mixtures(tiny_corpus, [1, 2], dest_dir="a", num_samples=2, num_mix=1, seed=5)
    second = mixing.generate_mixtures(tiny_corpus, [1, 2], dest_dir="b", num_samples=2, num_mix=1, seed=5)
    assert [e["interferers"] for e in first] == [e["interferers"] for e in second]
    entries = mixing.generate_mixtures(tiny_corpus, [1, 2], dest_dir="snr", num_samples=1, num_mix=1, seed=5, snr_db=6.0)
    target, interferers, _ = mixing.render_mixture(mixing.load_manifest(tiny_corpus / "snr")[0])
    snr = 10 * np.log10(np.mean(target ** 2) / np.mean(interferers ** 2))
    assert abs(snr - 6.0) < 0.01 and entries


def test_manifest_survives_moving_the_corpus(tiny_corpus, tmp_path_factory):
    mixing.generate_mixtures(tiny_corpus, [1, 2], dest_dir="mix", num_samples=1, num_mix=1)
    moved = tmp_path_factory.mktemp("moved") / "corpus"
    os.rename(tiny_corpus, moved)
    entry = mixing.load_manifest(moved / "mix")[0]
    assert os.path.isfile(entry["target"]) and os.path.isfile(entry["mixture"])


def test_mixing_errors(tiny_corpus):
    with pytest.raises(UserInputError, match="unknown speaker s7"):
        mixing.generate_mixtures(tiny_corpus, [7], dest_dir="x")
    with pytest.raises(UserInputError, match="needs 2 other"):
        mixing.generate_mixtures(tiny_corpus, [1], [1, 2], dest_dir="x", num_mix_speakers=2)
    with pytest.raises(UserInputError, match="no mixture manifest"):
        mixing.load_manifest(tiny_corpus / "nothing")


def test_tbm_from_ltass():
    rng = np.random.default_rng(1)
    spectrograms = [np.abs(rng.normal(size=(50, 4))) for _ in range(3)]
    mean, std = masks.ltass(spectrograms)
    stacked = np.concatenate(spectrograms)
    assert np.allclose(mean, stacked.mean(0), atol=1e-6) and np.allclose(std, stacked.std(0), atol=1e-6)
    tbm = masks.target_binary_mask(spectrograms[0], mean, std, 0.6)
    assert tbm.dtype == np.uint8
    assert np.array_equal(tbm, (spectrograms[0] > mean + 0.6 * std).astype(np.uint8))
    # A larger factor keeps fewer bins.
    assert masks.target_binary_mask(spectrograms[0], mean, std, 1.5).sum() < tbm.sum()


def test_tbm_computation_on_speech(small_corpus):
    root, description = small_corpus
    written = masks.compute_tbms(root, ["s1"], dest_dir="tbm_test")
    assert len(written) == 3
    tbm = np.load(written[0])
    assert tbm.shape == (302, 257) and set(np.unique(tbm)) <= {0, 1}
    assert 0.05 < tbm.mean() < 0.5  # speech bins stand out of the LTASS, silence does not
    assert np.load(os.path.join(root, "s1", "tbm_test", "ltass.npz"))["mask_factor"] == np.float32(0.6)


def test_running_stats_match_numpy_and_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    blocks = [rng.normal(3.0, 2.0, size=(int(n), 5)) for n in (10, 100, 7)]
    stats = normalization.RunningStats()
    for block in blocks:
        stats.update(block)
    mean, std = stats.result()
    stacked = np.concatenate(blocks)
    assert np.allclose(mean, stacked.mean(0), atol=1e-5) and np.allclose(std, stacked.std(0), atol=1e-5)
    normalization.save_stats(tmp_path / "n.npz", spectrogram=(mean, std))
    loaded = normalization.load_stats(tmp_path / "n.npz")
    assert np.array_equal(loaded["spectrogram"][0], mean)
    z = normalization.normalize(stacked, mean, std)
    assert np.allclose(z.mean(0), 0, atol=1e-4) and np.allclose(z.std(0), 1, atol=1e-4)
    with pytest.raises(UserInputError, match="run tfrecords_generator"):
        normalization.load_stats(tmp_path / "missing.npz")
