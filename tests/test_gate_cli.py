"""`concur gate` end to end with real trials: exit codes, outputs, config errors (issue 7)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.conftest import TESTS, run_cli

GATE = TESTS / "workloads" / "gate.py"
FAST = ["--baseline-config", "threads:4", "--candidate-config", "threads:4", "--repeat", "5",
        "--records", "200", "--no-report", "-q"]


def assert_usage_error(proc, needle):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert needle in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.slow
@pytest.mark.flaky(reruns=2)
def test_identical_baseline_and_candidate_pass(tmp_path):
    proc = run_cli("gate", "--baseline", f"{GATE}:baseline", "--candidate", f"{GATE}:same_as_baseline",
                   *FAST, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "gate PASSED" in proc.stdout


@pytest.mark.slow
@pytest.mark.flaky(reruns=2)
def test_thirty_percent_slower_candidate_fails_with_every_output(tmp_path):
    junit, md, js = tmp_path / "gate.xml", tmp_path / "gate.md", tmp_path / "gate.json"
    proc = run_cli("gate", "--baseline", f"{GATE}:baseline", "--candidate", f"{GATE}:thirty_percent_slower",
                   *FAST, "--junit", str(junit), "--markdown", str(md), "--json", str(js), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "gate FAILED" in proc.stdout and "slowdown" in proc.stdout
    root = ET.parse(junit).getroot()
    assert [c.get("name") for c in root.iter("testcase") if c.find("failure") is not None] == ["slowdown"]
    assert "**FAIL**" in md.read_text()
    assert '"passed": false' in js.read_text()


@pytest.mark.slow
def test_results_files_are_compared_without_running(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for target, path in ((f"{GATE}:baseline", a), (f"{GATE}:thirty_percent_slower", b)):
        proc = run_cli("run", target, "--models", "threads", "--concurrency", "4", "--records", "150",
                       "--repeat", "3", "--json", str(path), "--no-report", "-q", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    proc = run_cli("gate", "--baseline", str(a), "--candidate", str(b), "--out", str(tmp_path / "rep"), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert (tmp_path / "rep" / "index.html").exists()


def test_unknown_key_in_pyproject_is_exit_2(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.concur.gate]\nmax_slowness = 0.1\n")
    proc = run_cli("gate", "--baseline", "a.json", "--candidate", "b.json", cwd=tmp_path)
    assert_usage_error(proc, "unknown key 'max_slowness'")


def test_bad_threshold_value_is_exit_2(tmp_path):
    proc = run_cli("gate", "--baseline", "a.json", "--candidate", "b.json", "--max-slowdown", "-0.5",
                   cwd=tmp_path)
    assert_usage_error(proc, "max-slowdown")


def test_missing_config_file_is_exit_2(tmp_path):
    proc = run_cli("gate", "--baseline", "a.json", "--candidate", "b.json", "--config", "nope.toml", cwd=tmp_path)
    assert_usage_error(proc, "not found")


def test_missing_results_file_is_exit_2(tmp_path):
    proc = run_cli("gate", "--baseline", "a.json", "--candidate", "b.json", cwd=tmp_path)
    assert_usage_error(proc, "results file not found: a.json")


@pytest.mark.shared  # an exit code, not speed
@pytest.mark.slow
def test_a_side_that_cannot_run_is_exit_3(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("def handle(r):\n    raise RuntimeError('down')\n")
    proc = run_cli("gate", "--baseline", f"{GATE}:baseline", "--candidate", f"{broken}:handle",
                   *FAST, cwd=tmp_path)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "candidate" in proc.stderr
