#!/usr/bin/env python
"""Benchmark suite of avse_tf: one command, a plain-text table, a JSON file.

    python tools/bench/run.py [--quick] [--json OUT.json] [--families enhancement,inpainting,speech2vid]
    python -m tools.bench ...            (the same, from the repository root)

Every registered system (:func:`avse_tf.systems.all_systems`, including those named in
``AVSE_TF_SYSTEMS``) is measured through the cases its ``bench`` hook returns
(:mod:`avse_tf.training.benchmark`). Measured in one process, one run (ratios are taken within the
run: the machine is shared):

* ``peak``: float32 square matrix multiply (``tf.linalg.matmul``), best of N, on ``--threads``
  threads; sampled again before and after every timed training step;
* ``training`` (every model of the chosen systems, paper presets): examples/s of a training step
  (Keras ``train_on_batch``, the library's losses, Adam) and its achieved FLOP/s (analytical
  count, :mod:`tools.bench.flops`, training = 3 x forward) as a fraction of the matrix-multiply
  peak sampled next to it;
* ``inference``: real-time factor (seconds of compute per second of audio) of one 3 s clip at
  batch 1, eager (Keras call), graph (``tf.function`` with a fixed input signature) and XLA
  (the same with ``jit_compile=True``);
* ``demo``: the live demo's compute margin of every streamed model (:mod:`tools.bench.demo_margin`);
* ``pipeline``: the systems' training records read into batches, and into the model inputs,
  examples/s, against 5 x what the fastest training step of that system consumes;
* ``preprocessing``: dlib landmark frames/s, detector on every frame vs the tracker policy;
  feature extraction clips/s of every system;
* ``profile``: why the BLSTM figures are what they are (one paper-size LSTM layer at several
  batch sizes against a plain matrix product of the same FLOPs).

See tools/bench/README.md for the measured table and what limits each target.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

SECTIONS = ("training", "inference", "demo", "pipeline", "preprocessing", "profile")
_START = time.perf_counter()


def log(message):
    print(f"[bench {time.perf_counter() - _START:6.1f} s] {message}", file=sys.stderr, flush=True)


def _error(error):
    return f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"


# ----------------------------------------------------------------------------------------------
# Arguments and the cases to run

def parse_args(argv=None):
    from avse_tf import systems
    from avse_tf.errors import UserInputError

    groups = [system.cli_group for system in systems.all_systems()]
    parser = argparse.ArgumentParser(prog="python tools/bench/run.py", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run (~2 min): reduced model sizes, fewer repetitions, tiny corpus")
    parser.add_argument("--json", default="bench.json", help="JSON output (written atomically); default bench.json")
    parser.add_argument("--families", default=",".join(groups),
                        help="comma-separated systems whose models are measured, by CLI group or system name "
                             f"(default: every registered one: {','.join(groups)}); pipeline and preprocessing "
                             "cover every registered system")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"comma-separated sections (default: all: {','.join(SECTIONS)}); the peak always runs")
    parser.add_argument("--cache_dir", default=os.path.join(tempfile.gettempdir(), "avse_tf_bench"),
                        help="where the synthetic corpus and records are made once and kept")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow intra- and inter-op threads (default 2)")
    parser.add_argument("--train_batch", type=int, default=None,
                        help="training batch of sequence models (default 64, quick 16; VCA-GAN: 8, for memory)")
    parser.add_argument("--train_seconds", type=float, default=None,
                        help="length of the sequence models' training crops in seconds (default 1.0; quick 0.5; "
                             "3 = whole clips)")
    parser.add_argument("--s2v_batch", type=int, default=None,
                        help="training batch of per-frame image models (Speech2Vid; default 16; quick 4)")
    parser.add_argument("--steps", type=int, default=None, help="timed training steps per model (default 2; quick 1)")
    parser.add_argument("--mixed_precision", action="store_true", help="mixed_float16 (for GPUs)")
    parser.add_argument("--profile_flops", action="store_true",
                        help="also count the forward FLOPs of the models without recurrences with TF's profiler "
                             "(~15 s each) as a check of the analytical count")
    args = parser.parse_args(argv)
    args.families = [name.strip() for name in args.families.split(",") if name.strip()]
    if not args.families:
        parser.error(f"no systems given; choose from {', '.join(groups)}")
    try:
        args.systems = list({system.name: system for system in map(systems.get, args.families)}.values())
    except UserInputError as error:
        parser.error(str(error))
    args.sections = [name.strip() for name in args.sections.split(",") if name.strip() and name.strip() != "peak"]
    unknown = sorted(set(args.sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    quick = args.quick
    args.train_batch_given = args.train_batch is not None
    args.train_batch = args.train_batch or (16 if quick else 64)
    args.train_seconds = args.train_seconds or (0.5 if quick else 1.0)
    args.s2v_batch = args.s2v_batch or (4 if quick else 16)
    args.steps = args.steps or (1 if quick else 2)
    return args


def bench_cases(system_list, kind):
    """``[(system, case)]`` of the given type over the systems' ``bench`` hooks, in registry order."""
    return [(system, case) for system in system_list if system.bench
            for case in system.resolve(system.bench)() if isinstance(case, kind)]


