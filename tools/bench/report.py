"""The report: table rows with their targets, the plain-text table, footer notes, the JSON file."""

from __future__ import annotations

import json

from avse_tf.training.benchmark import CLIP_SECONDS, VIDEO_FPS
from tools.bench.models import MODE_LABELS

TARGETS = {"pipeline_factor": 5.0, "blstm_peak_fraction": 0.5, "rtf": 0.05}


def _row(section, model, measurement, value, unit, target=None, met=None, note=None):
    return {"section": section, "model": model, "measurement": measurement, "value": value, "unit": unit,
            "target": target, "met": met, "note": note}


def build_rows(report):
    rows = []
    peak = report["peak"]
    rows.append(_row("peak", "-", f"matmul float32 {peak['size']}x{peak['size']}, {report['machine']['threads']} threads",
                     peak["gflops_start"], "GFLOP/s"))
    rows.append(_row("peak", "-", "matmul, best sample in the run", peak["gflops_best"], "GFLOP/s"))
    for result in report.get("training", []):
        model = result["model"]
        if "error" in result:
            rows.append(_row("training", model, "training step", None, "", note=result["error"]))
            continue
        shape = (f"B={result['batch']}" + ("" if result["frames"] is None
                                          else f", {result['frames']} frames ({result['crop_seconds']:.2f} s crops)"))
        rows.append(_row("training", model, f"examples/s, {shape}", result["examples_per_second"], "ex/s"))
        if result["frames"] is not None:
            rows.append(_row("training", model, "3 s clips/s equivalent", result["clips_per_second"], "clips/s"))
        rows.append(_row("training", model, "achieved FLOP/s (3 x forward, analytical)", result["gflops"], "GFLOP/s"))
        blstm = result.get("blstm")
        fraction = result["peak_fraction"]
        target = TARGETS["blstm_peak_fraction"] if blstm else None
        rows.append(_row("training", model, "fraction of matmul peak (adjacent samples)", fraction, "",
                         f">= {target:.2f}" if target else None, (fraction >= target) if target else None,
                         note=f"vs the run's best peak {result['peak_fraction_vs_run_best']:.2f}; "
                              f"CPU-time normalised {result['peak_fraction_cpu_time']:.2f}"))
    for result in report.get("inference", []):
        model = result["model"]
        target = TARGETS["rtf"] if result.get("blstm") else None
        for mode, entry in result["modes"].items():
            label = MODE_LABELS[mode]
            if "error" in entry:
                rows.append(_row("inference", model, label, None, "", note=entry["error"]))
                continue
            is_best = entry["rtf"] == result["best_compiled_rtf"]
            rows.append(_row("inference", model, f"{label} ({result['input']})", entry["rtf"], "x real time",
                             f"<= {target}" if target and is_best else None,
                             (entry["rtf"] <= target) if target and is_best else None))
    for result in report.get("demo", []):
        if "error" in result:
            rows.append(_row("demo", result["model"], "live demo compute margin", None, "", note=result["error"]))
            continue
        rows.append(_row("demo", result["model"], f"compute per {result['block_ms']:g} ms block / block duration "
                         f"(mean of {result['chunks']})", result["margin_mean"], "", "< 1",
                         result["margin_mean"] < 1,
                         note=f"p95 {result['margin_p95']:.3f}, max {result['margin_max']:.3f}; "
                              f"{result['compute_ms_mean']:.1f} ms per block"))
    pipeline = report.get("pipeline")
    if pipeline:
        demands = {}
        for entry in pipeline["results"].values():
            demand = entry.get("demand_clips_per_second")
            target = (TARGETS["pipeline_factor"] * demand) if demand and entry["stage"] == "model_inputs" else None
            label = "records -> parsed batches" if entry["stage"] == "parsed" else entry["stage_label"]
            rows.append(_row("pipeline", f"{entry['label']} {entry['mode']}", label,
                             entry["examples_per_second"], "ex/s", f">= {target:.1f}" if target else None,
                             (entry["examples_per_second"] >= target) if target else None))
            if demand:
                demands[entry["label"]] = (entry["demand_model"], demand)
        for name, (model, demand) in demands.items():
            rows.append(_row("pipeline", "-", f"training demand ({model}, fastest {name} step)", demand, "clips/s"))
    for key, entry in (report.get("preprocessing") or {}).items():
        if "error" in entry:
            rows.append(_row("preprocessing", key, entry["label"], None, "", note=entry["error"]))
        elif "frames_per_second" in entry:
            rows.append(_row("preprocessing", "landmarks", entry["label"], entry["frames_per_second"], "frames/s",
                             note=f"detector ran on {entry['detector_frames']}/{entry['frames']} frames"))
        else:
            rows.append(_row("preprocessing", "features", entry["label"], entry["clips_per_second"], "clips/s"))
    profile = report.get("profile")
    if profile and "batches" in profile:
        for batch, entry in profile["batches"].items():
            rows.append(_row("profile", "LSTM layer", f"{profile['layer']}, B={batch}: fraction of peak",
                             entry["lstm_peak_fraction"], "",
                             note=f"one GEMM of the same FLOPs: {entry['gemm_peak_fraction']:.2f}; the recurrence "
                                  f"adds {entry['beyond_gemm_us_per_frame']:.0f} us per frame (fwd+bwd)"))
        for mode, value in profile["batch1_forward_us_per_frame"].items():
            rows.append(_row("profile", "LSTM layer", f"batch-1 forward, {mode}", value, "us/frame"))
    return rows


