"""`concur run` end to end: exit codes, results written as trials finish (issue 3)."""

from __future__ import annotations

import json

import pytest

from profiler.results import load_results
from tests.battery import default_signals
from tests.conftest import CORE, run_cli

pytestmark = pytest.mark.slow


def test_errors_in_some_records_warn_and_exit_zero(tmp_path):
    out = tmp_path / "r.json"
    proc = run_cli("run", f"{CORE}:raises_every_third", "--models", "sequential,threads",
                   "--concurrency", "4", "--records", "60", "--json", str(out), "--no-report", "-q")
    assert proc.returncode == 0, proc.stderr
    assert "ValueError" in proc.stdout and "warning" in proc.stdout
    results = load_results(out)
    assert [t.errors_by_type.get("ValueError") for t in results.trials] == [20, 20]


def test_a_handler_failing_every_record_exits_3(tmp_path):
    proc = run_cli("run", f"{CORE}:raises_always", "--models", "sequential", "--records", "10",
                   "--json", str(tmp_path / "r.json"), "--no-report", "-q")
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert "RuntimeError" in proc.stdout and "database is down" in proc.stdout


def test_a_crashing_model_is_recorded_and_the_others_still_run(tmp_path):
    out = tmp_path / "r.json"
    proc = run_cli("run", f"{CORE}:crashes_in_worker_processes", "--models", "sequential,processes,threads",
                   "--concurrency", "2", "--records", "20", "--json", str(out), "--no-report", "-q")
    assert proc.returncode == 0, proc.stderr
    by_model = {t.model: t for t in load_results(out).trials}
    assert by_model["processes"].status == "crashed"
    assert by_model["sequential"].status == "ok" and by_model["threads"].status == "ok"


def test_unpicklable_records_skip_processes_with_the_reason(tmp_path):
    out = tmp_path / "r.json"
    proc = run_cli("run", f"{CORE}:unpicklable", "--concurrency", "2", "--models", "sequential,threads,processes",
                   "--records", "20", "--json", str(out), "--no-report", "-q")
    assert proc.returncode == 0, proc.stderr
    results = load_results(out)
    skipped = {s.model: s.reason for s in results.skipped}
    assert "pickle" in skipped["processes"]
    assert {t.model for t in results.trials} == {"sequential", "threads"}


def test_input_file_rows_become_records(tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"id": i, "name": f"n{i}"}) + "\n" for i in range(30)))
    handler = tmp_path / "h.py"
    handler.write_text("def handle(row):\n    assert set(row) == {'id', 'name'}, row\n")
    out = tmp_path / "r.json"
    proc = run_cli("run", f"{handler}:handle", "--input", str(rows), "--models", "sequential,processes",
                   "--concurrency", "2", "--records", "1000", "--json", str(out), "--no-report", "-q")
    assert proc.returncode == 0, proc.stderr
    results = load_results(out)
    assert [(t.records, t.errors) for t in results.trials] == [(30, 0), (30, 0)]


def test_results_are_written_after_each_trial(tmp_path):
    """The file on disk after the run holds every trial; the session rewrites it per trial
    (pinned by a trial runner that reads the file back mid-run in test_session)."""
    out = tmp_path / "r.json"
    proc = run_cli("run", f"{CORE}:sleep_10ms", "--models", "sequential,threads", "--concurrency", "4",
                   "--records", "20", "--repeat", "2", "--json", str(out), "--no-report", "-q")
    assert proc.returncode == 0, proc.stderr
    results = load_results(out)
    assert [(t.model, t.repeat) for t in results.trials] == [
        ("sequential", 0), ("threads", 0), ("sequential", 1), ("threads", 1)]
    assert results.recommendation and results.classification


def test_ctrl_c_keeps_the_trials_measured_so_far(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "r.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "profiler", "run", f"{CORE}:sleep_10ms", "--models", "sequential,threads",
         "--concurrency", "1,2,4,8", "--records", "60", "--repeat", "5", "--json", str(out), "--no-report", "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=default_signals)  # the Ctrl-C sent below must not be inherited as ignored
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if out.exists() and len(load_results(out).trials) >= 2:
            break
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, (stdout, stderr)
    results = load_results(out)
    assert results.interrupted
    assert 2 <= len(results.trials) < 25
    assert all(t.status == "ok" for t in results.trials[:2])
    assert "Traceback" not in stderr
