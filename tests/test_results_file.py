"""The results file: round-trip, DataFrame shape, schema errors, incremental writes."""

from __future__ import annotations

import json

import pytest

from profiler.errors import ResultsError
from profiler.measure.session import Session
from profiler.measure.trial import TrialOutcome, TrialSpec
from profiler.results import (
    SCHEMA_VERSION,
    TRIAL_COLUMNS,
    Results,
    Skipped,
    SweepEvent,
    Trial,
    load_results,
)
from tests import factory

DESIGN_TRIAL_FIELDS = """model, concurrency, repeat, records, errors, wall_s, throughput_rps, cpu_user_s,
cpu_system_s, cpu_util, rss_peak_bytes, threads_peak, fds_peak, connections_peak,
ctx_switches_voluntary, ctx_switches_involuntary, runqueue_wait_s, iowait_frac, latency_p50_ms,
latency_p99_ms, loop_lag_p50_ms, loop_lag_p99_ms, loop_lag_max_ms, tasks_peak"""


def make_results() -> Results:
    r = factory.make_results(
        factory.make_trial("threads", 4, records=100, errors=2, wall_s=0.5, throughput_rps=196.0,
                           cpu_user_s=0.1, cpu_system_s=0.02, cpu_util=0.24, rss_peak_bytes=2**25,
                           threads_peak=5, fds_peak=10, connections_peak=0,
                           errors_by_type={"ValueError": 2}, error_messages={"ValueError": ["bad"]}),
        factory.make_trial("asyncio", 0, records=100, wall_s=0.2, throughput_rps=500.0,
                           cpu_util=None, loop_lag_p99_ms=1.5, tasks_peak=100),
        cpu_count=2, skipped=[Skipped("processes", None, "records cannot be pickled")])
    r.samples.append({"trial": 0, "t_s": [0.05, 0.1], "cpu_util": [0.2, 0.3], "rss_bytes": [1, 2],
                      "threads": [5, 5], "fds": [9, 10], "connections": [0, 0]})
    r.sweep_log.append(SweepEvent(0.1, "climb", "threads", 4, "x"))
    return r


def test_every_design_trial_field_is_in_the_schema():
    fields = [f.strip() for f in DESIGN_TRIAL_FIELDS.replace("\n", " ").split(",")]
    assert fields == TRIAL_COLUMNS[: len(fields)]


def test_results_round_trip_through_json(tmp_path):
    r = make_results()
    path = r.save(tmp_path / "results.json")
    again = load_results(path)
    assert again.to_dict() == r.to_dict()
    assert json.loads(path.read_text())["schema_version"] == SCHEMA_VERSION


def test_dataframe_has_one_row_per_trial_with_schema_columns():
    df = make_results().to_dataframe()
    assert len(df) == 2
    assert list(df.columns) == TRIAL_COLUMNS
    assert df.loc[0, "throughput_rps"] == 196.0 and df.loc[1, "concurrency"] == 0


def test_other_schema_version_is_a_clear_error(tmp_path):
    data = make_results().to_dict()
    data["schema_version"] = SCHEMA_VERSION + 1
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ResultsError, match="schema_version"):
        load_results(path)


def test_malformed_file_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(ResultsError, match="not a concur results file"):
        load_results(path)


def test_session_rewrites_the_file_after_each_trial(tmp_path):
    """A fake trial runner (no processes) reads the file back before each new trial."""
    path = tmp_path / "results.json"
    seen: list[int] = []

    def runner(spec: TrialSpec, probe=None) -> TrialOutcome:
        seen.append(len(load_results(path).trials) if path.exists() else 0)
        return TrialOutcome(Trial(spec.model, spec.concurrency, 0, 10, 0, 0.1, 100.0), {})

    r = make_results()
    r.trials.clear()
    session = Session(r, path, trial_runner=runner)
    for n in (1, 2, 4):
        session.run(TrialSpec("t.py:h", "threads", n, 10))
    assert seen == [0, 1, 2]
    assert len(load_results(path).trials) == 3
