"""``avse denoising recipe``: from nothing to the denoising table of Hegde et al. (WACV 2021, Table 1's
conditions, with the evaluation the original never released) on a synthetic corpus.

Steps, each resumable (every step keeps its finished outputs; a rerun continues where it stopped):

1. ``synth-grid`` corpus in ``WORK/corpus``; the last ``unseen_speakers`` speakers are held out
   (the ``unseen`` split: their voices are not among the training ones);
2. ``denoising preprocess`` into ``WORK/preprocessed``: face crops, audio, records;
3. the shared noise bank, once, in ``WORK/noise_bank`` (training kinds for training, the held-out
   kinds for the evaluation);
4. the teacher (its lip-sync expert first) on clean speech, then the student distilled from it on
   noisy speech;
5. three denoisers of one schedule: pseudo lips (the paper's system), audio only (the ablation) and
   the corpus's true video;
6. ``denoising evaluate`` on the unseen speakers at ``snrs_db`` of the held-out kinds, with the
   teacher's clean-speech lips and the recogniser's floor: ``WORK/evaluation/table.txt``. A rerun
   whose flags and trained checkpoints are those the table came from prints it again unscored.

One schedule (``epochs`` x ``steps_per_epoch`` of ``batch_size``) for every training keeps the
command short; each step's own command (``train_teacher``, ``train_student``, ``train``) takes its
own schedule when a user needs to tune one.
"""

from __future__ import annotations

import json
import os
import sys

from avse_tf.errors import UserInputError
from avse_tf.utils import atomic_write_text

# ``train --visual`` value -> the folder of that denoiser under WORK
DENOISERS = {"pseudo": "denoiser_pseudo_lips", "none": "denoiser_audio_only", "real": "denoiser_true_video"}
EVALUATED = "recipe_inputs.json"  # in WORK/evaluation: what the table was computed from


def _step(number: int, text: str) -> None:
    print(f"recipe {number}/6: {text}", file=sys.stderr, flush=True)  # stdout keeps the table alone


def unseen_speaker_names(speakers: int, unseen_speakers: int) -> list:
    if unseen_speakers < 1 or speakers - unseen_speakers < 2:
        raise UserInputError(f"the recipe needs >= 2 training speakers and >= 1 unseen speaker; got --speakers "
                             f"{speakers} --unseen_speakers {unseen_speakers}")
    return [f"s{k}" for k in range(speakers - unseen_speakers + 1, speakers + 1)]


def run_recipe(work_dir, speakers=8, utterances=16, unseen_speakers=2, seed=1, epochs=4, steps_per_epoch=50,
               batch_size=8, snrs_db=(0.0, 5.0, 10.0), max_clips=None, verbose="auto") -> dict:
    """Run every step (module doc) in ``work_dir``. Returns ``denoising evaluate``'s result
    (``table``, ``by_snr``, ...)."""
    from avse_tf.data.synth.corpus import generate_grid_corpus
    from avse_tf.systems.pseudo_visual.evaluate_denoiser import evaluate_denoiser, load_evaluation
    from avse_tf.systems.pseudo_visual.preprocess import preprocess
    from avse_tf.systems.pseudo_visual.train_denoiser import train_denoiser
    from avse_tf.systems.pseudo_visual.train_student import student_noise, train_student
    from avse_tf.systems.pseudo_visual.train_teacher import train_teacher

    held_out = unseen_speaker_names(speakers, unseen_speakers)
    corpus, data = os.path.join(work_dir, "corpus"), os.path.join(work_dir, "preprocessed")
    schedule = {"batch_size": batch_size, "epochs": epochs, "steps_per_epoch": steps_per_epoch, "seed": seed,
                "verbose": verbose}
    _step(1, f"the synthetic corpus ({speakers} speakers x {utterances} utterances) in {corpus}")
    generate_grid_corpus(corpus, speakers=speakers, utterances=utterances, seed=seed)
    _step(2, f"preprocess into {data} (unseen speakers {','.join(held_out)}; the corpus's audio-visual offsets undone)")
    # sync correction (--av_offsets): the expert learns lip timing from clips in sync (model card)
    preprocess(corpus, data, val_fraction=0.1, test_fraction=0.1, seed=seed, unseen_speakers=held_out,
               av_offsets=os.path.join(corpus, "synth_grid.json"))
    _step(3, "the noise bank")
    noise = student_noise(None, work_dir, seed)
    teacher, student = os.path.join(work_dir, "teacher"), os.path.join(work_dir, "student")
    _step(4, "the teacher (and its lip-sync expert) on clean speech, then the student on noisy speech")
    train_teacher(data, teacher, **schedule)
    train_student(data, student, teacher, noise_data_root=noise, **schedule)
    folders = {visual: os.path.join(work_dir, name) for visual, name in DENOISERS.items()}
    for visual, folder in folders.items():
        _step(5, f"the denoiser with --visual {visual} in {folder}")
        train_denoiser(data, folder, student if visual == "pseudo" else None, noise_data_root=noise, visual=visual,
                       **schedule)
    _step(6, "evaluation on the unseen speakers")
    evaluation = os.path.join(work_dir, "evaluation")
    inputs = _evaluation_inputs([student, *folders.values()], snrs_db, max_clips, seed)
    done = os.path.join(evaluation, EVALUATED)
    stored = load_evaluation(evaluation) if _read_json(done) == inputs else None
    if stored is not None:
        print("the evaluation is up to date with the trained models: its table", file=sys.stderr)
        return stored
    result = evaluate_denoiser(data, evaluation, folders["pseudo"], folders["none"], folders["real"], student,
                               corpus_root=corpus, snrs_db=tuple(snrs_db), noise_data_root=noise,
                               max_clips=max_clips, seed=seed)
    atomic_write_text(done, json.dumps(inputs, indent=1) + "\n")
    return result


def _evaluation_inputs(folders, snrs_db, max_clips, seed) -> dict:
    """What step 6's table depends on: the flags, and each training's finished checkpoint (size and
    modification time: a retrained model changes them even when its numbers repeat)."""
    from avse_tf.constants import BEST_CHECKPOINT

    stamps = {}
    for folder in folders:
        path = os.path.join(folder, BEST_CHECKPOINT)
        stat = os.stat(path)
        stamps[os.path.basename(folder)] = [stat.st_size, stat.st_mtime_ns]
    return {"snrs_db": [float(snr) for snr in snrs_db], "max_clips": max_clips, "seed": seed, "checkpoints": stamps}


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


__all__ = ["run_recipe", "DENOISERS", "unseen_speaker_names"]
