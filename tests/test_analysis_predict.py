"""Batch predictions: total / mean throughput, with an interval only the repeats can give."""

from __future__ import annotations

import math

import pytest

from profiler.analysis import analyse
from profiler.analysis.predict import predict
from profiler.errors import ConfigError
from profiler.results import Recommendation
from tests.factory import make_results, make_trial, repeats

TOTAL = 300_000
T_975_2DF = 4.302652729911275  # Student's t, 97.5th percentile, 2 degrees of freedom


def only_row(results):
    (row,) = predict(results, TOTAL).rows
    return row


def test_single_run_predicts_total_over_throughput_without_an_interval():
    row = only_row(make_results(make_trial("threads", 16, throughput_rps=1000.0)))
    assert row.wall_s == pytest.approx(300.0)
    assert row.low_s is None and row.high_s is None
    assert row.repeats == 1
    assert row.note == "single run"


T_975_1DF = 12.706204736174698  # Student's t, 97.5th percentile, 1 degree of freedom


def test_two_repeats_give_a_t_interval_as_wide_as_two_points_allow():
    row = only_row(make_results(*repeats("threads", 16, [900.0, 1100.0])))
    half = T_975_1DF * math.sqrt(2 * 100.0**2) / math.sqrt(2)
    assert row.wall_s == pytest.approx(300.0)
    assert row.low_s == pytest.approx(TOTAL / (1000 + half))
    assert row.high_s is None  # 1000 − 1,797: the interval reaches zero throughput
    assert "t-interval over 2 repeats" in row.note


def test_three_repeats_give_a_95_percent_t_interval_on_the_mean():
    row = only_row(make_results(*repeats("threads", 16, [90.0, 100.0, 110.0])))
    half = T_975_2DF * 10.0 / math.sqrt(3)
    assert row.wall_s == pytest.approx(3000.0)
    assert row.low_s == pytest.approx(TOTAL / (100 + half))
    assert row.high_s == pytest.approx(TOTAL / (100 - half))
    assert "t-interval over 3 repeats" in row.note


def test_interval_reaching_zero_throughput_has_no_upper_end():
    row = only_row(make_results(*repeats("threads", 16, [1.0, 100.0, 200.0])))
    assert row.high_s is None
    assert row.low_s < row.wall_s


def test_zero_throughput_has_no_prediction():
    row = only_row(make_results(make_trial("threads", 4, throughput_rps=0.0, wall_s=1.0, errors=1000)))
    assert row.wall_s is None
    assert "no record completed" in row.note


def test_one_row_per_configuration_and_crashed_trials_are_left_out():
    out = predict(make_results(
        make_trial("sequential", 1, throughput_rps=100.0),
        *repeats("threads", 4, [400.0, 420.0]),
        make_trial("processes", 4, status="crashed"),
    ), TOTAL)
    assert out.total_records == TOTAL
    assert [(r.model, r.concurrency, r.repeats) for r in out.rows] == [
        ("sequential", 1, 1), ("threads", 4, 2)]


def test_recommended_flag_follows_the_recommendation():
    results = make_results(make_trial("sequential", 1), make_trial("threads", 4))
    results.recommendation = Recommendation("threads", 4, None, None, False, "")
    flags = {r.model: r.recommended for r in predict(results, TOTAL).rows}
    assert flags == {"sequential": False, "threads": True}


@pytest.mark.parametrize("total", [0, -5])
def test_total_must_be_positive(total):
    with pytest.raises(ConfigError):
        predict(make_results(make_trial()), total)


def test_analyse_predicts_only_with_a_total():
    trials = (make_trial("sequential", 1, throughput_rps=100.0),
              make_trial("threads", 4, throughput_rps=400.0))
    assert analyse(make_results(*trials)).predictions is None
    given = analyse(make_results(*trials), total_records=1000).predictions
    from_workload = analyse(make_results(*trials, total_records=2000)).predictions
    assert given.total_records == 1000
    assert from_workload.total_records == 2000
    assert [r.recommended for r in given.rows] == [False, True]
