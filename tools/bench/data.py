"""The benchmark's input data: a small synthetic GRID corpus and enhancement TFRecords in both modes.

Made with the library's own steps (the ones ``avse enhancement recipe`` runs): the synthetic corpus
(:mod:`avse_tf.data.synth`), dlib landmarks, target binary masks, 2-speaker training mixtures, and
:func:`avse_tf.tasks.enhancement.generate_records` (the enhancement pipeline's record writer) into
``fixed`` and ``var`` record sets sharing one set of normalisation statistics.

Everything lives under ``<cache_dir>/<name>/`` and is made once: every library step skips outputs
that exist, and ``bench_data.json`` (written last, atomically) marks a finished set with its sizes,
so a second run starts measuring at once.
"""

from __future__ import annotations

import json
import os
import time

DATA_FORMAT = 1


def sizes(quick: bool) -> dict:
    """Corpus and record sizes: ``--quick`` 2 speakers x 2 clips, the full run 3 x 4."""
    if quick:
        return {"speakers": 2, "utterances": 2, "mixtures_per_speaker": 2, "examples_per_shard": 2, "seed": 11}
    return {"speakers": 3, "utterances": 4, "mixtures_per_speaker": 4, "examples_per_shard": 4, "seed": 11}


def prepare(cache_dir: str, quick: bool = False, log=print) -> dict:
    """Make (or find) the corpus and records; returns paths and how long making them took."""
    from avse_tf.utils import atomic_write_text

    settings = {"format": DATA_FORMAT, **sizes(quick)}
    name = "quick" if quick else "full"
    root = os.path.abspath(os.path.join(cache_dir, name))
    corpus = os.path.join(root, "corpus")
    marker = os.path.join(root, "bench_data.json")
    paths = {
        "root": root, "corpus": corpus,
        "records": {mode: os.path.join(corpus, f"tfrecords_{mode}", "TRAINING_SET", "records.json")
                    for mode in ("fixed", "var")},
        "mixtures": os.path.join(corpus, "mix", "TRAINING_SET"),
    }
    if os.path.isfile(marker):
        with open(marker, encoding="utf-8") as handle:
            found = json.load(handle)
        if found.get("settings") == settings and all(os.path.isfile(p) for p in paths["records"].values()):
            return {**paths, "settings": settings, "cached": True, "seconds": 0.0, "steps": found.get("steps", {})}

    from avse_tf.data.masks import compute_tbms
    from avse_tf.data.mixing import generate_mixtures
    from avse_tf.data.preprocess import extract_landmarks
    from avse_tf.data.synth.corpus import generate_grid_corpus
    from avse_tf.systems.landmark_enhancement.pipeline import generate_records

    speakers = list(range(1, settings["speakers"] + 1))
    steps = {}
    started = time.perf_counter()

    def step(label, function, *args, **kwargs):
        begin = time.perf_counter()
        result = function(*args, **kwargs)
        steps[label] = round(time.perf_counter() - begin, 2)
        log(f"  data: {label} {steps[label]:.1f} s")
        return result

    log(f"  data: making the benchmark corpus and records in {root} (cached for later runs)")
    step("synth_corpus", generate_grid_corpus, corpus, speakers=settings["speakers"],
         utterances=settings["utterances"], seed=settings["seed"])
    step("landmarks", extract_landmarks, corpus, speakers, show_progress=False)
    step("tbms", compute_tbms, corpus, speakers)
    if not os.path.isfile(os.path.join(paths["mixtures"], "mixtures.json")):
        step("mixtures", generate_mixtures, corpus, speakers, speakers, dest_dir="mix/TRAINING_SET",
             num_samples=settings["mixtures_per_speaker"], num_mix=1, seed=settings["seed"])
    for mode in ("fixed", "var"):
        step(f"records_{mode}", generate_records, corpus, num_speakers=2, mode=mode, dest_dir=f"tfrecords_{mode}",
             norm_data_dir="tfrecords_fixed", examples_per_shard=settings["examples_per_shard"],
             sets=("TRAINING_SET",))
    seconds = time.perf_counter() - started
    atomic_write_text(marker, json.dumps({"settings": settings, "steps": steps, "seconds": seconds}, indent=1) + "\n")
    return {**paths, "settings": settings, "cached": False, "seconds": seconds, "steps": steps}


def first_video(corpus: str) -> str:
    """The first video of speaker 1 (for the landmark benchmark)."""
    folder = os.path.join(corpus, "s1", "video")
    return os.path.join(folder, sorted(name for name in os.listdir(folder) if name.endswith(".mpg"))[0])