def _format_value(value):
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def format_table(report) -> str:
    rows = report["rows"]
    header = ("section", "model", "measurement", "value", "unit", "target", "met")
    lines_data = [(row["section"], row["model"], row["measurement"], _format_value(row["value"]), row["unit"],
                   row["target"] or "", "" if row["met"] is None else ("yes" if row["met"] else "NO")) for row in rows]
    widths = [max(len(header[i]), *(len(line[i]) for line in lines_data)) if lines_data else len(header[i])
              for i in range(len(header))]
    machine = report["machine"]
    out = [f"avse_tf benchmark: {machine['cpu']}, {machine['cores']} cores, {machine['threads']} TF threads, "
           f"{machine['device']}, {machine['precision']}, TF {machine['tensorflow']}, Keras {machine['keras']}"
           + (", QUICK (reduced sizes)" if report["settings"]["quick"] else ""),
           (f"load average {machine['load_average_start']} -> {machine.get('load_average_end')}, "
            f"run {report['duration_seconds']:.0f} s"), ""]

    def fmt(line):
        return "  ".join(str(value).ljust(widths[i]) if i not in (3,) else str(value).rjust(widths[i])
                         for i, value in enumerate(line)).rstrip()

    out.append(fmt(header))
    out.append(fmt(["-" * width for width in widths]))
    previous = None
    for line, row in zip(lines_data, rows):
        if previous and row["section"] != previous:
            out.append("")
        previous = row["section"]
        out.append(fmt(line) + (f"   [{row['note']}]" if row["note"] else ""))
    out.append("")
    out.append("Model sizes: " + "; ".join(sorted({r["size"] for r in report.get("training", []) + report.get("inference", [])
                                             if "size" in r})))
    out.append("")
    out.extend(report["notes"])
    return "\n".join(out)


