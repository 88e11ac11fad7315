"""The conventions every command-line tool has (issue 16): --version, -h, `--json -` on
stdout, absolute report paths, --open, output a pipe can read whole, and compare's verdict."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from profiler.models import MODELS
from profiler.version import __version__
from tests.conftest import CORE, run_cli
from tests.report_fixtures import make_compare_run


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_prints_the_version_and_exits_0(flag):
    proc = run_cli(flag)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"concur {__version__}"


@pytest.mark.parametrize("args", [["-h"], ["--help"], ["run", "-h"], ["compare", "-h"],
                                  ["gate", "-h"], ["report", "-h"]])
def test_short_and_long_help_exit_0(args):
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Usage: concur")


def test_help_shows_flags_without_a_value_type_and_names_every_model():
    text = run_cli("run", "--help").stdout
    assert "<bool>" not in text
    for flag in ("--no-report", "--open", "--attribution", "--quiet"):
        assert flag in text
    flat = " ".join(text.split()).replace("- ", "-")  # help text wraps at hyphens
    for name in MODELS:
        assert name in flat, name


def _saved_pair(tmp_path: Path, *, database: str | None = None) -> tuple[Path, Path]:
    a = make_compare_run([300, 305, 310])
    b = make_compare_run([450, 455, 460])
    b.workload.target = "jobs.py:async_job"
    b.workload.database = database
    paths = tmp_path / "a.json", tmp_path / "b.json"
    for res, path in zip((a, b), paths, strict=True):
        res.save(path)
    return paths


def test_compare_prints_a_verdict_and_what_differs_besides_the_code(tmp_path):
    a, b = _saved_pair(tmp_path, database="postgresql://127.0.0.1:5432/test")
    proc = run_cli("compare", str(a), str(b), "--out", str(tmp_path / "cmp"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("The rewrite (threads×8) would take")  # the story comes first
    assert any(line.startswith("Candidate is faster: 455 records/s vs 305 records/s") for line in lines)
    assert any(line.startswith("warning: different targets: baseline ran scenarios/db_batch.py:"
                               "workload, candidate ran jobs.py:async_job") for line in lines)
    assert any("different databases: baseline used the workload's default database, candidate "
               "used postgresql://127.0.0.1:5432/test" in line for line in lines)
    assert any(line.strip().startswith("Throughput: 305 records/s → 455 records/s") for line in lines)


def test_report_paths_are_absolute(tmp_path):
    a, b = _saved_pair(tmp_path)
    proc = run_cli("compare", str(a), str(b), "--out", "cmp", cwd=tmp_path)
    report = next(line for line in proc.stdout.splitlines() if line.startswith("report: "))
    path = Path(report.removeprefix("report: "))
    assert path.is_absolute() and path == (tmp_path / "cmp" / "index.html").resolve()
    assert path.is_file()


def test_piped_output_is_never_hard_wrapped(tmp_path):
    """A pipe (CI log, `| less`) gets every line whole, however narrow COLUMNS says it is."""
    a, b = _saved_pair(tmp_path, database="postgresql://127.0.0.1:5432/test")
    proc = subprocess.run([sys.executable, "-m", "profiler", "compare", str(a), str(b), "--out",
                           str(tmp_path / "cmp")], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "40"})
    warning = next(line for line in proc.stdout.splitlines() if "different databases" in line)
    assert warning.endswith("the deltas are the databases' as much as the code's"), proc.stdout
    assert len(warning) > 120


def test_open_hands_the_report_to_the_browser(tmp_path):
    """`--open` goes through Python's webbrowser, which honours $BROWSER: a script here
    records the URL it was given instead of starting a browser."""
    opened = tmp_path / "opened.txt"
    fake = tmp_path / "browser.py"
    fake.write_text(f"import sys\nopen({str(opened)!r}, 'w').write(sys.argv[1])\n")
    a, _ = _saved_pair(tmp_path)
    env = {**os.environ, "BROWSER": f"{sys.executable} {fake} %s"}
    proc = subprocess.run([sys.executable, "-m", "profiler", "report", str(a), "--out",
                           str(tmp_path / "rep"), "--open"], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert opened.read_text() == (tmp_path / "rep" / "index.html").resolve().as_uri()


@pytest.mark.slow
def test_json_dash_writes_valid_json_to_stdout_and_the_rest_to_stderr(tmp_path):
    proc = run_cli("run", f"{CORE}:sleep_10ms", "--models", "sequential,threads", "--concurrency", "4",
                   "--records", "20", "--json", "-", "--out", str(tmp_path / "out"), "--no-report")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)  # nothing but the JSON on stdout
    assert data["schema_version"] >= 2 and len(data["trials"]) == 2
    assert data["recommendation"]["model"] in ("sequential", "threads")
    assert "records/s" in proc.stderr and "results: " in proc.stderr
    assert not (tmp_path / "-").exists() and not Path("-").exists()  # no file named "-"


def test_gate_json_dash_writes_the_outcome_to_stdout(tmp_path):
    a, b = _saved_pair(tmp_path)
    proc = run_cli("gate", "--baseline", str(a), "--candidate", str(b), "--json", "-", "--no-report")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    outcome = json.loads(proc.stdout)
    assert outcome["passed"] is True
    assert "gate PASSED" in proc.stderr


@pytest.mark.slow
def test_json_file_without_report_writes_nothing_under_reports(tmp_path):
    """`--json P --no-report`: P is the only file written (no default reports/ folder)."""
    out = tmp_path / "r.json"
    proc = run_cli("run", f"{CORE}:sleep_10ms", "--models", "sequential", "--records", "10",
                   "--json", str(out), "--no-report", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert out.is_file()
    assert not (tmp_path / "reports").exists()
