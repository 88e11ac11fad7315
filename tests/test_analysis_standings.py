"""The standings: one judged table of configurations, decided once, read by everything."""

from __future__ import annotations

import json

import pytest

from profiler.analysis import analyse
from profiler.analysis.standings import decisive, standings, table
from profiler.api import load_results
from profiler.errors import ResultsError
from profiler.results import Constraints, Results, standings_of
from profiler.results.standings import (
    CONSTRAINT,
    ERRORS,
    REMEASURE_FAILED,
    SUSPECT,
    UNBOUNDED,
    UNFINISHED,
)
from tests.factory import make_results, make_trial, repeats


def _keys(configs) -> list[tuple[str, int]]:
    return [c.key for c in configs]


def test_leaders_rank_by_mean_throughput_and_skip_erroring_ones():
    s = standings([*repeats("threads", 2, [100.0]), *repeats("threads", 4, [300.0, 280.0]),
                   make_trial("threads", 8, throughput_rps=500.0, errors=50),
                   make_trial("asyncio", 16, throughput_rps=250.0)])
    assert _keys(s.leaders(2)) == [("threads", 4), ("asyncio", 16)]
    (errors,) = s.excluded
    assert (errors.config.key, errors.kind) == (("threads", 8), ERRORS)
    assert errors.reason == "5 % of records failed (50 of 1,000) (limit 1 %)"


def test_the_best_is_the_simpler_model_that_ties_and_the_fastest_stays_named():
    s = standings([*repeats("sequential", 1, [100.0, 101.0]),
                   *repeats("threads", 8, [800.0, 810.0, 805.0]),
                   *repeats("processes", 8, [820.0, 815.0, 825.0])])
    assert s.fastest.key == ("processes", 8)
    assert s.best.key == ("threads", 8)  # within the 5 % practical margin: the simpler model
    assert s.eligible[0] is s.best and s.choice.simpler_tie.basis == "practical"
    assert s.sequential.key == ("sequential", 1)


def test_sequential_that_ties_with_the_fastest_is_the_best():
    s = standings([*repeats("sequential", 1, [100.0, 102.0, 99.0]),
                   *repeats("threads", 4, [103.0, 101.0, 104.0])])
    assert s.best is s.sequential and s.fastest.key == ("threads", 4)


def test_every_exclusion_has_its_kind_and_reason():
    trials = [*repeats("sequential", 1, [100.0, 100.0]),
              make_trial("threads", 8, throughput_rps=700.0, connections_peak=8),
              make_trial("threads", 64, throughput_rps=900.0, connections_peak=64),
              make_trial("asyncio", 0, throughput_rps=950.0),
              make_trial("processes", 4, throughput_rps=2000.0, suspect="5.0× sequential with 4 workers"),
              make_trial("processes", 8, throughput_rps=0.0, status="timeout",
                         status_detail="killed after --timeout 5 s")]
    s = standings(trials, Constraints(max_connections=32))
    kinds = {r.config.key: (r.kind, r.reason) for r in s.excluded}
    assert kinds[("threads", 64)] == (CONSTRAINT, "64 connections (limit 32)")
    assert kinds[("asyncio", 0)][0] == UNBOUNDED
    assert kinds[("processes", 4)] == (SUSPECT, "suspect, never confirmed: 5.0× sequential with 4 workers")
    assert s.best.key == ("threads", 8)  # a suspect reading never leads, whatever its number
    rows = {(r.model, r.concurrency): r for r in s.to_rows(trials)}
    assert rows[("processes", 8)].excluded_kind == UNFINISHED and rows[("processes", 8)].runs == 0
    assert "killed after --timeout 5 s" in rows[("processes", 8)].excluded_reason


def test_a_suspect_trial_replaced_by_a_clean_remeasurement_is_left_out_and_named():
    trials = [make_trial("sequential", 1, throughput_rps=100.0),
              make_trial("threads", 4, throughput_rps=900.0, suspect="9.0× sequential with 4 workers"),
              make_trial("threads", 4, throughput_rps=380.0)]
    s = standings(trials)
    row = s.standing(s.find("threads", 4))
    assert row.eligible and row.left_out == (1,) and s.find("threads", 4).throughputs == [380.0]


def test_a_suspect_whose_remeasurement_timed_out_is_excluded_with_that_reason(tmp_path):
    trials = [*repeats("sequential", 1, [100.0, 100.0]),
              make_trial("threads", 2, throughput_rps=35000.0, suspect="350× sequential with 2 workers"),
              make_trial("threads", 2, throughput_rps=0.0, status="timeout",
                         status_detail="killed after --timeout 3 s"),
              make_trial("threads", 4, throughput_rps=150.0)]
    s = standings(trials)
    row = s.standing(s.find("threads", 2))
    assert row.kind == REMEASURE_FAILED and not row.eligible
    assert row.reason == ("suspect (350× sequential with 2 workers), and its re-measurement failed "
                          "(timeout: killed after --timeout 3 s): never confirmed")
    assert s.best.key == ("threads", 4) and s.fastest.key == ("threads", 4)
    assert s.fastest_clean.key == ("threads", 4)
    results = analyse(make_results(*trials))
    again = load_results(results.save(tmp_path / "results.json"))
    assert again.standings.standing(again.standings.find("threads", 2)).kind == REMEASURE_FAILED


