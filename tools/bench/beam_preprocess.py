#!/usr/bin/env python
"""Corpus preparation: Apache Beam's DirectRunner against the local loop, and where a clip's time goes.

    python tools/bench/beam_preprocess.py [--speakers 4 --utterances 6] [--workers 2] [--systems pseudo_visual]

For every system with a clip-by-clip preparation (``System.preparation``), on one synthetic corpus
made first, in one run (ratios within the run: the machine is shared):

* ``local``: ``avse preprocess <system>`` with the default runner (one clip after another, one process);
* ``direct``: the same with ``--runner direct --beam_option direct_num_workers=N`` (Beam's
  DirectRunner, multi-processing: N worker processes on this machine), which writes the same
  records (checked here too: the same examples, to float32 rounding where statistics are combined);
* clips/s of each, end to end (clip stage and records; the Beam run includes starting its worker
  processes, which import TensorFlow, for each of its two pipelines);
* the per-clip cost broken down (decode, detect/track, features, write, serialize, the rest), from a
  profile of the local run: cumulative seconds of the library's functions for each part, per clip
  (the profiler's own overhead lands in the local run's total; the parts are native calls mostly).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import sys
import tempfile
import time

# What each part of a clip's cost is made of: (part, functions whose cumulative time counts for it).
# Disjoint parts: decoding counts the records stage's reading back of the written files too.
# detect/track: dlib's detector + tracker (``boxes``) and, where landmarks are fitted, the shape
# model too (``extract``, which calls ``boxes``: the larger of the two is taken, not their sum).
PARTS = (
    ("decode", ("read_video", "load_audio", "imread")),
    ("detect/track", ("extract", "boxes")),
    # each features function calls the STFT itself (not counted again); Speech2Vid: alignment + MFCC
    ("features", ("clip_features", "wav2lip_mel", "highpass", "example_features", "align_faces", "compute_mfcc")),
    ("write", ("imwrite", "write_audio", "write_video", "savez", "save_landmarks_txt")),
    ("serialize", ("serialize_example",)),
)
NESTED = {"detect/track"}


def _run(arguments) -> float:
    from avse_tf.cli.main import main

    start = time.perf_counter()
    status = main(arguments)
    if status != 0:
        raise SystemExit(f"avse {' '.join(arguments)} failed ({status})")
    return time.perf_counter() - start


def _same_records(first, second) -> bool:
    """Every record set of ``first`` holds the same examples in ``second``: strings equal once each
    run's folder is replaced by one name (records keep absolute paths), arrays to float32 rounding
    (normalised with statistics combined in another order, equal to ~1e-7)."""
    import numpy as np

    from avse_tf.records import read_examples

    sets = sorted(os.path.relpath(parent, first) for parent, _, names in os.walk(first) if "records.json" in names)

    def examples(root, folder):  # strings and raw bytes (images) are bytes: the run's folder replaced
        return [{key: value.replace(root.encode(), b"RUN") if isinstance(value, bytes) else value
                 for key, value in example.items()} for example in read_examples(os.path.join(root, folder))]

    for folder in sets:
        left, right = examples(first, folder), examples(second, folder)
        if len(left) != len(right) or not left:
            return False
        for a, b in zip(left, right):
            if a.keys() != b.keys() or not all(
                    a[key] == b[key] if isinstance(a[key], bytes) else np.allclose(a[key], b[key], rtol=1e-5, atol=1e-5)
                    for key in a):
                return False
    return bool(sets)


def _breakdown(profile_file, clips) -> dict:
    stats = pstats.Stats(profile_file)
    cumulative = {}
    for (_, _, function), (_, _, _, seconds, _) in stats.stats.items():
        if function.startswith("<built-in method "):  # "<built-in method cv2.imwrite>" -> "imwrite"
            function = function[len("<built-in method "):-1].rsplit(".", 1)[-1]
        cumulative[function] = cumulative.get(function, 0.0) + seconds
    combine = {part: (max if part in NESTED else sum) for part, _ in PARTS}
    return {part: combine[part](cumulative.get(name, 0.0) for name in names) / clips for part, names in PARTS}


def measure(system, corpus, work, workers, clips) -> dict:
    local, direct = os.path.join(work, f"{system}_local"), os.path.join(work, f"{system}_direct")
    common = ["preprocess", system, "--data_dir", corpus]
    profiler = cProfile.Profile()
    profiler.enable()
    local_seconds = _run([*common, "--dest_dir", local])
    profiler.disable()
    profile_file = os.path.join(work, f"{system}.prof")
    profiler.dump_stats(profile_file)
    beam = ["--runner", "direct", "--beam_option", f"direct_num_workers={workers}"]
    direct_seconds = _run([*common, "--dest_dir", direct, *beam])
    return {"system": system, "clips": clips, "local_s": local_seconds, "direct_s": direct_seconds,
            "same_records": _same_records(local, direct),
            "parts": _breakdown(profile_file, clips)}


def format_table(rows, workers) -> str:
    lines = [f"| system | clips | local s | direct s | local clips/s | direct ({workers} workers) clips/s | "
             "direct / local | same records |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        lines.append(f"| {row['system']} | {row['clips']} | {row['local_s']:.1f} | {row['direct_s']:.1f} | "
                     f"{row['clips'] / row['local_s']:.2f} | {row['clips'] / row['direct_s']:.2f} | "
                     f"{row['local_s'] / row['direct_s']:.2f} | {'yes' if row['same_records'] else 'NO'} |")
    lines += ["", "per clip, local loop (profile, cumulative s):", "",
              "| system | " + " | ".join(part for part, _ in PARTS) + " | other | total |",
              "| --- | " + " | ".join("---" for _ in PARTS) + " | --- | --- |"]
    for row in rows:
        total = row["local_s"] / row["clips"]
        lines.append(f"| {row['system']} | " + " | ".join(f"{row['parts'][part]:.3f}" for part, _ in PARTS)
                     + f" | {total - sum(row['parts'].values()):.3f} | {total:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    from avse_tf.systems import all_systems

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speakers", type=int, default=4)
    parser.add_argument("--utterances", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2, help="DirectRunner worker processes (default 2)")
    parser.add_argument("--systems", default=None, help="comma-separated; default: every system with a preparation")
    args = parser.parse_args(argv)
    systems = args.systems.split(",") if args.systems else [s.name for s in all_systems() if s.preparation]
    os.environ.setdefault("AVSE_PROGRESS", "0")
    work = tempfile.mkdtemp(prefix="avse-beam-bench-")
    try:
        from avse_tf.data.synth.corpus import generate_grid_corpus

        corpus = os.path.join(work, "corpus")
        generate_grid_corpus(corpus, speakers=args.speakers, utterances=args.utterances, seed=1)
        clips = args.speakers * args.utterances
        rows = []
        for system in systems:
            rows.append(measure(system, corpus, work, args.workers, clips))
            print(format_table(rows[-1:], args.workers), flush=True)  # kept if a later system fails
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{os.cpu_count()} cores, {clips} clips of about 3 s (synthetic corpus, {args.speakers} speakers)")
    print(format_table(rows, args.workers))
    return 0 if all(row["same_records"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
