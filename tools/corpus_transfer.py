#!/usr/bin/env python3
"""Transfer between synthetic corpora: train on one, test on a second made with other settings.

    python tools/corpus_transfer.py --work_dir DIR [--source seed=1,voices=distinct] [--target seed=7,voices=legacy]

The enhancement recipe (:func:`avse_tf.systems.landmark_enhancement.recipe.run_recipe`) trains the
models on a ``--source`` corpus in ``DIR`` and tests them on that corpus's unseen test speakers
(table 1, the recipe's table). A ``--target`` corpus is made in ``DIR/transfer/corpus`` with the same
speaker count and utterances, and its test speakers (the last three, as in the recipe) get landmarks,
TBMs, mixtures and records normalised with the SOURCE corpus's training statistics (what the trained
models expect); the same experiments are tested on them (table 2, the same format). The third table
is the improvement on the target minus that on the source (how much of the figure the source corpus's
settings carry), with the standard error of that difference from the per-mixture values (a lower
bound: the draw of three test speakers varies more; a target that changes only the seed measures it).

Settings are ``generate_grid_corpus`` keywords as ``key=value`` (``seed``, ``voices``, ``video``
where the generator has it...); the target takes the source's for the keys it does not set.

Resumable like the recipe: finished steps are kept, trained models are not trained again. Output:
the three tables on stdout and in ``DIR/transfer/table.txt``, the figures in ``DIR/transfer/summary.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:  # run from a checkout: use its avse_tf
    sys.path.insert(0, REPO)

DEFAULT_SOURCE = "seed=1,voices=distinct"
DEFAULT_TARGET = "seed=7,voices=legacy"
DEFAULT_SEED = 1  # the recipe's
# Flags whose change makes a work folder's finished steps wrong for the new run: refused on resume.
FIXED_SETTINGS = ("source", "target", "speakers", "utterances", "num_mix", "epochs", "hidden_units", "layers",
                  "batch_size", "patience")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python tools/corpus_transfer.py", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 2)[2])
    parser.add_argument("--work_dir", required=True,
                        help="the source recipe's folder; the target goes in <work_dir>/transfer")
    parser.add_argument("--source", default=DEFAULT_SOURCE,
                        help=f"training corpus settings, key=value,... (default {DEFAULT_SOURCE}; seed default "
                             f"{DEFAULT_SEED}; unset keys: the library's defaults)")
    parser.add_argument("--target", default=DEFAULT_TARGET,
                        help=f"test corpus settings, key=value,...; unset keys are the source's (default "
                             f"{DEFAULT_TARGET})")
    parser.add_argument("--models", default="av_concat_mask", help="comma-separated enhancement models")
    parser.add_argument("--speakers", type=int, default=10, help="speakers per corpus (at least 8): the last 3 are "
                        "the test speakers, the 3 before them validation, the rest training")
    parser.add_argument("--utterances", type=int, default=6, help="utterances per speaker")
    parser.add_argument("--num_mix", type=int, default=2, help="mixtures per target utterance")
    parser.add_argument("--num_speakers", default="2", help="mixture sizes, e.g. 2 or 2,3")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--hidden_units", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2, help="BLSTM layers (0: each preset's)")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--patience", type=int, default=5, help="early stopping patience (epochs)")
    parser.add_argument("--metrics", default="sdr,si_sdr,stoi", help="comma-separated (the recipe's metric names)")
    return parser.parse_args(argv)


def corpus_settings(source_text, target_text):
    """``(source, target)`` settings dicts, each with its ``seed``; the target inherits unset keys."""
    from avse_tf.data.synth.options import RECIPE_KEYS, parse_corpus_settings

    reserved = tuple(key for key in RECIPE_KEYS if key != "seed")  # the seed is a corpus setting here
    source = {"seed": DEFAULT_SEED, **parse_corpus_settings(source_text, "--source", reserved)}
    target = {**source, **parse_corpus_settings(target_text, "--target", reserved)}
    return source, target


def options_of(settings) -> dict:
    """The ``generate_grid_corpus`` keywords besides the seed (the recipe takes it as its own argument)."""
    return {key: value for key, value in settings.items() if key != "seed"}


def describe(settings) -> str:
    return ", ".join(f"{key}={value}" for key, value in settings.items())


def check_settings(path, settings) -> bool:
    """Whether ``path`` holds the first run's settings; a resume with other ones would mix two experiments."""
    from avse_tf.errors import UserInputError

    if not os.path.isfile(path):
        return False
    with open(path, encoding="utf-8") as handle:
        before = json.load(handle)
    changed = [key for key in FIXED_SETTINGS if before.get(key) != settings[key]]
    if changed:
        what = ", ".join(f"{key}: {before.get(key)} -> {settings[key]}" for key in changed)
        raise UserInputError(f"{path} holds a run with other settings ({what}); use another --work_dir or the "
                             "same flags")
    return True


