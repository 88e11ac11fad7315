"""Two tests at a time, except where a test measures speed: then it has the machine alone.

The suite runs on two pytest-xdist workers (`-n 2` in pyproject's addopts). Most tests
assert what a run *did* (files, exit codes, errors, redaction) and share the machine
happily; a test that asserts a speed-up, a CPU fraction or a label measured from timing
would read a neighbour's load as the workload's. Such a test takes this lock exclusively
(a writer); every other test takes it shared (a reader). So timing tests see the quiet
machine they were written for, and the rest run two at once.

`runs_alone` decides which is which: every test marked `slow` runs alone unless its module
is listed in `SHARED_MODULES` (audited: nothing it asserts depends on speed, only bounds
far from a loaded machine's figures) or the test itself is marked `shared` (the same audit
for one test in a module that otherwise measures speed: a crash recorded, a timeout kept,
files left behind). A new slow test is therefore alone until someone checks it can
share: the safe default.

The lock is two `flock`s on files named by xdist's run id: a turnstile a writer holds
while it waits and runs (so readers that keep arriving cannot starve it), and the
reader-writer lock itself. Without xdist (`-n 0`, `-p no:xdist`) nothing is locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

# Slow modules whose assertions hold on a loaded machine: outcomes, files, exit codes,
# bounds of seconds where the expected figure is well under a second.
SHARED_MODULES = frozenset({
    "test_api", "test_celery_model", "test_cli_conventions", "test_cli_install", "test_cli_run",
    "test_dask_model", "test_hostile_secrets", "test_readme", "test_report_console",
    "test_hostile_inputs", "test_run_service", "test_scenarios_db_embedded",
    "test_scenarios_db_postgres",
    "test_workload_targets",
})


def timing(test):
    """A slow test that measures speed, in a module otherwise shared (in SHARED_MODULES):
    alone, and run again (up to twice) when something outside the test run slowed it; a
    real regression fails all three."""
    return pytest.mark.alone(pytest.mark.flaky(reruns=2)(test))


def runs_alone(item: pytest.Item) -> bool:
    """A test that must not share the machine: marked `alone`, or slow outside SHARED_MODULES
    and not marked `shared`."""
    if item.get_closest_marker("alone") is not None:
        return True
    if item.get_closest_marker("shared") is not None:
        return False
    module = Path(str(item.fspath)).stem
    return item.get_closest_marker("slow") is not None and module not in SHARED_MODULES


def alone_first(items: list[pytest.Item]) -> None:
    """Modules with a test that runs alone first, the shared ones after (stable otherwise).
    xdist hands out whole modules in this order: alone tests cannot overlap anyway, and a
    run that ends on short shared modules keeps both workers busy to the end instead of
    one waiting for the other's long timing module."""
    alone = {item.path for item in items if runs_alone(item)}
    items.sort(key=lambda item: item.path not in alone)


QUIET_PERCENT = 25.0  # of the whole machine's CPU: half a core of two
QUIET_WAIT_S = 10.0


def wait_until_quiet(log: Path, name: str, limit_s: float = QUIET_WAIT_S) -> None:
    """Holding the lock alone stops other tests, not what they left running (a server
    winding down, workers exiting): wait until the machine is quiet, at most `limit_s`, and
    say in `log` what was busy (a speed test that then reads a loaded machine is explained)."""
    started = time.monotonic()
    busy = psutil.cpu_percent(interval=0.1)
    if busy <= QUIET_PERCENT:
        return
    procs = list(psutil.process_iter(["pid", "name"]))
    for proc in procs:  # the first reading of a process's CPU starts its clock
        with contextlib.suppress(psutil.Error):
            proc.cpu_percent(None)
    first, busy = busy, psutil.cpu_percent(interval=0.2)
    top = []
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            top.append((round(proc.cpu_percent(None)), proc.info["pid"], proc.info["name"]))
    while busy > QUIET_PERCENT and time.monotonic() - started < limit_s:
        busy = psutil.cpu_percent(interval=0.2)
    with open(log, "a") as fh:
        fh.write(f"{name}: {first:.0f} % busy, waited {time.monotonic() - started:.1f} s "
                 f"(then {busy:.0f} %); busiest: {sorted(top, reverse=True)[:3]}\n")


@contextlib.contextmanager
def machine(alone: bool, name: str = "") -> Iterator[None]:
    """Hold the machine alone (a writer) or shared (a reader) for the duration."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run is None:
        yield
        return
    base = Path(tempfile.gettempdir()) / f"concur-tests-{run}"
    with open(f"{base}.turnstile", "a") as turnstile, open(f"{base}.lock", "a") as lock:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            if not alone:
                fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            if alone:
                wait_until_quiet(Path(f"{base}.quiet.log"), name)
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            if alone:
                fcntl.flock(turnstile, fcntl.LOCK_UN)