# ----------------------------------------------------------------------------------------------
# Sections

def run_models(report, args, peak, gpus, models):
    """The training, inference and demo sections over ``[(system, BenchCase)]``."""
    from tools.bench.models import build, measure_inference, measure_training

    if "training" in args.sections:
        report["training"] = []
        for system, case in models:
            try:
                result = measure_training(system.cli_group, case, args, peak, gpus)
                log(f"training {case.model}: {result['examples_per_second']:.1f} ex/s, {result['gflops']:.1f} GFLOP/s, "
                    f"{result['peak_fraction']:.2f} of peak")
            except Exception as error:  # one model's failure is a row of the table, not the end of the run
                result = {"family": system.cli_group, "model": case.model, "preset": case.preset,
                          "blstm": case.blstm, "error": _error(error)}
                log(f"training {case.model} FAILED: {result['error']}")
            report["training"].append(result)
    if "inference" in args.sections:
        report["inference"] = []
        for system, case in models:
            try:
                result = measure_inference(system.cli_group, case, args, gpus)
                log(f"inference {case.model}: " + ", ".join(f"{mode} {entry['rtf']:.3f}" if "rtf" in entry else
                                                            f"{mode} error" for mode, entry in result["modes"].items()))
            except Exception as error:
                result = {"family": system.cli_group, "model": case.model, "preset": case.preset, "blstm": case.blstm,
                          "clip_frames": case.clip_frames, "modes": {}, "best_compiled_rtf": None, "error": _error(error)}
                log(f"inference {case.model} FAILED: {result['error']}")
            report["inference"].append(result)
    if "demo" in args.sections:
        from tools.bench.demo_margin import measure_demo_margin

        report["demo"] = []
        for system, case in models:
            if not case.streams:
                continue
            try:
                result = measure_demo_margin(system.cli_group, case, build(case, args)[0])
                log(f"demo {case.model}: compute / block {result['margin_mean']:.3f} (max {result['margin_max']:.3f})")
            except Exception as error:
                result = {"family": system.cli_group, "model": case.model, "error": _error(error)}
                log(f"demo {case.model} FAILED: {result['error']}")
            report["demo"].append(result)


def run_pipeline(report, args, data, records):
    """The pipeline section over ``[(system, RecordsCase)]``; the demand of each system's records
    is its fastest training step in clips/s."""
    from avse_tf.systems import system_of_model
    from tools.bench.inputs import measure_pipeline
    from tools.bench.report import TARGETS

    batch = args.train_batch
    results = measure_pipeline(data, [case for _, case in records], args, batch)
    top = (None, None)
    for system, case in records:
        demand, model = None, None
        for result in report.get("training", []):
            if ("clips_per_second" in result and system_of_model(result["model"]) is system
                    and (demand is None or result["clips_per_second"] > demand)):
                demand, model = result["clips_per_second"], result["model"]
        for entry in results.values():
            if entry["label"] == case.name:
                entry.update(demand_clips_per_second=demand, demand_model=model,
                             stage_label="records -> parsed batches" if entry["stage"] == "parsed"
                             else case.model_inputs_label)
        if demand and (top[0] is None or demand > top[0]):
            top = (demand, model)
    report["pipeline"] = {"batch": batch, "results": results, "demand_clips_per_second": top[0],
                          "demand_model": top[1], "target": f">= {TARGETS['pipeline_factor']} x demand (model inputs)"}
    log("pipeline: " + ", ".join(f"{key} {entry['examples_per_second']:.0f} ex/s" for key, entry in results.items()))