def explain(report, args, records_cases=()) -> list:
    """Footer notes: how things were measured, and what limits each target that is missed."""
    notes = ["Notes:"]
    peak = report["peak"]
    notes.append(f"- Peak: float32 square matmul, best of 5 (sizes {', '.join(map(str, peak['by_size']))} at the "
                 f"start), sampled again at {peak['size']} before and after every timed training step. Other jobs "
                 f"share the cores (load average {report['machine']['load_average_start']} at the start; samples "
                 f"ranged {peak['sample_min']:.0f}-{peak['sample_max']:.0f} GFLOP/s), so each step's fraction uses "
                 "the higher of its two adjacent samples; the note column adds the fraction against the run's best "
                 "sample (a lower bound: the step rarely gets the cores as undisturbed as a 15 ms matmul does) and "
                 "the CPU-time normalised one (GFLOP per CPU-second of the step / of the matmul: immune to time "
                 "slices taken by other jobs, but counts idle spinning of our own threads).")
    training = [r for r in report.get("training", []) if "error" not in r]
    profile = report.get("profile") or {}
    batches = profile.get("batches", {})
    if training:
        notes.append(f"- Training: Keras train_on_batch (library losses, Adam) on random inputs of the records' "
                     f"shapes, best of {args.steps} timed steps after a warm-up step; FLOPs analytical "
                     "(tools/bench/flops.py: LSTM T*2*4H*(D+H) per direction, Dense, Conv), training = 3 x forward; "
                     "CTC and other elementwise work not counted. BLSTM models train on crops of the 3 s clips "
                     f"({args.train_seconds:g} s) to fit the time budget: the work per frame, hence FLOP/s, does not "
                     "depend on the length; clips/s = examples/s x crop/clip.")
        blstm = [r for r in training if r["blstm"]]
        missed = [r for r in blstm if r["peak_fraction"] < TARGETS["blstm_peak_fraction"]]
        parts = [f"B={b}: {e['lstm_peak_fraction']:.2f} (one GEMM of the same FLOPs {e['gemm_peak_fraction']:.2f})"
                 for b, e in batches.items()]
        detail = (" Profile, one paper-size LSTM layer forward + backward, fraction of peak: " + "; ".join(parts)
                  + ".") if parts else ""
        if missed:
            notes.append(f"- BLSTM training below {TARGETS['blstm_peak_fraction']:.0%} of the adjacent peak for "
                         f"{', '.join(r['model'] for r in missed)}. What limits it: the recurrence is sequential; "
                         "each of T frames multiplies [B, H] x [H, 4H] (plus gate nonlinearities, mask selects, "
                         "loop bookkeeping) and the backward pass does the same in reverse; only the input "
                         "projections run as large GEMMs (hoisted out of the loop by ProjectedLSTM). The fraction "
                         "grows with the batch; at B=64 the layer itself runs near the peak, so the misses here "
                         "come from contention during the step (compare the CPU-time column)." + detail)
        elif blstm:
            notes.append(f"- BLSTM training: >= {TARGETS['blstm_peak_fraction']:.0%} of peak at B={args.train_batch}: "
                         "with the input projection hoisted into one GEMM per layer (ProjectedLSTM) and 64 sequences "
                         "per recurrent product ([64, 250] x [250, 1000], 32 MFLOP per frame). Small batches are "
                         "bound by the sequential recurrence." + detail)
    inference = [r for r in report.get("inference", []) if r.get("best_compiled_rtf") is not None]
    if inference:
        images = [r for r in inference if r["clip_frames"] is None]
        notes.append(f"- Inference: model forward only (features and iSTFT excluded), one {CLIP_SECONDS:g} s clip, best "
                     "of N calls after the first (tracing / XLA compilation times in the JSON). Eager runs the "
                     "recurrence frame by frame from Python; XLA compiles the whole model for the clip's fixed shape."
                     + (f" {', '.join(r['model'] for r in images)}: the clip's {int(CLIP_SECONDS * VIDEO_FPS)} "
                        "frames in one call." if images else ""))
        missed = [r for r in inference if r["blstm"] and r["best_compiled_rtf"] > TARGETS["rtf"]]
        per_frame = profile.get("batch1_forward_us_per_frame", {})
        if missed:
            details = []
            for result in missed:
                text = f"{result['model']} ({result['lstm_directions']} LSTM directions x {result['sequential_lstm_frames'] // max(result['lstm_directions'], 1)} frames = {result['sequential_lstm_frames']} dependent steps"
                if per_frame.get("xla"):
                    text += f", ~{result['sequential_lstm_frames'] * per_frame['xla'] / 1e3:.0f} ms at the profiled {per_frame['xla']:.0f} us per step"
                details.append(text + f"; {result['forward_flops_per_clip'] / 1e9:.1f} GFLOP per clip)")
            notes.append(f"- RTF above {TARGETS['rtf']} for " + "; ".join(details) + ". What limits it: at batch 1 "
                         "every frame of every direction of every layer is a [1, H] x [H, 4H] product that depends "
                         "on the previous one and reads the whole 1 MB recurrent kernel (more than a core's 512 KB "
                         "L2); XLA runs the loops one after another on one core (two independent LSTM loops take 2x "
                         "one), and a plain graph, which does run the directions in parallel, costs ~3-6x more per "
                         "step. The input projections are hoisted into GEMMs (ProjectedLSTM: -35 % per layer).")
        elif per_frame:
            notes.append(f"- Inference RTF <= {TARGETS['rtf']} under XLA for every BLSTM model (profile: "
                         f"{per_frame.get('xla', 0):.0f} us per frame and direction under XLA, "
                         f"{per_frame.get('graph', 0):.0f} us in a plain graph).")
    pipeline = report.get("pipeline") or {}
    for case in records_cases:
        entries = [e for e in pipeline.get("results", {}).values() if e["label"] == case.name]
        demand = next((e["demand_clips_per_second"] for e in entries if e.get("demand_clips_per_second")), None)
        if not demand:
            continue
        slow = [e["mode"] for e in entries if e["stage"] == "model_inputs"
                and e["examples_per_second"] < TARGETS["pipeline_factor"] * demand]
        why = "; ".join(case.slow_notes[mode] for mode in slow if mode in case.slow_notes)
        notes.append("- Pipeline: avse_tf.records.make_dataset (interleave, shuffle, batch, parse, prefetch) on the "
                     f"benchmark's records, batch {pipeline['batch']}, + {case.model_inputs_doc} for the model "
                     "inputs; measured alone (in training it shares the cores with the step); demand = the fastest "
                     f"{case.name} training step in {CLIP_SECONDS:g} s clips/s."
                     + ("" if not slow else " Below target: " + ", ".join(slow) + (f" ({why})." if why else ".")))
    return notes


def write_json(path, report):
    from avse_tf.utils import atomic_write_text

    atomic_write_text(path, json.dumps(report, indent=1, default=_json_default) + "\n")


def _json_default(value):
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
    except ImportError:
        pass
    return str(value)
