"""How long would the whole batch take? Predicted wall time per measured configuration.

A trial runs a sample of the batch; the full batch at the same steady throughput takes
total / throughput seconds. The interval comes from the repeats, because the spread
between repeats is the only honest noise estimate we have: with two repeats the range
they span, with three or more a 95 % t-interval on the mean throughput. With one run
there is no interval, and the row says "single run" instead of inventing one.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from profiler.analysis.configs import Config, group_configs
from profiler.errors import ConfigError
from profiler.results import Results

CONFIDENCE = 0.95


def predict(results: Results, total_records: int) -> dict[str, Any]:
    """{"total_records", "confidence", "rows": [{"model", "concurrency", "wall_s", "low_s",
    "high_s", "throughput_rps", "repeats", "recommended", "note"}]}, one row per configuration.

    `low_s` is the optimistic (fastest) end, `high_s` the pessimistic one; both None with
    a single run, `high_s` None when the interval reaches zero throughput.
    """
    if total_records <= 0:
        raise ConfigError(f"--total must be a positive number of records, got {total_records}")
    rec = results.recommendation or {}
    rows = []
    for c in group_configs(results):
        row = _row(c, total_records)
        row["recommended"] = (rec.get("model") == c.model and rec.get("concurrency") == c.concurrency)
        rows.append(row)
    return {"total_records": total_records, "confidence": CONFIDENCE, "rows": rows}


def _row(c: Config, total: int) -> dict[str, Any]:
    xs = c.throughputs
    mean = statistics.fmean(xs)
    row: dict[str, Any] = {
        "model": c.model, "concurrency": c.concurrency, "wall_s": None, "low_s": None,
        "high_s": None, "throughput_rps": mean, "repeats": len(xs), "note": "",
    }
    if mean <= 0:
        row["note"] = "no record completed without error: no prediction"
        return row
    row["wall_s"] = total / mean
    if len(xs) == 1:
        row["note"] = "single run"
    elif len(xs) == 2:
        row["low_s"] = total / max(xs)
        row["high_s"] = total / min(xs) if min(xs) > 0 else None
        row["note"] = "range of 2 repeats"
    else:
        from scipy.stats import t as student_t  # lazily: scipy is slow to import

        half = student_t.ppf((1 + CONFIDENCE) / 2, len(xs) - 1) * statistics.stdev(xs) / math.sqrt(len(xs))
        row["low_s"] = total / (mean + half)
        row["high_s"] = total / (mean - half) if mean - half > 0 else None
        row["note"] = f"{CONFIDENCE:.0%} t-interval over {len(xs)} repeats"
    return row
