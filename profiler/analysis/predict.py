"""How long would the whole batch take? Predicted wall time per measured configuration.

A trial runs a sample of the batch; the full batch at the same steady throughput takes
total / throughput seconds. The interval comes from the repeats, because the spread
between repeats is the only honest noise estimate we have: a 95 % t-interval on the
mean throughput (`profiler.stats`, as every noise judgement). With one run there is no
interval, and the row says "single run" instead of inventing one.

Short trials cannot see what a long batch runs into (a database growing dead rows,
checkpoints, a cache filling). Two things guard the prediction against it:
- drift: throughput measured over time inside each trial (`Trial.drift`); when it moved
  significantly (`stats.slope_interval` excludes 0) and by at least `DRIFT_MIN`, the
  interval widens in its direction by as much again as it drifted within the trial;
- validation (`--validate N`): the recommended configuration run once on N records after
  the sweep. Its measured throughput replaces the short trials' for that row (the
  correction is said in the note), and its own drift widens the interval the same way.
  Where the validation and the short trials disagree by `DRIFT_MIN` or more, the interval
  spans as much either way around the validation: the same configuration measured at two
  lengths moved that far, so the batch can too.
"""

from __future__ import annotations

import statistics

from profiler import format as fmt
from profiler.analysis.configs import unfinished
from profiler.analysis.standings import table
from profiler.errors import ConfigError
from profiler.results import Config, PredictionRow, Predictions, Results, Trial, Validation
from profiler.stats import CONFIDENCE, mean_interval, slope_interval

DRIFT_MIN = 0.05  # a smaller change within a trial is not worth widening for


def predict(results: Results, total_records: int) -> Predictions:
    """One row per configuration; `low_s` is the optimistic (fastest) end, `high_s` the
    pessimistic one; both None with a single steady run, `high_s` None when the interval
    reaches zero throughput."""
    if total_records <= 0:
        raise ConfigError(f"--total must be a positive number of records, got {total_records}")
    rec = results.recommendation
    rows = []
    for c in table(results).configs:
        checked = validation_of(results, c)
        rows.append(prediction(c, total_records, rec is not None and rec.names(c.model, c.concurrency),
                               checked))
    return Predictions(total_records, CONFIDENCE, rows)


def significant_drift(t: Trial) -> float | None:
    """The trial's drift when real: at least DRIFT_MIN, and the slope of its middle slices'
    throughput significantly different from 0 (first and last slices: start-up, drain)."""
    if t.drift is None or abs(t.drift) < DRIFT_MIN or len(t.throughput_series_rps) < 5:
        return None
    interval = slope_interval(t.throughput_series_rps[1:-1])
    if interval is None or interval[1] <= 0 <= interval[2]:
        return None
    return t.drift


def config_drift(c: Config) -> float | None:
    """The mean drift of the repeats when at least half of them drifted significantly."""
    drifts = [d for t in c.trials if (d := significant_drift(t)) is not None]
    if not drifts or 2 * len(drifts) < c.repeats:
        return None
    return statistics.fmean(drifts)


def validation_of(results: Results, c: Config) -> Validation | None:
    """The --validate run of this configuration, when it ran cleanly."""
    v = results.validation
    return (v if v is not None and v.status == "ok" and v.throughput_rps
            and (v.model, v.concurrency) == c.key else None)


def prediction(c: Config, total: int, recommended: bool = False,
               validation: Validation | None = None) -> PredictionRow:
    """The full batch at one configuration, with its interval and what it rests on (the
    predictions table's row; the story's batch times are the same rows)."""
    xs = c.throughputs
    mean = statistics.fmean(xs)
    row = PredictionRow(c.model, c.concurrency, None, None, None, mean, len(xs), recommended)
    if mean <= 0:
        row.note = "no record completed without error: no prediction"
        return row
    if (fails := unfinished(c)) is not None:  # a batch that fails is not a batch that ends later
        row.note = fails
        return row
    notes: list[str] = []
    interval = mean_interval(xs)
    low_rps, high_rps = interval if interval is not None else (mean, mean)
    drift = config_drift(c)
    rate = mean
    widened = False
    if validation is not None and validation.throughput_rps:
        scale = validation.throughput_rps / mean
        rate, low_rps, high_rps = validation.throughput_rps, low_rps * scale, high_rps * scale
        drift = validation.drift
        row.validated = True
        notes.append(f"corrected by --validate {fmt.count(validation.records)}: it ran at "
                     f"{fmt.rate(validation.throughput_rps)} records/s, {fmt.signed_pct(scale - 1)} "
                     "against the sweep's trials")
        # Two measurements of one configuration that disagree by this much say the batch
        # can land as far from the validation either way (a server warming up over minutes
        # ran a 300,000-record batch 11 % faster than its 10,000-record validation).
        disagreement = abs(scale - 1)
        if disagreement >= DRIFT_MIN:
            widened = True
            low_rps = min(low_rps, rate * (1 - disagreement))
            high_rps = max(high_rps, rate * (1 + disagreement))
            notes.append(f"the validation and the sweep's trials differ by {fmt.pct(disagreement)}: "
                         "the interval allows as much either way")
    row.wall_s = total / rate
    if interval is not None:
        notes.append(f"{fmt.pct(CONFIDENCE)} t-interval over {len(xs)} repeats")
    if drift is not None:
        row.drift = drift
        low_rps *= 1 + min(drift, 0.0)  # the slow end: it keeps falling as much again
        high_rps *= 1 + max(drift, 0.0)  # the fast end: it keeps rising
        notes.append(f"throughput {'fell' if drift < 0 else 'rose'} {fmt.pct(abs(drift))} within "
                     f"{'the validation run' if row.validated else 'each trial'}: the interval "
                     "allows as much again over the batch")
    if interval is None and drift is None and not widened:
        notes.append("single run")
    else:
        row.low_s = total / high_rps
        row.high_s = total / low_rps if low_rps > 0 else None
    row.note = "; ".join(notes)
    return row
