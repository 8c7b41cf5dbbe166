"""One command from nothing to the paper-style table of Morrone et al. 2019, on synthetic data or yours.

Steps (each resumable: finished outputs are kept):

1. ``synth-grid`` corpus; speakers split into training, validation and unseen test speakers
   (the last three are the test speakers, the three before them validation, the rest training);
   or the user's corpus (``--data_dir``, imported) with the user's three speaker lists;
2. landmarks (``video_preprocessing``) and oracle TBMs (``tbm_computation``) for every speaker;
3. for each mixture size (2, 3 speakers): mixtures per set, interferers drawn from the same set's
   speakers, so test mixtures contain unseen voices only; records with oracle TBMs;
4. train ``vl2m``, ``av_concat_mask``, ``av_concat_spec`` on them;
5. the ``_ref`` recipe of the paper: VL2M's estimated TBMs for every set (``testing --mask_dir``),
   records rebuilt with them (same normalisation statistics), ``vl2m_ref`` and
   ``av_concat_mask_ref`` trained on oracle TBMs, then fine-tuned on estimated ones;
6. every model tested on the unseen speakers (``_ref`` models with estimated TBMs, as at test time
   no oracle exists): metrics of the mixture, the enhanced signal and the improvement.

The step functions below (mixtures, testing, the ``_ref`` records, the table) also test these
experiments on a second corpus in ``tools/corpus_transfer.py``.
"""

from __future__ import annotations

import json
import os

from avse_tf.constants import BEST_CHECKPOINT, RECORDS_MANIFEST
from avse_tf.errors import UserInputError
from avse_tf.utils import atomic_write_text

SETS = ("TRAINING_SET", "VALIDATION_SET", "TEST_SET")
REF_MODELS = ("vl2m_ref", "av_concat_mask_ref")


def split_speakers(count):
    names = [f"s{k}" for k in range(1, count + 1)]
    if count < 8:
        raise UserInputError(f"the recipe needs at least 8 speakers (>= 2 training, 3 validation, 3 test), got {count}; "
                             "pass --speakers 8 or more")
    return {"TRAINING_SET": names[:-6], "VALIDATION_SET": names[-6:-3], "TEST_SET": names[-3:]}


def make_mixtures(corpus, split, size, utterances, num_mix, seed) -> str:
    """``<corpus>/mix<size>/<SET>``: mixtures of each set's speakers with each other (kept if made)."""
    from avse_tf.data.mixing import generate_mixtures

    mix_dir = f"mix{size}"
    for set_name, names in split.items():
        if not os.path.isfile(os.path.join(corpus, mix_dir, set_name, "mixtures.json")):
            generate_mixtures(corpus, names, names, "audio", os.path.join(mix_dir, set_name),
                              num_samples=utterances, num_mix=num_mix, num_mix_speakers=size - 1,
                              seed=seed + SETS.index(set_name))
    return mix_dir


def test_experiment(corpus, records, experiments, results_dir, model_name, exp_name=None, set_name="TEST_SET",
                    metrics=("sdr",), mask_dir=None) -> dict:
    """Summary of experiment ``<experiments>/<exp_name>`` (default: the model's name) tested on
    ``<corpus>/<records>/<set_name>``; CSV (and wavs, for the test set) in ``<results_dir>/<exp_name>/<set_name>``."""
    from avse_tf.systems.landmark_enhancement.evaluate import test

    exp_name = exp_name or model_name
    return test(os.path.join(corpus, records, set_name), os.path.join(experiments, exp_name),
                os.path.join(results_dir, exp_name, set_name), corpus, mask_dir, metrics=tuple(metrics),
                model_name=model_name, write_wavs=set_name == "TEST_SET")[1]


def estimated_records(corpus, size, experiments, results_dir, norm_data_dir, sets=SETS) -> str:
    """The ``_ref`` records: VL2M's estimated TBMs (experiment ``vl2m``) for ``sets`` and records rebuilt with
    them, normalised with the statistics in ``norm_data_dir``; returns their folder name."""
    from avse_tf.systems.landmark_enhancement.pipeline import generate_records

    estimated, mask_dir = f"tfrecords{size}_estimated", f"estimated_tbm{size}"
    if not os.path.isfile(os.path.join(corpus, estimated, "TEST_SET", RECORDS_MANIFEST)):
        for set_name in sets:
            test_experiment(corpus, f"tfrecords{size}", experiments, results_dir, "vl2m", set_name=set_name,
                            metrics=("stoi",), mask_dir=mask_dir)
    generate_records(corpus, size, "fixed", estimated, f"mix{size}", "landmarks", mask_dir,
                     norm_data_dir=norm_data_dir, sets=sets)
    return estimated


def records_of(model_name, size) -> str:
    """The records a model is tested on: ``_ref`` models with estimated TBMs (no oracle at test time)."""
    return f"tfrecords{size}_estimated" if model_name in REF_MODELS else f"tfrecords{size}"