# ----------------------------------------------------------------------------------------------

def main(argv=None):
    """Run the benchmark (``argv``: the command-line arguments); prints the table, writes the JSON."""
    global _START
    _START = time.perf_counter()
    from avse_tf import systems
    from avse_tf.training.benchmark import BenchCase, FeatureCase, RecordsCase
    from tools.bench import report as tables
    from tools.bench.machine import Peak, configure, load_average, machine_info

    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    gpus = configure(args)
    report = {"command": "python tools/bench/run.py " + " ".join(sys.argv[1:] if argv is None else argv),
              "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
              "settings": {"quick": args.quick, "families": args.families, "sections": args.sections,
                           "threads": args.threads, "train_batch": args.train_batch,
                           "train_seconds": args.train_seconds, "s2v_batch": args.s2v_batch, "steps": args.steps,
                           "cache_dir": os.path.abspath(args.cache_dir), "mixed_precision": args.mixed_precision,
                           "targets": tables.TARGETS},
              "machine": machine_info(args, gpus)}
    log(f"device {report['machine']['device']}, {args.threads} threads; systems "
        f"{', '.join(system.name for system in args.systems)}")

    # Models of the chosen systems; the data sections cover every registered system, as before.
    models = bench_cases(args.systems, BenchCase)
    records = bench_cases(systems.all_systems(), RecordsCase)
    features = [case for _, case in bench_cases(systems.all_systems(), FeatureCase)]
    data = None
    if "pipeline" in args.sections or "preprocessing" in args.sections:
        from tools.bench import data as bench_data

        data = bench_data.prepare(args.cache_dir, [case for _, case in records], args.quick, log=log)
        report["data"] = {key: data[key] for key in ("root", "settings", "cached", "seconds", "steps")}
        log("data ready" + (" (cached)" if data["cached"] else f" in {data['seconds']:.0f} s"))

    peak = Peak(sizes=(1024,) if args.quick else (512, 1024, 2048))
    report["peak"] = {"size": peak.size, "by_size": {str(k): v for k, v in peak.results.items()},
                      "gflops_start": peak.results[peak.size]}
    log(f"matmul peak {peak.results[peak.size]:.1f} GFLOP/s at {peak.size}x{peak.size}")

    run_models(report, args, peak, gpus, models)
    if "pipeline" in args.sections:
        run_pipeline(report, args, data, records)
    if "preprocessing" in args.sections:
        from tools.bench.inputs import measure_preprocessing

        report["preprocessing"] = measure_preprocessing(data, features, args)
        log("preprocessing done")
    if "profile" in args.sections:
        from tools.bench.lstm_profile import measure_profile

        try:
            report["profile"] = measure_profile(args, peak)
        except Exception as error:  # a diagnostic section: its failure is reported, not raised
            report["profile"] = {"error": _error(error)}
        log("profile done")
    if args.profile_flops:
        from tools.bench.models import flops_check

        report["flops_check"] = [flops_check(case, args) for _, case in models if not case.blstm]

    for result in report.get("training", []):  # against the whole run's best peak, known only now
        if "gflops" in result:
            result["peak_fraction_vs_run_best"] = result["gflops"] / peak.best
            result["peak_fraction_cpu_time"] = result["gflops_per_cpu_second"] / peak.cpu_best
    peak_samples = peak.samples or [peak.results[peak.size]]
    report["peak"].update(gflops_best=peak.best, gflops_per_cpu_second_best=peak.cpu_best, samples=peak.samples,
                          sample_min=min(peak_samples), sample_max=max(peak_samples),
                          method="tf.linalg.matmul float32 n x n in tf.function, best of 5 (3 per later sample)")
    report["machine"]["load_average_end"] = load_average()
    report["duration_seconds"] = time.perf_counter() - _START
    report["notes"] = tables.explain(report, args, [case for _, case in records])
    report["rows"] = tables.build_rows(report)
    checked = [row for row in report["rows"] if row["met"] is not None]
    report["targets_met"] = {"met": sum(row["met"] for row in checked), "checked": len(checked)}
    table = tables.format_table(report)
    report["table"] = table
    print(table)
    if args.json:
        tables.write_json(args.json, report)
        log(f"JSON written to {os.path.abspath(args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
