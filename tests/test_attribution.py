"""Attribution with py-spy for real (issue 8): each workload's cost has a known shape, and
the attribution must name it. Slow: every test runs real trials (about 1.5 s windows).

py-spy must be able to attach (ptrace): without it these tests skip, saying why, except
on CI (CI=true), where a missing py-spy is a broken environment and fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from profiler.attribution import attribute
from profiler.attribution.pyspy import describe_failure, find_pyspy
from profiler.results.schema import to_data

pytestmark = pytest.mark.slow

WORKLOADS = Path(__file__).parent / "workloads"
CORE = WORKLOADS / "core.py"
LABELLED = WORKLOADS / "labelled.py"
ATTR = WORKLOADS / "attribution.py"


def _unavailable(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"py-spy cannot attach on CI: {why}")
    pytest.skip(f"py-spy cannot attach here: {why}")


@pytest.fixture(scope="module")
def pyspy() -> str:
    """py-spy's path, once it has proved it can attach to a Python process here."""
    path, why = find_pyspy()
    if path is None:
        _unavailable(why)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.3)
        out = subprocess.run([path, "dump", "--pid", str(proc.pid)], capture_output=True,
                             text=True, timeout=30)
        if out.returncode != 0:
            _unavailable(describe_failure(out.stdout + out.stderr))
    finally:
        proc.kill()
        proc.wait()
    return path


def measured(*args, **kwargs) -> dict:
    """An attribution entry as results.json holds it."""
    return to_data(attribute(*args, **kwargs))


def _show(label: str, entry: dict) -> None:
    """The measured numbers, printed for the test log (pytest -s, or on failure)."""
    keys = ("throughput_rps", "unsampled_throughput_rps", "pyspy_cores", "gil_share",
            "gil_wait_share", "wait_breakdown", "idle_share", "loop_internal_share", "user_share",
            "harness_share", "cpu_samples", "decomposition", "warnings", "notes")
    print(f"\n{label}: " + json.dumps({k: entry.get(k) for k in keys}, default=str))


def test_pure_python_threads_hold_the_gil_in_turns(pyspy: str, tmp_path: Path) -> None:
    e = measured(f"{CORE}:cpu_3ms", "threads", 4, 450, tmp_path, passes=("wall",),
                  seconds_hint=1.0, pyspy_path=pyspy)
    _show("threads x4 cpu_3ms", e)
    assert e["warnings"] == []
    assert e["gil_share"] is not None and e["gil_share"] < 0.40
    d = e["decomposition"]
    off_cpu = 1.0 - d["on_cpu"]
    assert e["gil_wait_share"] is not None
    # Off CPU, the threads are queued for a core or for the GIL, not waiting on anything else.
    assert d["runqueue"] + e["gil_wait_share"] >= 0.5 * off_cpu
    assert e["gil_wait_share"] > 0.4
    assert e["gil_wait_share"] == max(v for k, v in e["wait_breakdown"].items() if k != "running")
    doc = json.loads((tmp_path / e["speedscope"]).read_text())
    assert len(doc["profiles"]) >= 4  # one per thread: 4 workers and the main thread


def test_pure_python_processes_stay_on_cpu(pyspy: str, tmp_path: Path) -> None:
    e = measured(f"{CORE}:cpu_3ms", "processes", 2, 600, tmp_path, passes=("wall",),
                  seconds_hint=1.0, pyspy_path=pyspy)
    _show("processes x2 cpu_3ms", e)
    assert e["warnings"] == []
    d = e["decomposition"]
    # Each worker computes, or is queued for a core when other programs share the machine
    # (that is the run-queue share): it never waits off CPU.
    assert d["on_cpu"] >= 5 * d["waiting"]
    assert d["on_cpu"] + d["runqueue"] >= 0.85
    assert e["wait_breakdown"]["running"] >= 0.85
    # Every worker process has a GIL of its own and holds it while it computes.
    assert e["gil_share"] is not None and e["gil_share"] >= 0.6
    assert e["gil_wait_share"] is not None and e["gil_wait_share"] < 0.1


def test_gil_releasing_native_handler_barely_holds_it(pyspy: str, tmp_path: Path) -> None:
    e = measured(f"{LABELLED}:native_hash", "threads", 2, 600, tmp_path, passes=("wall",),
                  seconds_hint=1.0, pyspy_path=pyspy)
    _show("threads x2 native_hash", e)
    assert e["warnings"] == []
    assert e["gil_share"] is not None and e["gil_share"] < 0.25


