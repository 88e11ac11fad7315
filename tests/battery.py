"""The bad-input and signal battery's harness: run `concur` as a user would and check
that nothing leaked, nothing was orphaned and nothing was lost.

`Concur.run(...)` starts `python -m profiler ARGS` as a real process (stdout and stderr
to files, so a straggler holding a pipe cannot hang the test), watches its process tree
with psutil while it runs, optionally sends it real signals once a trial is running,
and returns an `Outcome`. `Outcome.assert_clean()` is the battery's promise: no
traceback, no process of the run left, no temp file left, results.json (if any) still
loads, and the secret appears in no file written and in neither stream.

Set CONCUR_BATTERY_TABLE=path to get the table (case, exit code, the line on stderr).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from profiler.results import Results, load_results

TESTS = Path(__file__).parent
HOSTILE = TESTS / "workloads" / "hostile.py"
SECRET = "s3cretPW-battery"
DSN = f"postgresql://postgres:{SECRET}@127.0.0.1:5432/test"
DEAD_WITHIN_S = 5.0  # a SIGKILLed concur's trial must be gone by then
GONE_WITHIN_S = 2.0  # after concur exits, its descendants must be gone by then


def default_signals() -> None:
    """`preexec_fn` for a process a test will signal: SIGINT, SIGHUP and SIGTERM as a fresh
    terminal gives them. Run under `nohup` or as a background job, the suite inherits
    SIGINT/SIGHUP ignored, every child would too (Python installs no Ctrl-C handler over an
    ignored SIGINT), and the signal the test sends would do nothing."""
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def hostile(name: str) -> str:
    return f"{HOSTILE}:{name}"


def trial_running(procs: list[psutil.Process]) -> bool:
    """A trial child exists (its command line is the trial entry point)."""
    return any("child_entry" in " ".join(_cmdline(p)) for p in procs)


def workers_running(count: int) -> Callable[[list[psutil.Process]], bool]:
    """A trial child and at least `count` spawned worker processes exist."""
    def ready(procs: list[psutil.Process]) -> bool:
        spawned = sum("multiprocessing.spawn" in " ".join(_cmdline(p)) for p in procs)
        return trial_running(procs) and spawned >= count
    return ready


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


@dataclass
class Outcome:
    case: str
    code: int
    stdout: str
    stderr: str
    folder: Path  # everything this run may have written lives below it
    seen: list[psutil.Process]  # every descendant seen while it ran
    pid: int
    wall_s: float
    dead_after_s: float | None = None

    @property
    def lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    @property
    def last_line(self) -> str:
        return self.lines[-1] if self.lines else ""

    def results(self, name: str = "results.json") -> Results:
        return load_results(self.folder / "out" / name)

    def alive(self) -> list[psutil.Process]:
        out = []
        for p in self.seen:
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    out.append(p)
            except psutil.Error:
                continue
        return out

    def assert_clean(self) -> None:
        """The battery's promise, for every case."""
        for stream in (self.stdout, self.stderr):
            assert "Traceback" not in stream, stream
        _wait_dead(self.seen, GONE_WITHIN_S)  # a child whose concur is gone kills itself: allow it that
        alive = self.alive()
        assert not alive, f"left running: {[(p.pid, _cmdline(p)) for p in alive]}"
        leftovers = [p for p in self.folder.rglob(".*")] + _temp_files(self.pid)
        assert not leftovers, f"temp files left: {leftovers}"
        out = self.folder / "out"
        for json_file in out.rglob("*.json") if out.is_dir() else ():
            if json_file.name in ("results.json", "baseline.json", "candidate.json"):
                load_results(json_file)  # still valid: raises with the field if not
        written = [f for f in self.folder.rglob("*") if f.is_file() and f.name not in INPUT_NAMES]
        holders = [f for f in written if SECRET.encode() in f.read_bytes()]
        assert not holders, f"the password was written to {holders}"
        assert SECRET not in self.stdout and SECRET not in self.stderr, "the password was printed"

    def assert_one_line(self, code: int, *needles: str) -> None:
        """Exit `code`, exactly one line on stderr holding every needle, and clean."""
        assert self.code == code, (self.code, self.stdout[-2000:], self.stderr[-2000:])
        assert len(self.lines) == 1, self.stderr
        for needle in needles:
            assert needle in self.lines[0], self.lines[0]
        self.assert_clean()


INPUT_NAMES = {"rows.csv", "target.py", "garbage.json", "results-in.json"}  # written by the test


