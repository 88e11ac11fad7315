"""Throughput over time inside a trial (drift) and --validate: predictions for long runs."""

from __future__ import annotations

import pytest

from profiler.analysis.predict import config_drift, predict, significant_drift
from profiler.analysis.standings import table
from profiler.measure.drift import drift, throughput_series
from profiler.results import Validation
from profiler.stats import slope_interval
from tests.factory import make_results, make_trial, repeats

FALLING = [1100.0, 1000.0, 960.0, 920.0, 880.0, 840.0, 800.0, 760.0, 720.0, 500.0]
STEADY = [700.0, 810.0, 790.0, 805.0, 800.0, 795.0, 810.0, 790.0, 800.0, 600.0]


def test_completion_times_become_throughput_per_tenth_of_the_window():
    done = [10.0 + 0.001 * i for i in range(1000)]  # 1,000 records in 1 s, evenly
    series = throughput_series(done, start=10.0, wall_s=1.0)
    assert series == pytest.approx([1000.0] * 10, rel=0.02)
    assert drift(series, 1000) == pytest.approx(0.0, abs=0.02)


def test_a_slowing_window_has_negative_drift_over_its_middle_slices():
    assert drift(FALLING, 8000) == pytest.approx(-0.5, abs=0.05)


def test_times_from_another_clock_give_no_series():
    assert throughput_series([500.0 + i for i in range(100)], start=10.0, wall_s=1.0) == []


def test_too_few_records_per_slice_give_no_drift():
    assert drift(FALLING, 40) is None


def test_slope_interval_excludes_zero_for_a_trend_and_includes_it_for_noise():
    _, low, high = slope_interval(FALLING[1:-1])
    assert high < 0
    _, low, high = slope_interval(STEADY[1:-1])
    assert low < 0 < high
    assert slope_interval([1.0, 2.0]) is None


def trial_with(series, **kw):
    return make_trial("threads", 4, throughput_rps=800.0, throughput_series_rps=series,
                      drift=drift(series, 8000), **kw)


def test_only_a_significant_drift_of_five_percent_or_more_counts():
    assert significant_drift(trial_with(FALLING)) == pytest.approx(-0.5, abs=0.05)
    assert significant_drift(trial_with(STEADY)) is None


def test_a_drifting_configuration_widens_its_prediction_in_the_drift_direction():
    results = make_results(make_trial("sequential", 1, throughput_rps=100.0),
                           trial_with(FALLING), trial_with(FALLING, repeat=1))
    c_drift = config_drift(next(c for c in table(results).configs if c.model == "threads"))
    row = next(r for r in predict(results, 80_000).rows if r.model == "threads")
    assert row.drift == pytest.approx(c_drift)
    assert row.wall_s == pytest.approx(100.0)
    assert row.low_s == pytest.approx(100.0)  # falling throughput cannot make it faster
    assert row.high_s == pytest.approx(100.0 / (1 + c_drift))
    assert "throughput fell" in row.note and "allows as much again" in row.note


def test_a_validation_run_replaces_the_short_trials_throughput_for_its_row():
    """The seed story: short trials at 1,822 records/s, the long run at 1,289."""
    results = make_results(make_trial("sequential", 1, throughput_rps=300.0),
                           *repeats("threads", 2, [1822.0, 1800.0, 1844.0]))
    results.validation = Validation("threads", 2, 30_000, "ok", sweep_rps=1822.0,
                                    predicted_s=30_000 / 1822, measured_s=30_000 / 1289,
                                    throughput_rps=1289.0, correction=1289 / 1822)
    row = next(r for r in predict(results, 300_000).rows if r.model == "threads")
    assert row.validated
    assert row.wall_s == pytest.approx(300_000 / 1289.0)
    assert row.low_s < row.wall_s < row.high_s
    assert "corrected by --validate 30,000: it ran at 1,289 records/s, −29.3 % against" in row.note
    seq = next(r for r in predict(results, 300_000).rows if r.model == "sequential")
    assert not seq.validated and seq.wall_s == pytest.approx(1000.0)


@pytest.mark.slow
def test_validate_measures_a_long_run_and_corrects_the_prediction(tmp_path):
    """A job that slows as it runs: the sweep's ~1 s trials cannot see it, --validate does."""
    from pathlib import Path

    from profiler import profile

    target = f"{Path(__file__).parent / 'workloads' / 'drifting.py'}:handle"
    results = profile(target, models=["sequential", "threads"], concurrency=[8], records=300,
                      total=100_000, validate_records=3000, json_path=str(tmp_path / "r.json"))
    v = results.validation
    assert v is not None and v.status == "ok" and v.records == 3000
    assert v.correction < 0.6, v  # the long run is several times slower (far from any limit)
    assert v.drift is not None and v.drift < 0
    row = results.predictions.recommended
    assert row.validated and row.wall_s == pytest.approx(100_000 / v.throughput_rps)
    assert not any(t.records == 3000 for t in results.trials)  # never one of the repeats


def test_a_validation_that_disagrees_with_the_trials_widens_the_interval_both_ways():
    """The async pool of the seed story: trials at 1,313 records/s, the 10,000-record
    validation at 1,526 (+16 %); the 300,000-record batch then ran at 1,699 records/s, under
    the interval the repeats alone gave (188–206 s for a measured 176.6 s)."""
    results = make_results(*repeats("asyncio", 8, [1300.0, 1313.0, 1326.0]))
    results.validation = Validation("asyncio", 8, 10_000, "ok", sweep_rps=1313.0,
                                    predicted_s=10_000 / 1313, measured_s=10_000 / 1526,
                                    throughput_rps=1526.0, correction=1526 / 1313)
    row = predict(results, 300_000).rows[0]
    disagreement = 1526 / 1313 - 1
    assert row.wall_s == pytest.approx(300_000 / 1526)
    assert row.low_s == pytest.approx(300_000 / (1526 * (1 + disagreement)))
    assert row.high_s == pytest.approx(300_000 / (1526 * (1 - disagreement)))
    assert row.low_s < 176.6 < row.high_s
    assert "differ by 16 %: the interval allows as much either way" in row.note
