"""The terminal: progress (fake clock), the per-configuration table, warnings once, notes,
the next step, and a real Ctrl-C on a pseudo-terminal (issue 16)."""

from __future__ import annotations

import io
import os
import pty
import select
import signal
import sys
import time

import pytest
from rich.console import Console

from profiler.measure.trial import TrialSpec
from profiler.report.console import TerminalProgress, print_summary, trials_table, verdict_lines
from profiler.results import Classification
from tests.battery import default_signals
from tests.conftest import CORE
from tests.report_fixtures import make_results


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def spec(model: str = "threads", n: int = 8, records: int = 1924, timeout_s: float = 15.0) -> TrialSpec:
    return TrialSpec("jobs.py:handle", model, n, records, timeout_s=timeout_s)


def plain(width: int = 200) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=width, force_terminal=False, highlight=False), out


def test_calibration_is_named_and_not_counted_as_a_trial():
    clock = FakeClock()
    console, out = plain()
    progress = TerminalProgress(console, budget_s=60, clock=clock)
    progress.trial_started(spec("sequential", 1, 3), None, calibration=True)
    assert progress.status().startswith("calibrating: sequential on 3 records, to size every trial")
    progress.trial_finished(make_results().trials[0])
    progress.trial_started(spec("sequential", 1, 29), None)
    assert progress.status().startswith("trial 1: sequential, 29 records")
    assert "calibration: 200 records in" in out.getvalue()


def test_sweep_progress_shows_elapsed_time_and_budget_left():
    clock = FakeClock()
    progress = TerminalProgress(plain()[0], budget_s=60, clock=clock)
    clock.now += 23
    progress.trial_started(spec(), None)
    assert progress.status() == "trial 1: threads×8, 1,924 records · 0:23 elapsed, ~0:37 of the 1:00 budget left"


def test_grid_progress_estimates_the_time_left_from_finished_trials():
    clock = FakeClock()
    progress = TerminalProgress(plain()[0], clock=clock)
    trial = make_results().trials[1]
    for _ in range(2):
        progress.trial_started(spec(), 6)
        clock.now += 2.0
        progress.trial_finished(trial)
    progress.trial_started(spec(), 6)
    assert progress.status() == "trial 3/6: threads×8, 1,924 records · 0:04 elapsed, ~0:08 left"


def test_a_long_trial_counts_down_to_its_timeout():
    clock = FakeClock()
    progress = TerminalProgress(plain()[0], budget_s=60, clock=clock)
    progress.trial_started(spec("asyncio", 0, 2000, timeout_s=15.0), None)
    clock.now += 3
    assert "timeout" not in progress.status()
    clock.now += 4
    assert "asyncio×unbounded, 2,000 records, running 0:07 (its 15.0 s timeout kills it in 0:08)" \
        in progress.status()


def test_plain_output_has_one_line_per_start_and_per_result():
    console, out = plain()
    progress = TerminalProgress(console, budget_s=60, clock=FakeClock())
    progress.trial_started(spec(), None)
    progress.trial_finished(make_results().trials[3])
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("trial 1: threads×8, 1,924 records · 0:00 elapsed")
    assert lines[1] == "  threads×8: 310 records/s, CPU 0.92 cores"


def test_closing_the_live_line_restores_the_cursor_and_stops_redrawing():
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=True)
    with TerminalProgress(console, budget_s=60) as progress:
        progress.trial_started(spec(), None)
        time.sleep(0.6)  # a few refreshes of the live line
        assert "\x1b[?25l" in out.getvalue()  # the cursor is hidden while it runs
    text = out.getvalue()
    assert text.rfind("\x1b[?25h") > text.rfind("\x1b[?25l")  # shown again on exit
    time.sleep(0.6)
    assert out.getvalue() == text  # nothing redraws after the run (e.g. into the summary)


def test_table_has_one_row_per_configuration_with_mean_and_spread():
    results = make_results()
    console, out = plain(250)
    console.print(trials_table(results))
    text = out.getvalue()
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in text.splitlines()
            if line.startswith("│")]
    threads8 = [row for row in rows if row[:2] == ["threads", "8"]]
    assert threads8 == [["threads", "8", "3", "320 ± 10", "15 min 38 s", "0.95 cores", "42 MiB", "8",
                         "n/a", "0", "← recommended"]]  # three repeats, one row; the full batch
    assert "crashed: worker process died (signal 11)" in text  # failed trials keep their row


def test_warnings_once_notes_apart_and_each_errors_first_message():
    results = make_results()
    results.recommendation.warnings.append(results.recommendation.warnings[0])
    results.recommendation.notes = ["skipped dask: dask is not installed"]
    lines = verdict_lines(results)
    warnings = [line for line in lines if line.startswith("warning:")]
    assert len(warnings) == len(set(warnings)) == 2
    assert "note: skipped dask: dask is not installed" in lines
    console, out = plain()
    print_summary(console, results)
    assert "first TimeoutError in asyncio×unbounded: pool exhausted" in out.getvalue()


def test_a_cpu_bound_verdict_suggests_the_attribution():
    results = make_results()
    assert not [line for line in verdict_lines(results) if line.startswith("next:")]  # I/O-bound
    results.classification = Classification("cpu-bound", 0.95, "high")
    nxt = [line for line in verdict_lines(results) if line.startswith("next:")]
    assert len(nxt) == 1
    assert nxt[0].endswith("run `concur run scenarios/db_batch.py --total 300000 --repeat 3 --attribution`")


@pytest.mark.slow
def test_ctrl_c_on_a_terminal_gives_the_cursor_back_and_keeps_the_spinner_out_of_the_summary(tmp_path):
    """A real terminal (pty): Ctrl-C while a trial hangs."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: concur on the pty
        default_signals()  # the Ctrl-C this test sends must not be inherited as ignored
        os.environ["COLUMNS"] = "150"
        os.execv(sys.executable, [sys.executable, "-m", "profiler", "run", f"{CORE}:hangs",
                                  "--models", "sequential", "--concurrency", "1", "--records", "5",
                                  "--timeout", "60", "--out", str(tmp_path / "out"), "--no-report"])
    out, sent, deadline = b"", False, time.monotonic() + 90
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        if not sent and b"running 0:06" in out:  # the countdown is on screen
            os.kill(pid, signal.SIGINT)
            sent = True
    _, status = os.waitpid(pid, 0)
    text = out.decode("utf-8", "replace")
    assert sent, text[-2000:]
    assert os.waitstatus_to_exitcode(status) == 130
    assert "kills it in" in text
    assert text.rfind("\x1b[?25h") > text.rfind("\x1b[?25l")  # the cursor is visible at the end
    summary = text.index("keeping the trials measured so far")
    assert "⠋" not in text[summary:] and "elapsed" not in text[summary:]  # no spinner after it
    assert "Traceback" not in text