def _temp_files(pid: int) -> list[Path]:
    """Files a concur process of this pid left in the temp folder (the --input pickle)."""
    return list(Path(tempfile.gettempdir()).glob(f"concur-records-{pid}-*"))


@dataclass
class Concur:
    """Runs concur for the battery; `table` collects one row per case."""

    table: list[tuple[str, int, str]] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)

    def run(self, case: str, folder: Path, *args: str, signals: tuple[int, ...] = (),
            when: Callable[[list[psutil.Process]], bool] | None = None, gap_s: float = 0.3,
            env: dict[str, str] | None = None, timeout_s: float = 90.0,
            stdout_pipe_closed: bool = False) -> Outcome:
        """`concur ARGS` in `folder`; once `when(descendants)` holds (or at once), send
        `signals` `gap_s` apart; wait for the exit (SIGKILL: for the tree to die)."""
        folder.mkdir(parents=True, exist_ok=True)
        err_path = folder.parent / f"{folder.name}.stderr"
        out_path = folder.parent / f"{folder.name}.stdout"
        start = time.monotonic()
        with open(err_path, "w") as err, open(out_path, "w") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "profiler", *args], cwd=folder, stderr=err,
                preexec_fn=default_signals if signals else None,  # noqa: PLW1509
                stdout=subprocess.PIPE if stdout_pipe_closed else out, stdin=subprocess.DEVNULL,
                env={**os.environ, "COLUMNS": "200", **(env or {})})
            if stdout_pipe_closed:  # `| head -1`: read one line, then the reader is gone
                assert proc.stdout is not None
                proc.stdout.readline()
                proc.stdout.close()
            seen = _watch(proc, signals, when, gap_s, timeout_s)
        dead_after = None
        if signals and signals[-1] == signal.SIGKILL:
            dead_after = _wait_dead(seen, DEAD_WITHIN_S)
        outcome = Outcome(case, proc.returncode, out_path.read_text(), err_path.read_text(),
                          folder, seen, proc.pid, time.monotonic() - start, dead_after)
        line = outcome.last_line if dead_after is None else \
            f"(concur killed; its trial's processes were gone {dead_after:.2f} s later)"
        self.table.append((case, outcome.code, line))
        self.outcomes.append(outcome)
        return outcome

    def finish(self) -> None:
        """After the module: kill whatever a failed case left running (the machine is
        shared), and append the table to $CONCUR_BATTERY_TABLE when set."""
        for outcome in self.outcomes:
            for p in outcome.alive():
                with contextlib.suppress(psutil.Error):
                    p.kill()
        path = os.environ.get("CONCUR_BATTERY_TABLE")
        if path:
            new = not Path(path).exists()
            with open(path, "a", encoding="utf-8") as fh:
                if new:
                    fh.write("| case | exit | message (last line on stderr) |\n|---|--:|---|\n")
                for case, code, line in self.table:
                    fh.write(f"| {case} | {code} | {line.replace('|', '/')} |\n")


def _watch(proc: subprocess.Popen[str], signals: tuple[int, ...],
           when: Callable[[list[psutil.Process]], bool] | None, gap_s: float,
           timeout_s: float) -> list[psutil.Process]:
    seen: dict[int, psutil.Process] = {}
    pending = list(signals)
    deadline = time.monotonic() + timeout_s
    try:
        root = psutil.Process(proc.pid)
    except psutil.Error:
        root = None
    next_signal_at: float | None = None if when else time.monotonic()
    while proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"concur did not exit within {timeout_s} s")
        procs = _descendants(root)
        for p in procs:
            seen.setdefault(p.pid, p)
        if pending:
            if next_signal_at is None and when is not None and when(procs):
                next_signal_at = time.monotonic()
            if next_signal_at is not None and time.monotonic() >= next_signal_at:
                proc.send_signal(pending.pop(0))
                next_signal_at = time.monotonic() + gap_s
                if not pending and signals[-1] == signal.SIGKILL:
                    proc.wait()
                    break
        time.sleep(0.05)
    assert not pending, f"concur exited before the signals {pending} were sent"
    return list(seen.values())


def _descendants(root: psutil.Process | None) -> list[psutil.Process]:
    if root is None:
        return []
    try:
        return root.children(recursive=True)
    except psutil.Error:
        return []


def _wait_dead(seen: list[psutil.Process], within_s: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < within_s:
        alive = [p for p in seen if _alive(p)]
        if not alive:
            return time.monotonic() - start
        time.sleep(0.05)
    return None


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
