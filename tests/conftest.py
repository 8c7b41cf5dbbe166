"""Shared fixtures: a small synthetic GRID corpus made once per test session."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory):
    """2 speakers x 3 utterances, seed 1 (about 3 s to make)."""
    from avse_tf.data.synth.corpus import generate_grid_corpus

    root = tmp_path_factory.mktemp("corpus")
    description = generate_grid_corpus(str(root), speakers=2, utterances=3, seed=1)
    return root, description
