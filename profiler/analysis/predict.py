"""How long would the whole batch take? Predicted wall time per measured configuration.

A trial runs a sample of the batch; the full batch at the same steady throughput takes
total / throughput seconds. The interval comes from the repeats, because the spread
between repeats is the only honest noise estimate we have: a 95 % t-interval on the
mean throughput (`profiler.stats`, as every noise judgement). With one run there is no
interval, and the row says "single run" instead of inventing one.
"""

from __future__ import annotations

import statistics

from profiler.analysis.configs import Config, group_configs
from profiler.errors import ConfigError
from profiler.results import PredictionRow, Predictions, Results
from profiler.stats import CONFIDENCE, mean_interval


def predict(results: Results, total_records: int) -> Predictions:
    """One row per configuration; `low_s` is the optimistic (fastest) end, `high_s` the
    pessimistic one; both None with a single run, `high_s` None when the interval reaches
    zero throughput."""
    if total_records <= 0:
        raise ConfigError(f"--total must be a positive number of records, got {total_records}")
    rec = results.recommendation
    rows = [_row(c, total_records, rec is not None and rec.names(c.model, c.concurrency))
            for c in group_configs(results)]
    return Predictions(total_records, CONFIDENCE, rows)


def _row(c: Config, total: int, recommended: bool) -> PredictionRow:
    xs = c.throughputs
    mean = statistics.fmean(xs)
    row = PredictionRow(c.model, c.concurrency, None, None, None, mean, len(xs), recommended)
    if mean <= 0:
        row.note = "no record completed without error: no prediction"
        return row
    row.wall_s = total / mean
    interval = mean_interval(xs)
    if interval is None:
        row.note = "single run"
        return row
    low, high = interval
    row.low_s = total / high
    row.high_s = total / low if low > 0 else None
    row.note = f"{CONFIDENCE:.0%} t-interval over {len(xs)} repeats"
    return row
