"""Score one estimate (and optionally the unprocessed mixture) with several metrics; print a table."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from avse_tf.constants import SAMPLE_RATE
from avse_tf.errors import MetricInputError
from avse_tf.metrics._signals import align_lengths, as_signal, check_rate, is_silent
from avse_tf.metrics.intelligibility import estoi, stoi
from avse_tf.metrics.quality import pesq, visqol
from avse_tf.metrics.separation import sdr, si_sdr

# name -> scorer(reference, signal, sample_rate). Order is the default column/row order.
METRICS = {
    "sdr": lambda reference, signal, rate: sdr(reference, signal),
    "si_sdr": lambda reference, signal, rate: si_sdr(reference, signal),
    "pesq": lambda reference, signal, rate: pesq(reference, signal, rate, mode="wb"),
    "pesq_nb": lambda reference, signal, rate: pesq(reference, signal, rate, mode="nb"),
    "stoi": lambda reference, signal, rate: stoi(reference, signal, rate),
    "estoi": lambda reference, signal, rate: estoi(reference, signal, rate),
    "visqol": lambda reference, signal, rate: visqol(reference, signal, rate),
}
DEFAULT_METRICS = ("sdr", "si_sdr", "pesq", "stoi", "estoi", "visqol")


def check_metric_names(metrics: Iterable[str]) -> tuple[str, ...]:
    """The requested metric names, validated (duplicates dropped, order kept)."""
    if isinstance(metrics, str):
        metrics = [name for name in metrics.split(",")]
    names = tuple(dict.fromkeys(name.strip().lower() for name in metrics if name.strip()))
    unknown = [name for name in names if name not in METRICS]
    if unknown or not names:
        what = f"unknown metric {', '.join(unknown)}" if unknown else "no metric requested"
        raise MetricInputError(f"{what}; choose from {', '.join(METRICS)}")
    return names


def evaluate(reference, estimate, mixture=None, sample_rate: int = SAMPLE_RATE,
             metrics: Iterable[str] = DEFAULT_METRICS) -> dict[str, dict[str, float]]:
    """Score ``estimate`` (and ``mixture``, when given) against the clean ``reference``.

    Returns ``{metric: {"estimate": value}}``, or with a mixture
    ``{metric: {"estimate": value, "mixture": value, "improvement": estimate - mixture}}``, in the
    order of ``metrics`` (names: sdr, si_sdr, pesq, pesq_nb, stoi, estoi, visqol).

    A silent reference (peak below -80 dBFS) is refused up front.

    Length rule: if the lengths of the signals differ by less than 1 % of the longest, all are
    trimmed to the shortest (resamplers and codecs add or drop a few samples at the end); a larger
    difference raises :class:`MetricInputError` naming every length.
    """
    names = check_metric_names(metrics)
    sample_rate = check_rate(sample_rate)
    signals = {"reference": as_signal(reference, "reference"), "estimate": as_signal(estimate, "estimate")}
    if mixture is not None:
        signals["mixture"] = as_signal(mixture, "mixture")
    signals = align_lengths(signals)
    clean = signals.pop("reference")
    if is_silent(clean):
        # Every metric needs a clean reference with sound in it; say so once, before any runs.
        raise MetricInputError("reference is silent (peak below -80 dBFS): there is nothing to score against; "
                               "check that the reference is the clean speech file")
    results: dict[str, dict[str, float]] = {}
    for name in names:
        row = {role: METRICS[name](clean, signal, sample_rate) for role, signal in signals.items()}
        if mixture is not None:
            row["improvement"] = row["estimate"] - row["mixture"]
        results[name] = row
    return results


def _format_value(value, precision: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{precision}f}"


def format_table(rows, columns=None, precision: int = 3, label: str = "metric") -> str:
    """A plain-text table: one row per entry of ``rows``, numbers right-aligned.

    ``rows`` is a mapping ``{row_name: {column: value}}`` (what :func:`evaluate` returns) or a
    sequence of ``(row_name, {column: value})`` pairs. ``columns`` defaults to every column in the
    order first seen. Missing values print as ``-``; numbers with ``precision`` decimals.
    """
    items = list(rows.items()) if isinstance(rows, Mapping) else [tuple(item) for item in rows]
    if columns is None:
        columns = list(dict.fromkeys(column for _, values in items for column in values))
    header = [label, *columns]
    body = [[str(name), *(_format_value(values.get(column), precision) for column in columns)]
            for name, values in items]
    widths = [max(len(line[index]) for line in [header, *body]) for index in range(len(header))]

    def render(line):
        # Names left-aligned, values right-aligned so the decimal points line up.
        cells = [line[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(line[1:], widths[1:])]
        return "  ".join(cells).rstrip()

    return "\n".join(render(line) for line in [header, *body])
