"""``avse denoising recipe`` (issue 20): one command from nothing to the evaluation table, resumable.

The smallest run that exercises every step (3 speakers x 3 utterances, one speaker unseen, 2 steps
per training, one clip at 0 dB): what it checks is the orchestration, the outputs and the resume;
the denoisers' quality is the other tests' and the model card's business.
"""

import json
import os
import re

import pytest

from avse_tf.cli.main import main

ARGS = ["--speakers", "3", "--utterances", "3", "--unseen_speakers", "1", "--epochs", "1", "--steps_per_epoch", "2",
        "--batch_size", "4", "--snrs", "0", "--max_clips", "1", "--seed", "1"]
CONDITIONS = ("noisy", "audio_only", "pseudo_lips", "teacher_clean_lips", "true_video", "clean")


@pytest.mark.slow
def test_recipe_runs_every_step_prints_the_table_and_resumes(tmp_path, capsys):
    from avse_tf.systems.pseudo_visual.recipe import DENOISERS
    from avse_tf.systems.pseudo_visual.train_denoiser import load_denoising

    work = str(tmp_path / "work")
    assert main(["denoising", "recipe", "--work_dir", work, *ARGS]) == 0
    table = capsys.readouterr().out
    for condition in CONDITIONS:  # every condition has a row at 0 dB, the clean row its WER only
        assert re.search(rf"^{condition} @ 0 dB\s+", table, re.M), condition
    with open(os.path.join(work, "evaluation", "table.txt"), encoding="utf-8") as handle:
        assert handle.read().strip() in table
    for visual, folder in DENOISERS.items():
        assert load_denoising(os.path.join(work, folder)).visual == visual
    for folder in ("corpus", "preprocessed", "noise_bank", os.path.join("teacher", "expert"), "student"):
        assert os.path.isdir(os.path.join(work, folder)), folder
    # The unseen speaker (s3) is not in the training split.
    with open(os.path.join(work, "preprocessed", "data", "training.txt"), encoding="utf-8") as handle:
        assert not any(line.startswith("s3/") for line in handle)

    # Rerun: every step is done, nothing is trained again, the same table comes back.
    def stamps():
        return {folder: os.path.getmtime(os.path.join(work, folder, "best.keras")) for folder in DENOISERS.values()}

    before = stamps()
    scored = os.path.getmtime(os.path.join(work, "evaluation", "metrics.csv"))
    assert main(["denoising", "recipe", "--work_dir", work, *ARGS]) == 0
    again = capsys.readouterr().out  # no training's epoch lines this time: the table alone
    assert again.startswith("unseen split") and table.endswith(again)
    assert stamps() == before
    # ... and nothing is scored again, unless a checkpoint the table came from has changed since.
    assert os.path.getmtime(os.path.join(work, "evaluation", "metrics.csv")) == scored
    from avse_tf.systems.pseudo_visual.recipe import _evaluation_inputs

    folders = [os.path.join(work, name) for name in ("student", *DENOISERS.values())]
    with open(os.path.join(work, "evaluation", "recipe_inputs.json"), encoding="utf-8") as handle:
        recorded = json.load(handle)
    assert recorded == _evaluation_inputs(folders, [0.0], 1, 1) != _evaluation_inputs(folders, [0.0], 2, 1)
    best = os.path.join(work, DENOISERS["none"], "best.keras")
    os.utime(best, ns=(0, os.stat(best).st_mtime_ns + 1))  # as a retraining would
    assert _evaluation_inputs(folders, [0.0], 1, 1) != recorded


def test_recipe_refuses_a_split_without_training_or_unseen_speakers(tmp_path, capsys):
    assert main(["denoising", "recipe", "--work_dir", str(tmp_path / "w"), "--speakers", "2",
                 "--unseen_speakers", "1"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "--unseen_speakers" in error
    with pytest.raises(SystemExit) as exit_info:  # argparse's refusal: usage line + one error line
        main(["denoising", "recipe", "--work_dir", str(tmp_path / "w"), "--epochs", "0"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--epochs" in error and ">= 1" in error