def test_on_target(work_dir, target_corpus, test_speakers, settings, sizes, models, metrics) -> dict:
    """``{(size, model): summary}`` of the source's experiments on the target's test speakers."""
    from avse_tf.data.masks import compute_tbms
    from avse_tf.data.preprocess import extract_landmarks
    from avse_tf.systems.landmark_enhancement.pipeline import generate_records
    from avse_tf.systems.landmark_enhancement.recipe import (
        REF_MODELS,
        estimated_records,
        make_mixtures,
        records_of,
        test_experiment,
    )

    extract_landmarks(target_corpus, test_speakers, "video", "landmarks")
    compute_tbms(target_corpus, test_speakers, "audio", "tbm")
    results = {}
    for size in sizes:
        # The target's test set only, mixed as the recipe mixes a test set, with the target's seed.
        mix_dir = make_mixtures(target_corpus, {"TEST_SET": test_speakers}, size, settings["utterances"],
                                settings["num_mix"], settings["target"]["seed"])
        # The source's training statistics (absolute path): the models were trained on features normalised so.
        norm = os.path.abspath(os.path.join(work_dir, "corpus", f"tfrecords{size}"))
        generate_records(target_corpus, size, "fixed", f"tfrecords{size}", mix_dir, "landmarks", "tbm",
                         norm_data_dir=norm, sets=("TEST_SET",))
        experiments = os.path.join(work_dir, "experiments", f"{size}spk")
        results_dir = os.path.join(work_dir, "transfer", "results", f"{size}spk")
        if any(model_name in REF_MODELS for model_name in models):
            estimated_records(target_corpus, size, experiments, results_dir, norm, sets=("TEST_SET",))
        for model_name in models:
            results[(size, model_name)] = test_experiment(target_corpus, records_of(model_name, size), experiments,
                                                          results_dir, model_name, metrics=metrics)
    return results


def standard_error(path, metric) -> float:
    """Standard error of the mean improvement in a testing CSV, mixtures taken as independent. A lower
    bound: it leaves out which 3 test speakers a seed draws (a seed-only target measures that)."""
    import csv

    import numpy as np

    with open(path, newline="", encoding="utf-8") as handle:
        values = [float(row[f"{metric}_improvement"]) for row in csv.DictReader(handle)]
    return float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")


def difference_table(source, target, metrics, source_results_dir, target_results_dir) -> tuple:
    """Target minus source improvement per (size, model) with the standard error of that difference
    (the two test sets are independent): ``(table, {"<size>spk/<model>": {...}})``."""
    from avse_tf.metrics import format_table

    rows, figures = [], {}
    for (size, model_name), summary in target.items():
        # Where test_experiment put each set's per-mixture CSV (evaluate.test names it after the model).
        csvs = [os.path.join(folder, f"{size}spk", model_name, "TEST_SET", f"metrics_{model_name}.csv")
                for folder in (source_results_dir, target_results_dir)]
        row, figure = {}, {}
        for metric in metrics:
            key = f"{metric}_improvement"
            figure[key] = summary[key] - source[(size, model_name)][key]
            figure[key + "_se"] = float(sum(standard_error(path, metric) ** 2 for path in csvs) ** 0.5)
            row[f"{metric} impr."], row[f"{metric} s.e."] = figure[key], figure[key + "_se"]
        figures[f"{size}spk/{model_name}"] = figure
        rows.append((f"{size}spk {model_name}", row))
    columns = [column for metric in metrics for column in (f"{metric} impr.", f"{metric} s.e.")]
    return format_table(rows, columns, precision=2, label="model"), figures


