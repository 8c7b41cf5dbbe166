"""The benchmark's input data: a small synthetic GRID corpus and every system's training records.

Made with the library's own steps: the synthetic corpus (:mod:`avse_tf.data.synth`), dlib
landmarks, target binary masks and 2-speaker training mixtures (:mod:`avse_tf.data`), then the
records of each :class:`avse_tf.training.benchmark.RecordsCase` the systems declare, in each of
its modes (``<corpus>/tfrecords_<name>_<mode>``; the first mode's normalisation statistics are
shared by the others).

Everything lives under ``<cache_dir>/<name>/`` and is made once: every library step skips outputs
that exist, and ``bench_data.json`` (written last, atomically) marks a finished set with its sizes,
so a second run starts measuring at once.
"""

from __future__ import annotations

import json
import os
import time

DATA_FORMAT = 2  # 2: records per records case (tfrecords_<name>_<mode>)


def sizes(quick: bool) -> dict:
    """Corpus and record sizes: ``--quick`` 2 speakers x 2 clips, the full run 3 x 4."""
    if quick:
        return {"speakers": 2, "utterances": 2, "mixtures_per_speaker": 2, "examples_per_shard": 2, "seed": 11}
    return {"speakers": 3, "utterances": 4, "mixtures_per_speaker": 4, "examples_per_shard": 4, "seed": 11}


def prepare(cache_dir: str, records_cases=(), quick: bool = False, log=print) -> dict:
    """Make (or find) the corpus and the records of ``records_cases``; returns paths (``records``:
    ``{case name: {mode: manifest}}``), the corpus clips and how long making them took."""
    from avse_tf.utils import atomic_write_text

    settings = {"format": DATA_FORMAT, **sizes(quick),
                "records": {case.name: list(case.modes) for case in records_cases}}
    name = "quick" if quick else "full"
    root = os.path.abspath(os.path.join(cache_dir, name))
    corpus = os.path.join(root, "corpus")
    marker = os.path.join(root, "bench_data.json")
    paths = {
        "root": root, "corpus": corpus,
        "records": {case.name: {mode: os.path.join(corpus, _records_dir(case, mode), "TRAINING_SET", "records.json")
                                for mode in case.modes} for case in records_cases},
        "mixtures": os.path.join(corpus, "mix", "TRAINING_SET"),
    }
    if os.path.isfile(marker):
        with open(marker, encoding="utf-8") as handle:
            found = json.load(handle)
        manifests = [path for modes in paths["records"].values() for path in modes.values()]
        if found.get("settings") == settings and all(os.path.isfile(p) for p in manifests):
            return {**paths, "clips": corpus_clips(corpus), "settings": settings, "cached": True, "seconds": 0.0,
                    "steps": found.get("steps", {})}

    from avse_tf.data.masks import compute_tbms
    from avse_tf.data.mixing import generate_mixtures
    from avse_tf.data.preprocess import extract_landmarks
    from avse_tf.data.synth.corpus import generate_grid_corpus

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
    for case in records_cases:
        for mode in case.modes:
            step(f"records_{case.name}_{mode}", case.write, corpus, mode, _records_dir(case, mode),
                 _records_dir(case, case.modes[0]), settings["examples_per_shard"])
    seconds = time.perf_counter() - started
    atomic_write_text(marker, json.dumps({"settings": settings, "steps": steps, "seconds": seconds}, indent=1) + "\n")
    return {**paths, "clips": corpus_clips(corpus), "settings": settings, "cached": False, "seconds": seconds,
            "steps": steps}


def _records_dir(case, mode) -> str:
    return f"tfrecords_{case.name}_{mode}"


def corpus_clips(corpus: str) -> list:
    """``(speaker folder, utterance)`` of every clip with landmarks, speakers in order."""
    clips = []
    for speaker in sorted(name for name in os.listdir(corpus) if name.startswith("s") and name[1:].isdigit()):
        folder = os.path.join(corpus, speaker, "landmarks")
        clips += [(speaker, name[:-4]) for name in sorted(os.listdir(folder)) if name.endswith(".txt")]
    return clips


def first_video(corpus: str) -> str:
    """The first video of speaker 1 (for the landmark benchmark)."""
    folder = os.path.join(corpus, "s1", "video")
    return os.path.join(folder, min(name for name in os.listdir(folder) if name.endswith(".mpg")))
