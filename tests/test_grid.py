"""GRID grammar, ids and alignment files."""

import numpy as np
import pytest

from avse_tf.data import grid
from avse_tf.errors import UserInputError


def test_id_sentence_round_trip_over_random_sentences():
    rng = np.random.default_rng(0)
    for _ in range(200):
        words = grid.random_sentence(rng)
        assert grid.id_to_sentence(grid.sentence_to_id(words)) == words
    assert grid.sentence_to_id(("bin", "blue", "at", "f", "two", "now")) == "bbaf2n"
    assert grid.id_to_sentence("lgizzs") == ("lay", "green", "in", "z", "zero", "soon")


@pytest.mark.parametrize("bad", ["bbaw2n", "xbaf2n", "bbaf2", "bbafxn"])
def test_invalid_ids(bad):
    with pytest.raises(ValueError):
        grid.id_to_sentence(bad)


def test_align_round_trip(tmp_path):
    words = [("bin", 0.5, 0.8), ("blue", 0.85, 1.1), ("at", 1.1, 1.3)]
    grid.write_align(tmp_path / "x.align", words, 3.0)
    entries = grid.read_align(tmp_path / "x.align")
    assert [w for w, _, _ in entries] == ["sil", "bin", "sp", "blue", "at", "sil"]
    assert entries[1] == ("bin", 0.5, 0.8) and entries[-1][2] == 3.0
    assert (tmp_path / "x.align").read_text().splitlines()[0] == "0 12500 sil"


def test_bad_align_and_missing_speaker(tmp_path):
    (tmp_path / "bad.align").write_text("0 100\n")
    with pytest.raises(UserInputError, match="bad.align:1"):
        grid.read_align(tmp_path / "bad.align")
    (tmp_path / "s1").mkdir()
    with pytest.raises(UserInputError, match="unknown speaker s9.*s1"):
        grid.speaker_dir(tmp_path, 9)
    with pytest.raises(UserInputError, match="corpus folder not found"):
        grid.list_speakers(tmp_path / "nothing")
