"""The terminal: progress (fake clock), the per-configuration table, warnings once, notes,
the next step, and a real Ctrl-C on a pseudo-terminal (issue 16)."""

from __future__ import annotations

import io
import os
import pty
import re
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


def test_the_live_line_is_one_line_cut_at_the_terminals_width():
    """On an 80-column terminal a long status ("… of the 1:00 budget left") is cut with
    "…", never wrapped onto a second line that each redraw leaves behind."""
    from profiler.report.console import _LiveLine

    progress = TerminalProgress(plain()[0], budget_s=60, clock=FakeClock())
    progress.trial_started(spec("asyncio-threads", 128, 1_234_567), None)
    out = io.StringIO()  # one rendering of the live line, as the terminal gets it
    Console(file=out, width=80, force_terminal=True, color_system=None).print(_LiveLine(progress))
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and len(lines[0]) <= 80 and lines[0].endswith("…"), lines


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
    rows = table_rows(text)
    threads8 = [row for row in rows if row[:2] == ["threads", "8"]]
    assert threads8 == [["threads", "8", "3", "320 ± 10", "15 min 38 s", "0.95", "42 MiB", "8",
                         "n/a", "0", "← recommended"]]  # three repeats, one row; the full batch
    assert ["processes", "4", "1", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "-", "crashed"] in rows
    assert "left out" not in text  # nothing is left out where everything fits


def table_rows(text: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in text.splitlines()
            if line.startswith("│")]


def with_database(results):
    for i, t in enumerate(results.trials):
        if t.ok:
            t.db_connections_peak, t.db_refused = t.concurrency or 96, 3 * i
    return results


@pytest.mark.parametrize("database", [False, True])
def test_at_80_columns_every_line_fits_and_the_table_keeps_model_n_rate_and_the_mark(database):
    results = with_database(make_results()) if database else make_results()
    console, out = plain(80)
    print_summary(console, results)
    text = out.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80, text
    rows = table_rows(text)
    assert ["threads", "8", "320 ± 10"] == rows[3][:3]  # model, N, records/s, whole
    assert rows[3][-1] == "←" and "← recommended" in text  # the mark, and what it means
    assert sum(row[-1] == "←" for row in rows) == 1
    assert ["asyncio", "unbounded", "210"] in [row[:3] for row in rows]
    assert "left out at 80 columns:" in text and "loop lag p99" in text


def test_piped_the_table_is_complete_and_unwrapped():
    results = with_database(make_results())
    console, out = plain(1000)  # a pipe or a CI log (report.console.PIPE_WIDTH)
    print_summary(console, results)
    text = out.getvalue()
    header = " ".join(line for line in text.splitlines() if line.startswith("┃"))
    for name in ("model", "N", "runs", "records/s", "300,000", "CPU", "RSS", "sockets", "sessions",
                 "refused", "loop lag", "errors"):
        assert name in header
    assert "← recommended" in text and "left out" not in text


def test_an_interrupted_run_says_what_it_measured_and_that_its_verdict_is_provisional():
    from profiler.analysis import analyse
    from tests.factory import make_results as results_of
    from tests.factory import make_trial

    results = results_of(make_trial("sequential", 1, throughput_rps=100.0),
                         make_trial("threads", 4, throughput_rps=350.0))
    results.interrupted = True
    analyse(results)
    lines = verdict_lines(results)
    assert "provisional, the run was stopped after 2 trials: use threads×4" in lines[0]
    console, out = plain(1000)
    print_summary(console, results)
    assert out.getvalue().rstrip().endswith(
        "interrupted: the run was stopped after 2 trials of 2 configurations (sequential, "
        "threads×4); the verdict above is provisional")
    assert "warning: the run was stopped before the sweep finished: a configuration it did not " \
           "reach may be faster" in out.getvalue()


def test_a_note_the_progress_showed_on_the_same_screen_is_not_repeated():
    results = make_results()
    results.recommendation.notes = ["skipped asyncio: asyncio needs an async handle"]
    console, out = plain()
    print_summary(console, results, shown=["skipped asyncio: asyncio needs an async handle"])
    assert "skipped asyncio" not in out.getvalue()
    console, out = plain()
    print_summary(console, results)  # the progress went elsewhere (or nowhere): said here
    assert "note: skipped asyncio: asyncio needs an async handle" in out.getvalue()


def test_streams_into_one_file_are_the_same_output(tmp_path):
    from profiler.report.console import same_output

    with open(tmp_path / "log", "w") as a, open(tmp_path / "other", "w") as b:
        assert same_output(a, a) and not same_output(a, b)
        assert not same_output(a, io.StringIO())


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
    sent = []

    def ctrl_c_during_the_countdown(out: bytes) -> None:
        if not sent and b"running 0:06" in out:  # the countdown is on screen
            os.kill(pid, signal.SIGINT)
            sent.append(True)

    text, code = pty_output(pid, fd, ctrl_c_during_the_countdown)
    assert sent, text[-2000:]
    assert code == 130
    assert "kills it in" in text
    assert text.rfind("\x1b[?25h") > text.rfind("\x1b[?25l")  # the cursor is visible at the end
    summary = text.index("keeping the trials measured so far")
    assert "⠋" not in text[summary:] and "elapsed" not in text[summary:]  # no spinner after it
    assert "Traceback" not in text


def pty_output(pid: int, fd: int, watch=None, within_s: float = 90.0) -> tuple[str, int]:
    """Everything the child on the pseudo-terminal `fd` writes until it ends (`watch` sees
    the output so far as it grows), and its exit code."""
    out, deadline = b"", time.monotonic() + within_s
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
        if watch is not None:
            watch(out)
    _, status = os.waitpid(pid, 0)
    return out.decode("utf-8", "replace"), os.waitstatus_to_exitcode(status)


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def screen_lines(raw: str) -> list[str]:
    """What a terminal shows, line by line: a carriage return or an erase-line starts the
    line again (the live progress line redraws itself that way); escape codes take no room."""
    shown = []
    for line in raw.replace("\r\n", "\n").split("\n"):
        for part in re.split(r"\r|\x1b\[2K", line):
            shown.append(ANSI.sub("", part))
    return shown


@pytest.mark.slow
def test_concur_run_on_an_80_column_terminal_fits_every_line(tmp_path):
    """A real run on a pseudo-terminal 80 columns wide: progress, notes, the table (with the
    full batch and a skipped model's note), the verdict: nothing wider than the screen."""
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["COLUMNS"], os.environ["LINES"] = "80", "24"
        os.execv(sys.executable, [sys.executable, "-m", "profiler", "run", f"{CORE}:sleep_10ms",
                                  "--models", "sequential,threads,asyncio", "--concurrency", "1,4",
                                  "--records", "30", "--total", "300000", "--no-report",
                                  "--json", str(tmp_path / "r.json")])
    text, code = pty_output(pid, fd)
    assert code == 0, text[-3000:]
    lines = screen_lines(text)
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    rows = table_rows("\n".join(lines))
    marked = [row for row in rows if row[-1] in ("← recommended", "←")]
    assert len(marked) == 1 and marked[0][0] in ("sequential", "threads")
    assert {(row[0], row[1]) for row in rows} == {("sequential", "1"), ("threads", "1"), ("threads", "4")}
    assert all(re.fullmatch(r"[\d,]+( ± [\d,]+)?", row[2]) for row in rows)  # records/s, whole
    assert sum("skipped asyncio" in line for line in lines) == 1  # said once, not twice