def results_table(results, num_speakers, metrics) -> str:
    """The recipe's table from ``{(size, model): summary}``: per size, the mixture row and each model's
    enhanced value and improvement for every metric."""
    from avse_tf.metrics import format_table

    rows = []
    for size in num_speakers:
        sized = {model_name: summary for (s, model_name), summary in results.items() if s == size}
        if not sized:
            continue
        first = next(iter(sized.values()))
        rows.append((f"{size}spk mixture", {metric: first[f"{metric}_mixture"] for metric in metrics}))
        for model_name, summary in sized.items():
            values = {}
            for metric in metrics:
                values[metric] = summary[f"{metric}_enhanced"]
                values[f"{metric} impr."] = summary[f"{metric}_improvement"]
            rows.append((f"{size}spk {model_name}", values))
        floors = {metric: first[f"{metric}_clean"] for metric in metrics if f"{metric}_clean" in first}
        if floors:  # WER / PER of the clean targets: what the recogniser gets wrong without any mixing
            rows.append((f"{size}spk clean (recogniser floor)", floors))
    columns = [column for metric in metrics for column in (metric, f"{metric} impr.")]
    return format_table(rows, columns, precision=2, label="model")


def run_recipe(work_dir, speakers=10, utterances=12, epochs=20, hidden_units=250, layers=None, batch_size=8,
               num_speakers=(2, 3), models=("vl2m", "av_concat_mask", "av_concat_spec") + REF_MODELS,
               metrics=("sdr", "si_sdr", "pesq", "stoi", "estoi", "visqol"), seed=1, num_mix=2, patience=5,
               verbose="auto", corpus_options=None, user_corpus=None) -> str:
    """Every step (see the module doc) in ``work_dir``; returns the table (also ``results/table.txt``).
    ``corpus_options``: further ``generate_grid_corpus`` keywords (:mod:`avse_tf.data.synth.options`).
    ``user_corpus``: run on a user's corpus instead of a synthetic one
    (:func:`avse_tf.data.corpora.recipes.user_corpus_from_args`); ``utterances`` then caps the
    target utterances mixed per speaker (None: all)."""
    from avse_tf.data.corpora.recipes import recipe_corpus
    from avse_tf.data.masks import compute_tbms
    from avse_tf.data.preprocess import extract_landmarks
    from avse_tf.data.synth.options import check_corpus_options, make_corpus
    from avse_tf.systems.landmark_enhancement.pipeline import generate_records
    from avse_tf.systems.landmark_enhancement.train import train as train_model
    from avse_tf.systems.presets import get_preset

    corpus_options = check_corpus_options(corpus_options)

    def synthetic(folder):
        make_corpus(folder, speakers, utterances, seed, corpus_options)
        return split_speakers(speakers)

    source = recipe_corpus(work_dir, user_corpus, synthetic)
    corpus, split, every = source.root, source.split, source.speakers
    extract_landmarks(corpus, every, "video", "landmarks", ext=source.video_extension)
    compute_tbms(corpus, every, "audio", "tbm")
    results = {}
    for size in num_speakers:
        mix_dir = make_mixtures(corpus, split, size, utterances, num_mix, seed)
        oracle = f"tfrecords{size}"
        generate_records(corpus, size, "fixed", oracle, mix_dir, "landmarks", "tbm")
        experiments = os.path.join(work_dir, "experiments", f"{size}spk")
        results_dir = os.path.join(work_dir, "results", f"{size}spk")

        def train(model_name, records, exp_name, init=None):
            preset = get_preset(f"{model_name}_grid")
            options = dict(hidden_units=hidden_units, layers=layers or preset["architecture"]["num_layers"],
                           opt=preset["training"].get("optimizer", "adam"),
                           learning_rate=preset["training"].get("learning_rate", 1e-3))
            return train_model(os.path.join(corpus, records, "TRAINING_SET"),
                                     os.path.join(corpus, records, "VALIDATION_SET"),
                                     os.path.join(experiments, exp_name), model_name, batch_size, epochs, patience,
                                     seed, init_checkpoint=init, verbose=verbose, **options)

        needs_vl2m = "vl2m" in models or any(m in models for m in REF_MODELS)
        for model_name in ("vl2m", "av_concat_mask", "av_concat_spec"):
            if model_name in models or (model_name == "vl2m" and needs_vl2m):
                train(model_name, oracle, model_name)
        if any(m in models for m in REF_MODELS):
            estimated = estimated_records(corpus, size, experiments, results_dir, norm_data_dir=oracle)
            for model_name in REF_MODELS:
                if model_name in models:
                    train(model_name, oracle, model_name + "_oracle")
                    train(model_name, estimated, model_name,
                          init=os.path.join(experiments, model_name + "_oracle", BEST_CHECKPOINT))
        for model_name in models:
            results[(size, model_name)] = test_experiment(corpus, records_of(model_name, size), experiments,
                                                          results_dir, model_name, metrics=metrics)
    table = results_table(results, num_speakers, metrics)
    os.makedirs(os.path.join(work_dir, "results"), exist_ok=True)
    atomic_write_text(os.path.join(work_dir, "results", "table.txt"), table + "\n")
    atomic_write_text(os.path.join(work_dir, "results", "summary.json"),
                      json.dumps({f"{s}spk/{m}": v for (s, m), v in results.items()}, indent=1))
    return table
