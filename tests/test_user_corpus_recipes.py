"""The recipes on a user's corpus (issue 16): ``--data_dir`` with the user's speaker split.

A synthetic corpus (6 speakers x 3 clips) is rewritten as GRID distributes it (50 kHz wavs and
.mpg under s<k>/, alignments in align/s<k>/), checked with ``avse check-corpus``, and given to
both recipes. The inpainting recipe also runs with the alignments removed: the A / AV models
train, the MTL models are refused with one line naming ``avse align``.
"""

import csv
import os
import shutil

import numpy as np
import pytest

from avse_tf.cli.main import main
from corpus_trees import as_grid_distributed

pytestmark = pytest.mark.slow

SPLIT = ["--train_speakers", "1", "2", "--val_speakers", "s3", "4", "--test_speakers", "5", "6"]
SMALL = ["--hidden_units", "8", "--layers", "1", "--epochs", "1", "--seed", "1"]


@pytest.fixture(scope="module")
def grid_corpus(tmp_path_factory):
    from avse_tf.data.synth.corpus import generate_grid_corpus

    base = tmp_path_factory.mktemp("user_corpus")
    generate_grid_corpus(str(base / "synthetic"), speakers=6, utterances=3, seed=3)
    as_grid_distributed(str(base / "synthetic"), str(base / "GRID"))
    return base


def test_bad_split_flags_are_one_line_errors(grid_corpus, tmp_path, capsys):
    work = str(tmp_path / "work")
    cases = [
        (["--data_dir", str(grid_corpus / "GRID"), "--train_speakers", "1"], "needs --val_speakers, --test_speakers"),
        (["--data_dir", str(grid_corpus / "GRID"), "--speakers", "8", *SPLIT], "--speakers describe the synthetic"),
        (["--train_speakers", "1", "2"], "give --data_dir"),
        (["--data_dir", str(grid_corpus / "GRID"), "--train_speakers", "1", "2", "--val_speakers", "2",
          "--test_speakers", "5"], "in more than one of"),
    ]
    for arguments, message in cases:
        capsys.readouterr()
        assert main(["enhancement", "recipe", "--work_dir", work, *arguments]) == 2, arguments
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and message in error[0], (arguments, error)
    assert not os.path.exists(os.path.join(work, "corpus", "s1"))  # nothing imported on a bad command


def test_enhancement_recipe_on_a_grid_layout_corpus(grid_corpus, tmp_path, capsys):
    from avse_tf.audio.io import load_audio

    grid_root = str(grid_corpus / "GRID")
    assert main(["check-corpus", grid_root, "--require_align"]) == 0
    work = str(tmp_path / "enhancement")
    capsys.readouterr()
    assert main(["enhancement", "recipe", "--work_dir", work, "--data_dir", grid_root, *SPLIT, "--num_speakers", "2",
                 "--models", "av_concat_mask", "--metrics", "sdr", "--num_mix", "1", *SMALL]) == 0
    table = capsys.readouterr().out
    assert "2spk av_concat_mask" in table and "2spk mixture" in table
    # imported at 16 kHz, from the 50 kHz wavs (within the resampling round trip of the synthetic audio)
    clip = sorted(os.listdir(os.path.join(work, "corpus", "s5", "audio")))[0]
    imported = load_audio(os.path.join(work, "corpus", "s5", "audio", clip), None)
    original = load_audio(os.path.join(grid_corpus, "synthetic", "s5", "audio", clip), None)
    assert imported.size == original.size
    assert 10 * np.log10(np.sum(original ** 2) / np.sum((imported - original) ** 2)) > 35
    # test mixtures are of the test speakers only; training ones of the training speakers only
    with open(os.path.join(work, "results", "2spk", "av_concat_mask", "TEST_SET", "metrics_av_concat_mask.csv")) as f:
        rows = list(csv.DictReader(f))
    assert {row["speaker"] for row in rows} == {"s5", "s6"}
    assert all("_with_s5_" in row["mixture"] or "_with_s6_" in row["mixture"] for row in rows)
    assert sorted(os.listdir(os.path.join(work, "corpus", "mix2", "TRAINING_SET"))) == ["mixtures.json", "s1", "s2"]


def test_inpainting_recipe_without_alignments_then_after_align(grid_corpus, tmp_path, capsys):
    """Without .align files: A / AV train, MTL is refused. ``avse align`` on the user's corpus then
    writes what it can (on these synthetic voices not every clip aligns: the model card says which),
    and the same recipe command, resumed, re-imports them, rewrites the records and trains MTL on
    the clips with phone labels."""
    import re

    from avse_tf.records import load_manifest
    from avse_tf.systems.av_inpainting.pipeline import WITH_PHONES_KEY, WITHOUT_PHONES_KEY

    grid_root = str(tmp_path / "GRID_no_align")
    shutil.copytree(grid_corpus / "GRID", grid_root, symlinks=True)
    shutil.rmtree(os.path.join(grid_root, "align"))
    work = str(tmp_path / "inpainting")
    # one test speaker (3 clips): each of the 6 test sets is scored for every model
    split = ["--train_speakers", "1", "2", "3", "4", "--val_speakers", "5", "--test_speakers", "6"]
    common = ["inpainting", "recipe", "--work_dir", work, "--data_dir", grid_root, *split, *SMALL,
              "--griffin_lim_iterations", "2", "--train_copies", "1"]
    capsys.readouterr()
    assert main([*common, "--models", "a_blstm,av_blstm"]) == 0
    captured = capsys.readouterr()
    assert "## TEST_SET" in captured.out and re.search(r"^AV +\d", captured.out, re.M), captured.out
    assert "no PER from the project's phone recogniser" in captured.err
    assert not os.path.exists(os.path.join(work, "experiments", "phone_recognizer"))
    assert main([*common, "--models", "av_blstm_mtl"]) == 2
    error = [line for line in capsys.readouterr().err.splitlines() if line.startswith("avse: error")]
    assert len(error) == 1 and "needs phone labels" in error[0] and "avse align" in error[0], error

    main(["align", grid_root])  # exit 2 when some clips do not align; those it aligns are written
    folders = [os.path.join(grid_root, speaker, "align") for speaker in os.listdir(grid_root)]
    written = sorted(name for folder in folders if os.path.isdir(folder) for name in os.listdir(folder))
    assert len(written) >= 9, written  # measured: 12 of 18 (two voices fail)
    capsys.readouterr()
    assert main([*common, "--models", "a_blstm,av_blstm,av_blstm_mtl"]) == 0
    assert os.path.isfile(os.path.join(work, "experiments", "av_blstm_mtl", "history.csv"))
    training = load_manifest(os.path.join(work, "corpus", "inpainting_records", "TRAINING_SET", "records.json"))
    labelled = training.metadata[WITH_PHONES_KEY]
    assert labelled >= 1 and labelled + len(training.metadata[WITHOUT_PHONES_KEY]) == 12
