"""The shared ``avse metrics`` command: score an enhanced wav against the clean one."""

from __future__ import annotations

from avse_tf.cli.shared import positive_int
from avse_tf.constants import SAMPLE_RATE
from avse_tf.errors import MetricInputError

_METRIC_NAMES = "sdr, si_sdr, pesq, pesq_nb, stoi, estoi, visqol"  # kept light: no metrics import here
_DEFAULT = "sdr,si_sdr,pesq,stoi,estoi,visqol"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "metrics", help="score an estimate (and the mixture) against the clean reference: SDR, PESQ, STOI...",
        description="Print a table with one row per metric and the columns estimate, mixture and improvement "
                    "(estimate minus mixture; the last two only with --mixture). Audio is read as mono at "
                    "--sample_rate. Lengths that differ by under 1% are trimmed to the shortest; larger "
                    "differences are an error. Metrics: BSS-eval v3 SDR (512-tap filters), SI-SDR, PESQ "
                    "wide band (P.862.2) and narrow band (P.862), STOI, ESTOI, ViSQOL v3 speech mode.")
    parser.add_argument("--reference", required=True, help="clean reference audio (wav/flac/...)")
    parser.add_argument("--estimate", required=True, help="enhanced / separated audio to score")
    parser.add_argument("--mixture", default=None, help="unprocessed noisy mixture (adds the improvement column)")
    parser.add_argument("--sample_rate", type=positive_int, default=SAMPLE_RATE,
                        help="rate the files are read at, in Hz (default %(default)s)")
    parser.add_argument("--metrics", default=_DEFAULT,
                        help=f"comma-separated metrics among {_METRIC_NAMES} (default {_DEFAULT})")
    parser.add_argument("--json", default=None, metavar="OUT.json",
                        help="also write the scores as JSON (non-finite values as the strings inf / -inf / nan)")
    parser.set_defaults(func=run_metrics)


def _json_value(value):
    import math

    return value if math.isfinite(value) else str(value)


def run_metrics(args) -> int:
    from avse_tf.audio.io import load_audio
    from avse_tf.metrics import evaluate, format_table
    from avse_tf.metrics.report import check_metric_names

    names = check_metric_names(args.metrics)  # before the slow reads: a typo fails at once
    paths = {"reference": args.reference, "estimate": args.estimate}
    if args.mixture is not None:
        paths["mixture"] = args.mixture
    signals = {role: load_audio(path, args.sample_rate) for role, path in paths.items()}
    try:
        scores = evaluate(signals["reference"], signals["estimate"], signals.get("mixture"),
                          sample_rate=args.sample_rate, metrics=names)
    except MetricInputError as error:
        # The library names roles (reference, estimate); the user needs the files.
        files = ", ".join(f"{role} {path}" for role, path in paths.items())
        raise MetricInputError(f"{error} (files: {files})") from None
    print(format_table(scores))
    if args.json:
        import json

        from avse_tf.utils import atomic_write_text

        document = {
            **{role: path for role, path in paths.items()},
            "sample_rate": args.sample_rate,
            "metrics": {name: {column: _json_value(value) for column, value in row.items()}
                        for name, row in scores.items()},
        }
        atomic_write_text(args.json, json.dumps(document, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0
