"""results.json is a public contract users' CI scripts parse: v1's names stay, v1 files load.

The names below are the ones the README and users' scripts read; a later version may add
fields, never rename or remove these. `tests/data/results_v1.json` is a real version-1
file (the README's example report, written before the verdict was typed).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from profiler.analysis import analyse
from profiler.api import load_results
from profiler.errors import ResultsError
from profiler.report.html import render_report
from profiler.results import SCHEMA_VERSION
from tests.report_fixtures import Page, make_results

V1 = Path(__file__).parent / "data" / "results_v1.json"

TOP_LEVEL = {"schema_version", "tool", "workload", "environment", "trials", "samples", "skipped",
             "classification", "scaling", "recommendation", "predictions", "sweep_log",
             "attribution", "command", "started_at", "finished_at", "interrupted"}
TRIAL = {"model", "concurrency", "repeat", "records", "errors", "wall_s", "throughput_rps",
         "cpu_user_s", "cpu_system_s", "cpu_util", "rss_peak_bytes", "threads_peak", "fds_peak",
         "connections_peak", "ctx_switches_voluntary", "ctx_switches_involuntary",
         "runqueue_wait_s", "iowait_frac", "latency_p50_ms", "latency_p99_ms", "loop_lag_p50_ms",
         "loop_lag_p99_ms", "loop_lag_max_ms", "tasks_peak", "status", "status_detail", "workers",
         "errors_by_type", "error_messages", "db_connections_peak", "probe_metrics",
         "model_options", "model_metrics", "samples_taken"}
CLASSIFICATION = {"label", "cpu_fraction", "confidence", "refinements", "evidence", "basis_trial"}
RECOMMENDATION = {"model", "concurrency", "throughput_rps", "speedup", "keep_sequential",
                  "sentence", "rationale", "warnings", "constraints", "excluded"}
SCALING = {"status", "lambda_rps", "sigma", "kappa", "n_star", "r2", "points", "message"}
PREDICTIONS = {"total_records", "confidence", "rows"}
PREDICTION_ROW = {"model", "concurrency", "wall_s", "low_s", "high_s", "throughput_rps", "repeats",
                  "recommended", "note"}
SWEEP_EVENT = {"t_s", "event", "model", "concurrency", "message"}


def test_the_version_1_names_are_all_still_written(tmp_path):
    results = analyse(make_results(verdict=False), total_records=300_000)
    data = json.loads(results.save(tmp_path / "results.json").read_text())
    assert data["schema_version"] == SCHEMA_VERSION == 3
    assert TOP_LEVEL <= set(data)
    assert all(TRIAL <= set(t) for t in data["trials"])
    assert CLASSIFICATION <= set(data["classification"])
    assert RECOMMENDATION <= set(data["recommendation"])
    assert all(SCALING <= set(fit) for fit in data["scaling"].values())
    assert PREDICTIONS <= set(data["predictions"])
    assert all(PREDICTION_ROW <= set(row) for row in data["predictions"]["rows"])
    assert all(SWEEP_EVENT <= set(e) for e in data["sweep_log"])
    assert data["tool"]["name"] == "concur"


def test_a_version_1_file_loads_and_renders(tmp_path):
    assert json.loads(V1.read_text())["schema_version"] == 1
    results = load_results(V1)
    assert (results.recommendation.model, results.recommendation.concurrency) == ("processes", 2)
    assert results.classification.label
    assert results.scaling["threads"].points and results.predictions.recommended is not None
    page = Page(render_report(results, tmp_path).read_text(encoding="utf-8"))
    assert page.rows["trials"] == len(results.trials) == 19
    assert "Use processes×2 — 1.62× faster than sequential" in page.text
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["schema_version"] == 3  # re-rendering writes the current version, standings too
    assert saved["standings"][0]["label"] == "processes×2" and saved["standings"][0]["best"]


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["trials"][0].update(wall_s="abc"), "trials[0].wall_s: expected a number, got 'abc'"),
    (lambda d: d["trials"].append(7), "trials[19]: expected an object, got 7"),
    (lambda d: d["classification"].update(evidence="one line"), "classification.evidence: expected a list"),
    (lambda d: d.update(interrupted="no"), "interrupted: expected true/false"),
    (lambda d: d.update(trials={}), "trials: expected a list, got an object"),
])
def test_wrong_types_are_one_error_naming_the_field(tmp_path, edit, message):
    data = json.loads(V1.read_text())
    edit(data)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ResultsError) as err:
        load_results(path)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("text", ["NaN", '{"schema_version": NaN}', "\x00\x01\xff binary"])
def test_nan_and_binary_garbage_are_not_results(tmp_path, text):
    path = tmp_path / "results.json"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ResultsError, match="not a concur results file"):
        load_results(path)


def test_a_trial_that_slowed_down_loads_but_a_negative_time_does_not(tmp_path):
    """`drift` is signed (-0.2 = the window ended 20 % slower): a file concur wrote with a
    slowing trial must load; a negative wall time is still not a measurement."""
    data = json.loads(V1.read_text())
    data["trials"][0]["drift"] = -0.2
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    assert load_results(path).trials[0].drift == -0.2
    data["trials"][0]["wall_s"] = -1.0
    path.write_text(json.dumps(data))
    with pytest.raises(ResultsError, match=r"trials\[0\]\.wall_s: expected a number ≥ 0"):
        load_results(path)
