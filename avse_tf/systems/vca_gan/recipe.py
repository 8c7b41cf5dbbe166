"""``avse lip2speech recipe``: from nothing to the lip-to-speech table of Kim et al. 2021, on a
synthetic corpus in any of the generator's languages.

Steps (each resumable: finished outputs are kept):

1. ``synth-grid`` corpus (``language``); the last ``unseen_speakers`` speakers are held out;
2. ``preprocess``: 3 s segments, lip crops, features, records; the other speakers' clips split by
   clip into training / validation / test, the held-out speakers' clips into ``unseen``;
3. VCA-GAN, and the regression-only baseline (same generator and preset, no adversarial or sync
   loss), trained the same number of epochs on the same windows;
4. both scored on the two settings, as the paper: constrained-speaker (``test``: unseen utterances
   of the training speakers, the paper's GRID s1/s2/s4/s29 protocol) and unseen-speaker
   (``unseen``); with the nearest-neighbour baseline (the training clip with the closest lips, its
   audio; :func:`evaluate.nearest_neighbour_waveforms`, on the GAN's visual features) and the
   recogniser's floor (WER of the clean test audio; English only: PocketSphinx has the CMU
   US-English model). The paper's row is printed beside ours, labelled as the paper's.
"""

from __future__ import annotations

import json
import os

from avse_tf.errors import UserInputError
from avse_tf.utils import atomic_write_text

MODELS = {"vca_gan": "VCA-GAN", "regression": "Regression only"}
SETTINGS = {"test": "constrained speakers (unseen utterances)", "unseen": "unseen speakers"}
COLUMNS = ("stoi", "estoi", "pesq_nb", "pesq_wb", "mcd", "wer")


def _format(value, column):
    if value is None:
        return "-"
    return f"{100 * value:.1f} %" if column == "wer" else f"{value:.3f}"


def format_table(results, language) -> str:
    """One table per setting: rows GAN, regression-only, nearest neighbour, clean floor, the paper's."""
    from avse_tf.systems.vca_gan.evaluate import PAPER_GRID_CONSTRAINED

    lines = []
    for setting, title in SETTINGS.items():
        if setting not in results:
            continue
        entry = results[setting]
        lines += [f"### {title} ({language}, {entry['vca_gan']['clips']} clips)", "",
                  "| system | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
        rows = [(MODELS["vca_gan"], entry["vca_gan"]), (MODELS["regression"], entry["regression"]),
                ("Nearest neighbour (training clip with the closest lips)", entry["nearest_neighbour"])]
        if "clean" in entry:
            rows.append(("Clean test audio (recogniser floor)", entry["clean"]))
        if setting == "test":
            rows.append(("Paper: VCA-GAN, GRID constrained (not ours)", PAPER_GRID_CONSTRAINED))
        for label, values in rows:
            lines.append(f"| {label} | " + " | ".join(_format(values.get(c), c) for c in COLUMNS) + " |")
        lines.append("")
    lines.append("PESQ nb: narrow-band at 8 kHz (the paper's); pesq_wb: wide-band at 16 kHz; MCD in dB; WER: "
                 "PocketSphinx, GRID grammar (English only).")
    return "\n".join(lines)


def run_recipe(work_dir, language="en", speakers=8, utterances=16, unseen_speakers=2, epochs=30, preset="vca_gan_cpu",
               batch_size=None, learning_rate=None, seed=1, griffin_lim_iterations=60, val_fraction=0.1, test_fraction=0.15,
               verbose="auto") -> str:
    """Run every step (module doc) in ``work_dir``; returns the tables (also ``results/table.md``).
    ``learning_rate``: both optimisers' (default: the preset's, the paper's 1e-4)."""
    from avse_tf.data.synth.options import make_corpus
    from avse_tf.systems.vca_gan import evaluate
    from avse_tf.systems.vca_gan.preprocess import preprocess
    from avse_tf.systems.vca_gan.train import train

    if speakers - unseen_speakers < 2 or unseen_speakers < 1:
        raise UserInputError(f"the recipe needs >= 2 training speakers and >= 1 unseen speaker; got --speakers "
                             f"{speakers} --unseen_speakers {unseen_speakers}")
    corpus = os.path.join(work_dir, "corpus")
    make_corpus(corpus, speakers, utterances, seed, {"language": language})
    data = os.path.join(work_dir, "data")
    held_out = [f"s{k}" for k in range(speakers - unseen_speakers + 1, speakers + 1)]
    preprocess(corpus, data, layout="auto", val_fraction=val_fraction, test_fraction=test_fraction, seed=seed,
               unseen_speakers=held_out)
    experiments = os.path.join(work_dir, "experiments")
    for name in MODELS:
        train(data, os.path.join(experiments, name), preset, batch_size, epochs, learning_rate=learning_rate, seed=seed,
              regression_only=name == "regression", verbose=verbose)
    summary_path = os.path.join(work_dir, "results", "summary.json")
    results = {}
    if os.path.isfile(summary_path):
        with open(summary_path, encoding="utf-8") as handle:
            results = json.load(handle)
    recognize = language == "en"
    for setting in SETTINGS:
        entry = results.setdefault(setting, {})
        for name in MODELS:
            if name in entry:
                continue
            scored = evaluate.test(data, os.path.join(experiments, name), setting,
                                   output_dir=os.path.join(work_dir, "results", setting, name),
                                   griffin_lim_iterations=griffin_lim_iterations, recognize=recognize,
                                   nearest_neighbour=name == "vca_gan")
            entry[name] = scored["model"]
            if "nearest_neighbour" in scored:
                entry["nearest_neighbour"] = scored["nearest_neighbour"]
            if "clean" in scored:
                entry["clean"] = scored["clean"]
            atomic_write_text(summary_path, json.dumps(results, indent=1) + "\n")
    table = format_table(results, language)
    atomic_write_text(os.path.join(work_dir, "results", "table.md"), table + "\n")
    return table
