"""One command from nothing to the tables of Morrone et al. 2021 (Table 1, Fig. 2), on synthetic data.

Steps (each resumable: finished outputs are kept):

1. ``synth-grid`` corpus; speakers split into training, validation and unseen test speakers (the
   last ``test_speakers`` are the test speakers, the ``validation_speakers`` before them validation,
   the rest training; the paper: 25 / 4 / 4 GRID speakers);
2. landmarks of every video; gap sets (training distribution for training / validation and for
   the variable-gap test set, one set per fixed gap length); records;
3. the PER phone recogniser, trained on the clean training speakers' audio (frame classifier,
   :func:`avse_tf.systems.av_inpainting.phone_recognizer.train_recognizer`; early stopping on the validation speakers);
4. ``a_blstm``, ``av_blstm``, ``a_blstm_mtl``, ``av_blstm_mtl`` trained on the same gapped records;
5. every model tested on every test set of the unseen speakers: gap L1, STOI, PESQ, PER of the
   unprocessed and the inpainted signals; tables per gap length and for the variable-gap set, with
   the paper's Table 1 printed beside.

Each test result is stored in ``results/summary.json`` with a fingerprint of the recogniser that
measured its PER; a retrained recogniser (delete ``experiments/phone_recognizer``) makes the
tests run again, the inpainting models are kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings

from avse_tf.constants import BEST_CHECKPOINT
from avse_tf.errors import InputWarning, UserInputError
from avse_tf.utils import atomic_write_text

MODELS = ("a_blstm", "av_blstm", "a_blstm_mtl", "av_blstm_mtl")
LABELS = {"a_blstm": "A", "av_blstm": "AV", "a_blstm_mtl": "A+MTL", "av_blstm_mtl": "AV+MTL"}
# Table 1 of the paper, variable-gap test set (fact sheet; second-hand, unverified).
PAPER_TABLE1 = {
    "Unprocessed": {"l1": 0.838, "per": 0.508, "stoi": 0.480, "pesq": 1.634},
    "A": {"l1": 0.482, "per": 0.228, "stoi": 0.794, "pesq": 2.458},
    "AV": {"l1": 0.452, "per": 0.151, "stoi": 0.811, "pesq": 2.506},
    "A+MTL": {"l1": 0.476, "per": 0.214, "stoi": 0.799, "pesq": 2.466},
    "AV+MTL": {"l1": 0.445, "per": 0.137, "stoi": 0.817, "pesq": 2.525},
}
METRICS = ("l1", "per", "wer", "stoi", "pesq")
# The paper's PER came from its own GRID-trained recogniser: not comparable with PocketSphinx's, so
# it is printed under the table rather than beside the measured column.
PAPER_COLUMNS = ("l1", "stoi", "pesq")


def split_speakers(count, validation_speakers=2, test_speakers=2):
    names = [f"s{k}" for k in range(1, count + 1)]
    if count < validation_speakers + test_speakers + 2:
        raise UserInputError(f"the recipe needs at least {validation_speakers + test_speakers + 2} speakers "
                             f"(>= 2 training, {validation_speakers} validation, {test_speakers} test), got {count}")
    return {"TRAINING_SET": names[:count - validation_speakers - test_speakers],
            "VALIDATION_SET": names[count - validation_speakers - test_speakers:count - test_speakers],
            "TEST_SET": names[count - test_speakers:]}


def format_results(results, test_sets) -> str:
    """Paper-style tables: one per test set (rows: Unprocessed and the models; columns gap L1,
    PocketSphinx PER and WER, STOI, PESQ, and the project recogniser's PER where it was measured),
    the recognisers' floors on the clean clips; the variable-gap table carries the paper's Table 1
    values in ``paper`` columns (its PER in a note: another recogniser)."""
    from avse_tf.metrics import format_table

    blocks = []
    for set_name in test_sets:
        per_model = {model: summary for (name, model), summary in results.items() if name == set_name}
        if not per_model:
            continue
        first = next(iter(per_model.values()))
        variable = set_name == "TEST_SET"
        blstm = "per_blstm_clean" in first
        rows = [("Unprocessed", _row(first, "unprocessed", "Unprocessed" if variable else None, blstm))]
        for model, summary in per_model.items():
            rows.append((LABELS.get(model, model), _row(summary, "inpainted", LABELS.get(model) if variable else None,
                                                        blstm)))
        floor = {metric: first.get(f"{metric}_clean") for metric in ("per", "wer")}
        if blstm:
            floor["per blstm"] = first["per_blstm_clean"]
        rows.append(("Clean (recogniser floor)", floor))
        columns = [c for metric in METRICS for c in ((metric, f"{metric} paper") if variable and metric in PAPER_COLUMNS
                                                     else (metric,))] + (["per blstm"] if blstm else [])
        title = "variable gaps (training distribution), paper Table 1 beside" if variable else set_name.split("_")[-1]
        block = f"## {set_name}: {title} ({first['examples']} clips)\n" + format_table(rows, columns, 3, "model")
        if variable:
            block += ("\nper, wer: PocketSphinx (CMU US-English model, GRID grammar for wer). The paper's PER, from "
                      "its own recogniser, not comparable: " + ", ".join(
                          f"{label} {values['per']:.3f}" for label, values in PAPER_TABLE1.items()))
        blocks.append(block)
    return "\n\n".join(blocks)


def _row(summary, kind, paper_label, blstm=False):
    row = {metric: summary.get(f"{metric}_{kind}") for metric in METRICS}
    if paper_label:
        row.update({f"{metric} paper": PAPER_TABLE1[paper_label][metric] for metric in PAPER_COLUMNS})
    if blstm:
        row["per blstm"] = summary.get(f"per_blstm_{kind}")
    return row


def _has_phone_labels(records) -> bool:
    """Whether every training and validation clip of the records has phone labels (``.align``)."""
    from avse_tf.systems.av_inpainting.pipeline import clips_without_phone_labels

    return not any(clips_without_phone_labels(os.path.join(records, set_name))
                   for set_name in ("TRAINING_SET", "VALIDATION_SET"))


def _fingerprint(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def run_recipe(work_dir, speakers=10, utterances=30, epochs=20, hidden_units=250, layers=None, batch_size=8,
               models=MODELS, seed=1, patience=5, train_copies=2, recognizer_epochs=None, recognizer_units=None,
               phase="auto", griffin_lim_iterations=100, validation_speakers=2, test_speakers=2,
               verbose="auto", recognizer_copies=None, corpus_options=None, user_corpus=None) -> str:
    """Run every step (see the module doc) in ``work_dir``; returns the tables (also written to
    ``results/table.md``). The recogniser gets ``recognizer_units`` (default ``hidden_units``),
    ``recognizer_epochs`` (default ``2 * epochs``) of ``recognizer_copies`` copies per clip (default
    :data:`avse_tf.systems.av_inpainting.phone_recognizer.RECOGNIZER_COPIES`) and 2 BLSTM layers.
    ``corpus_options``: further ``generate_grid_corpus`` keywords (:mod:`avse_tf.data.synth.options`).
    ``user_corpus``: run on a user's corpus instead (:func:`avse_tf.data.corpora.recipes.user_corpus_from_args`)."""
    from avse_tf.data.corpora.recipes import recipe_corpus
    from avse_tf.data.gaps import TEST_GAP_MS
    from avse_tf.data.preprocess import extract_landmarks
    from avse_tf.data.synth.options import check_corpus_options, make_corpus
    from avse_tf.systems.av_inpainting import evaluate, phone_recognizer, pipeline
    from avse_tf.systems.av_inpainting import train as training
    from avse_tf.training.checkpoints import load_model

    corpus_options = check_corpus_options(corpus_options)
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise UserInputError(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")

    def synthetic(folder):
        make_corpus(folder, speakers, utterances, seed, corpus_options)
        return split_speakers(speakers, validation_speakers, test_speakers)

    source = recipe_corpus(work_dir, user_corpus, synthetic)
    corpus, split = source.root, source.split
    extract_landmarks(corpus, source.speakers, "video", "landmarks", ext=source.video_extension)
    pipeline.generate_gap_sets(corpus, split, "gaps", seed=seed, train_copies=train_copies)
    pipeline.generate_records(corpus, "gaps", "inpainting_records")
    records = os.path.join(corpus, "inpainting_records")
    experiments = os.path.join(work_dir, "experiments")

    def train(model_name, units, epoch_count):
        return training.train(os.path.join(records, "TRAINING_SET"), os.path.join(records, "VALIDATION_SET"),
                                os.path.join(experiments, model_name), model_name, batch_size, epoch_count, patience,
                                seed, units, layers if model_name != "phone_recognizer" else None, verbose=verbose,
                                data_dir=corpus,
                                recognizer_copies=recognizer_copies or phone_recognizer.RECOGNIZER_COPIES)

    recognizer = recognizer_id = None
    if _has_phone_labels(records):
        train("phone_recognizer", recognizer_units or hidden_units, recognizer_epochs or 2 * epochs)
        recognizer_path = os.path.join(experiments, "phone_recognizer", BEST_CHECKPOINT)
        recognizer = load_model(recognizer_path)
        recognizer_id = _fingerprint(recognizer_path)
    else:  # a user's corpus without .align files: A / AV models, no project PER
        warnings.warn(InputWarning("no PER from the project's phone recogniser: the corpus has clips without .align "
                                   "files (avse align writes them)"), stacklevel=2)
    for model_name in models:
        train(model_name, hidden_units, epochs)
    test_sets = ["TEST_SET"] + [pipeline.fixed_gap_set_name(ms) for ms in TEST_GAP_MS]
    results = {}
    summary_path = os.path.join(work_dir, "results", "summary.json")
    done = {}
    if os.path.isfile(summary_path):
        with open(summary_path, encoding="utf-8") as handle:
            done = json.load(handle)
    for set_name in test_sets:
        for model_name in models:
            key = f"{set_name}/{model_name}"
            stale = key not in done or done[key].get("recognizer") != recognizer_id or "wer_clean" not in done[key]
            if stale:  # "wer_clean": tested before PocketSphinx scored the tables
                done[key] = evaluate.test(os.path.join(records, set_name), os.path.join(experiments, model_name),
                                            os.path.join(work_dir, "results", set_name, model_name),
                                            recognizer=recognizer, phase=phase,
                                            griffin_lim_iterations=griffin_lim_iterations)[1]
                done[key]["recognizer"] = recognizer_id
                atomic_write_text(summary_path, json.dumps(done, indent=1))
            results[(set_name, model_name)] = done[key]
    table = format_results(results, test_sets)
    atomic_write_text(os.path.join(work_dir, "results", "table.md"), table + "\n")
    return table