def run(args) -> str:
    from avse_tf.cli.main import import_tensorflow_quietly
    from avse_tf.errors import UserInputError
    from avse_tf.systems.landmark_enhancement import SYSTEM
    from avse_tf.utils import atomic_write_text
    from avse_tf.workdir_lock import work_folder_lock

    source, target = corpus_settings(args.source, args.target)
    models = [name for name in args.models.split(",") if name]
    unknown = [name for name in models if name not in SYSTEM.models]
    if unknown or not models:
        raise UserInputError(f"--models {args.models}: choose from {', '.join(SYSTEM.models)}")
    try:
        sizes = [int(size) for size in args.num_speakers.split(",")]
    except ValueError:
        raise UserInputError(f"--num_speakers {args.num_speakers}: expected sizes such as 2 or 2,3") from None
    metrics = [metric for metric in args.metrics.split(",") if metric]
    settings = {**vars(args), "source": source, "target": target, "layers": args.layers or None}
    fixed = {key: settings[key] for key in FIXED_SETTINGS}
    transfer = os.path.join(args.work_dir, "transfer")
    command = "corpus_transfer " + shlex.join(sys.argv[1:])
    with work_folder_lock(args.work_dir, command):
        import_tensorflow_quietly()
        from avse_tf.data.synth.options import make_corpus
        from avse_tf.systems.landmark_enhancement.recipe import results_table, run_recipe, split_speakers

        test_speakers = split_speakers(args.speakers)["TEST_SET"]
        settings_file = os.path.join(transfer, "settings.json")
        recorded = check_settings(settings_file, settings)
        # Both corpora first (the recipe then finds its own made): a setting either refuses fails now,
        # not after the training, and before settings.json records it.
        target_corpus = os.path.join(transfer, "corpus")
        for folder, corpus in ((target_corpus, target), (os.path.join(args.work_dir, "corpus"), source)):
            make_corpus(folder, args.speakers, args.utterances, corpus["seed"], options_of(corpus))
        if not recorded:
            atomic_write_text(settings_file, json.dumps(fixed, indent=1) + "\n")
        run_recipe(args.work_dir, speakers=args.speakers, utterances=args.utterances, epochs=args.epochs,
                   hidden_units=args.hidden_units, layers=settings["layers"], batch_size=args.batch_size,
                   num_speakers=sizes, models=models, metrics=metrics, seed=source["seed"], num_mix=args.num_mix,
                   patience=args.patience, corpus_options=options_of(source))
        with open(os.path.join(args.work_dir, "results", "summary.json"), encoding="utf-8") as handle:
            recipe_summary = json.load(handle)
        source_results = {(size, name): recipe_summary[f"{size}spk/{name}"] for size in sizes for name in models}
        target_results = test_on_target(args.work_dir, target_corpus, test_speakers, settings, sizes, models,
                                        metrics)
        difference, figures = difference_table(source_results, target_results, metrics,
                                               os.path.join(args.work_dir, "results"),
                                               os.path.join(transfer, "results"))
        speakers = f"test speakers {', '.join(test_speakers)}"
        text = "\n\n".join([
            f"## 1. source corpus ({describe(source)}): trained here, tested on its {speakers}\n"
            + results_table(source_results, sizes, metrics),
            f"## 2. target corpus ({describe(target)}): the same models on its {speakers} "
            "(normalised with the source's training statistics)\n" + results_table(target_results, sizes, metrics),
            "## 3. target minus source (improvement columns; s.e.: standard error of the difference, "
            "per-mixture values taken as independent)\n" + difference])
        atomic_write_text(os.path.join(transfer, "table.txt"), text + "\n")
        atomic_write_text(os.path.join(transfer, "summary.json"), json.dumps({
            "settings": fixed,
            "source": {f"{s}spk/{m}": v for (s, m), v in source_results.items()},
            "target": {f"{s}spk/{m}": v for (s, m), v in target_results.items()},
            "difference": figures}, indent=1) + "\n")
    return text


def main(argv=None) -> int:
    from avse_tf.errors import UserInputError, disk_full_error

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = parse_args(argv)
    try:
        text = run(args)
    except Exception as error:  # the user's input or a full disk: one line, exit 2 (as `avse`)
        known = disk_full_error(error) or (error if isinstance(error, UserInputError) else None)
        if known is None:
            raise
        print(f"corpus_transfer: error: {known}", file=sys.stderr)
        return known.exit_code
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