def test_a_loop_driving_the_same_threads_must_beat_them_by_ten_percent():
    """asyncio-threads×2 is threads×2 plus a loop: 7 % ahead with measured noise is still a
    tie, so the verdict is threads in every run, not one model or the other by chance."""
    trials = [*repeats("sequential", 1, [100.0, 101.0]),
              *repeats("threads", 2, [186.0, 188.0, 187.0]),
              *repeats("asyncio-threads", 2, [200.0, 201.0, 200.5])]
    s = standings(trials)
    assert s.fastest.key == ("asyncio-threads", 2) and s.best.key == ("threads", 2)
    assert s.choice.simpler_tie.basis == "practical"
    plain = standings([*repeats("sequential", 1, [100.0, 101.0]),
                       *repeats("threads", 2, [186.0, 188.0, 187.0]),
                       *repeats("processes", 2, [200.0, 201.0, 200.5])])
    assert plain.best.key == ("processes", 2)  # a different model: the 5 % margin holds


def test_results_json_carries_the_ranked_table_and_loads_it_as_judged(tmp_path):
    results = analyse(make_results(*repeats("sequential", 1, [100.0, 98.0]),
                                   *repeats("threads", 8, [780.0, 800.0]),
                                   make_trial("threads", 16, throughput_rps=900.0, errors=100)))
    path = results.save(tmp_path / "results.json")
    data = json.loads(path.read_text())
    first = data["standings"][0]
    rec = results.recommendation
    assert (first["model"], first["concurrency"]) == (rec.model, rec.concurrency) == ("threads", 8)
    assert first["rank"] == 1 and first["best"] and first["eligible"] and first["runs"] == 2
    assert first["mean_rps"] == pytest.approx(790.0) and first["ci_low_rps"] < 790 < first["ci_high_rps"]
    assert data["standings"][-1]["excluded_kind"] == ERRORS and data["standings"][-1]["rank"] is None
    again = load_results(path)
    assert again.standings.best.key == results.standings.best.key
    assert [r.kind for r in again.standings.rows] == [r.kind for r in results.standings.rows]
    assert again.to_dict()["standings"] == data["standings"]


def test_an_older_results_file_is_loaded_by_judging_its_standings(tmp_path):
    results = analyse(make_results(*repeats("sequential", 1, [100.0, 98.0]),
                                   *repeats("threads", 8, [780.0, 800.0])))
    data = results.to_dict()
    data["schema_version"] = 2
    del data["standings"]
    (tmp_path / "old.json").write_text(json.dumps(data))
    old = load_results(tmp_path / "old.json")
    assert old.standings is not None and old.standings.best.key == ("threads", 8)


def test_a_table_whose_trials_changed_is_judged_again_and_never_read_stale():
    results = make_results(*repeats("sequential", 1, [100.0, 98.0]))
    assert table(results).best.key == ("sequential", 1)
    results.trials += repeats("threads", 8, [780.0, 800.0])
    with pytest.raises(ResultsError, match="stale"):
        standings_of(results)
    assert table(results).best.key == ("threads", 8)
    assert standings_of(results) is results.standings


def test_the_decisive_comparisons_are_against_the_fastest():
    s = standings([*repeats("sequential", 1, [100.0, 104.0]),
                   *repeats("threads", 4, [380.0, 400.0]),
                   *repeats("processes", 4, [410.0, 420.0])])
    pairs = {(t.simpler.key, t.faster.key) for t in decisive(s)}
    assert pairs == {(("sequential", 1), ("processes", 4)), (("threads", 4), ("processes", 4))}


def test_results_without_standings_say_so_instead_of_guessing():
    results = Results.from_dict(make_results(make_trial()).to_dict())
    with pytest.raises(ResultsError, match="no standings"):
        standings_of(results)


def test_an_explicit_grid_never_recommends_what_its_own_warning_calls_suspect():
    from profiler.analysis.caveats import run_warnings
    from profiler.analysis.sanity import mark_unconfirmed

    trials = [make_trial("sequential", 1, throughput_rps=100.0, records=1000),
              make_trial("threads", 2, throughput_rps=35000.0, records=1000),
              make_trial("threads", 8, throughput_rps=700.0, records=1000)]
    mark_unconfirmed(trials, cpu_count=2)
    assert trials[1].suspect.endswith("(explicit grid: not re-measured)") and not trials[2].suspect
    results = make_results(*trials)
    s = table(results)
    assert s.best.key == ("threads", 8) and s.standing(s.find("threads", 2)).kind == SUSPECT
    assert any(w.startswith("suspect numbers for threads×2") and "not re-measured (explicit grid" in w
               for w in run_warnings(results, s))