def test_sleeping_threads_wait_off_cpu(pyspy: str, tmp_path: Path) -> None:
    e = measured(f"{CORE}:sleep_10ms", "threads", 16, 2000, tmp_path, passes=("cpu", "wall"),
                  seconds_hint=1.0, pyspy_path=pyspy)
    _show("threads x16 sleep_10ms", e)
    assert e["warnings"] == []
    assert e["decomposition"]["waiting"] >= 0.8
    assert e["idle_share"] is not None and e["idle_share"] >= 0.8
    if e["wait_breakdown"] is not None:  # native stacks: the threads are asleep, not on the GIL
        assert e["wait_breakdown"]["sleep"] >= 0.8 and e["wait_breakdown"]["gil"] < 0.05


def test_thousands_of_tasks_spend_cpu_in_the_event_loop(pyspy: str, tmp_path: Path) -> None:
    e = measured(f"{ATTR}:many_tasks_little_cpu", "asyncio", 0, 20000, tmp_path,
                  passes=("cpu",), seconds_hint=1.0, pyspy_path=pyspy)
    _show("asyncio unbounded many_tasks_little_cpu", e)
    assert e["warnings"] == []
    # Measured here: about 0.8 of the on-CPU samples are the loop's (timers, handles,
    # futures), under 0.2 the handler's json.dumps. The floor leaves room for noise.
    assert e["loop_internal_share"] >= 0.30
    assert e["loop_internal_share"] > e["user_share"]
    assert any(r["file"].startswith("asyncio/") for r in e["top_cpu"][:3])
    svg = ET.parse(tmp_path / e["flamegraph"]).getroot()
    assert svg.tag.endswith("svg")


def test_yappi_separates_wall_from_cpu(tmp_path: Path) -> None:
    e = measured(f"{ATTR}:many_tasks_little_cpu", "asyncio", 500, 5000, tmp_path,
                  passes=("yappi",), seconds_hint=1.0)
    if any("hook missing" in w for w in e["warnings"]):
        pytest.fail("the trial child does not wrap the window in yappi_window_from_env()")
    _show("yappi asyncio x500", e)
    assert e["warnings"] == []
    rows = {r["function"]: r for r in e["yappi_top"]}
    assert "sleep" in rows and rows["sleep"]["kind"] == "loop_internal"
    # Awaiting a timer costs the task wall time, almost no CPU.
    assert rows["sleep"]["wall_s"] > 10 * (rows["sleep"]["cpu_s"] or 0)
    assert any(r["kind"] == "user" for r in e["yappi_top"])


def test_missing_pyspy_is_one_warning_not_an_exception(tmp_path: Path) -> None:
    e = measured(f"{CORE}:sleep_10ms", "threads", 2, 20, tmp_path,
                  pyspy_path=tmp_path / "nowhere" / "py-spy")
    assert len(e["warnings"]) == 1 and "py-spy not found" in e["warnings"][0]
    assert e["gil_share"] is None and e["loop_internal_share"] is None
    assert e["flamegraph"] is None and e["speedscope"] is None
    assert "unavailable" in e["gil_note"]


@pytest.mark.shared  # one warning and no figures, not speed
def test_pyspy_denied_attach_is_one_warning(tmp_path: Path) -> None:
    fake = tmp_path / "py-spy"
    fake.write_text("#!/bin/sh\necho 'Error: Permission Denied: Try running again with elevated "
                    "permissions'\nexit 1\n")
    fake.chmod(0o755)
    e = measured(f"{CORE}:sleep_10ms", "threads", 2, 20, tmp_path, passes=("cpu", "wall"),
                  seconds_hint=None, pyspy_path=fake)
    assert len(e["warnings"]) == 1 and "permission denied" in e["warnings"][0]
    assert e["unsampled_throughput_rps"] and e["unsampled_throughput_rps"] > 0
    assert e["gil_share"] is None and e["top_cpu"] == []


def test_gil_share_is_withheld_where_pyspy_misreads_it(pyspy: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """On Python 3.12+ py-spy's --gil reads wrong (py-spy #692): say so, print no number."""
    import profiler.attribution.job as job

    real = job.gil_support
    monkeypatch.setattr(job, "gil_support", lambda: real((3, 12), gil_enabled=True))
    e = measured(f"{CORE}:sleep_10ms", "threads", 2, 60, tmp_path, passes=("wall",),
                  seconds_hint=None, pyspy_path=pyspy)
    assert e["warnings"] == []
    assert e["gil_share"] is None
    assert "GIL share unavailable" in e["gil_note"] and "#692" in e["gil_note"]
    assert e["speedscope"] is not None  # the rest of the pass still ran
