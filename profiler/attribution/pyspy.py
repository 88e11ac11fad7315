"""py-spy recorders attached to a trial's child process for exactly its timed window.

A `PySpyProbe` has the shape of a workload probe (`start()`, `stop() -> dict`), which
`run_trial` already calls when the child reports "ready" (before "go") and when it
reports "done": so py-spy samples the records' window and nothing else, and the child
is the same fresh process a timed trial uses. `start()` finds the child (the trial's
`python -c "from profiler.measure.child import child_entry; …"` process), starts one py-spy
per flavour and returns only once each has attached, so attaching never eats into the
window. `stop()` interrupts them (py-spy writes its file on SIGINT) and collects.

py-spy's `--gil` and `--idle` are filters on what a recorder keeps, so one recorder
cannot say both "all samples" and "GIL-holding samples"; flavours are separate
recorders on the same window. Each recorder costs CPU (measured at 100 Hz on this
project's 2-core machine: about 0.035 core per sampled process plus 0.013 per thread,
about 50 `process_vm_readv` calls per thread per sample; several times that with
`--native`, which also pauses the process to unwind), so the cheap flavour and the
expensive ones run in different trials (see `profiler.attribution`).

Nothing here raises for py-spy's own failures: a recorder that cannot attach leaves a
one-line reason in `Recorder.error`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from profiler.extras import install_hint
from profiler.measure.trial import CHILD_ENTRY

ATTACH_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 20.0

# Recorder flavours: py-spy flags beyond the common ones.
FLAVOURS: dict[str, tuple[str, ...]] = {
    "cpu": ("--nonblocking",),  # on-CPU (running or runnable) samples only: py-spy's default
    "wall": ("--idle",),  # every thread at every tick, idle or not
    "gil": ("--gil", "--nonblocking"),  # only the thread holding its process's GIL
}


def find_pyspy(explicit: str | os.PathLike[str] | None = None) -> tuple[str | None, str]:
    """(path, "") when py-spy is usable, else (None, why). An explicit path is used as is."""
    if explicit is not None:
        p = Path(explicit)
        if p.is_file() and os.access(p, os.X_OK):
            return str(p), ""
        return None, f"py-spy not found at {p}"
    found = shutil.which("py-spy")
    if found:
        return found, ""
    beside = Path(sys.executable).parent / "py-spy"  # a venv used without activating it
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside), ""
    return None, f"py-spy is not installed ({install_hint('attribution')})"


def pyspy_version(path: str) -> str:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip().removeprefix("py-spy ").strip()


def describe_failure(output: str) -> str:
    """py-spy's error output → one line saying what went wrong and what to do."""
    text = " ".join(output.split())
    low = text.lower()
    if "permission" in low or "operation not permitted" in low:
        return ("py-spy could not attach to the trial process (permission denied): run concur "
                "as root, grant CAP_SYS_PTRACE, or set kernel.yama.ptrace_scope=0")
    if "python version" in low or "failed to find python" in low or "unsupported" in low:
        return f"py-spy does not support this Python ({sys.version.split()[0]}): {text[:160]}"
    return f"py-spy failed: {text[:200]}" if text else "py-spy exited without output"


def find_trial_child(parent_pid: int | None = None) -> int | None:
    """The newest live trial child of this process (run_trial does not expose its pid)."""
    try:
        children = psutil.Process(parent_pid or os.getpid()).children()
    except psutil.Error:
        return None
    best: tuple[float, int] | None = None
    for child in children:
        with contextlib.suppress(psutil.Error):
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            if CHILD_ENTRY in " ".join(child.cmdline()):
                key = (child.create_time(), child.pid)
                best = key if best is None or key > best else best
    return best[1] if best else None


@dataclass
class Recorder:
    """One `py-spy record` process writing raw collapsed stacks to `output`."""

    flavour: str
    pyspy: str
    output: Path
    rate: int = 100
    native: bool = False
    subprocesses: bool = True
    nice: int = 0  # > 0: run py-spy at this niceness (every core busy: it yields to the workload)
    proc: subprocess.Popen[str] | None = None
    error: str = ""
    attached_at: float | None = None
    stopped_at: float | None = None
    cpu_s: float | None = None  # py-spy's own CPU time while attached: its cost to the machine
    log: list[str] = field(default_factory=list)
    _reader: threading.Thread | None = None
    _attached: threading.Event = field(default_factory=threading.Event)

    def command(self, pid: int) -> list[str]:
        extra = list(FLAVOURS[self.flavour])
        if self.native:
            extra = [f for f in extra if f != "--nonblocking"] + ["--native"]
        if self.subprocesses:
            extra.append("--subprocesses")
        nice = shutil.which("nice") if self.nice > 0 else None
        prefix = [nice, "-n", str(self.nice)] if nice else []
        return [*prefix, self.pyspy, "record", "--pid", str(pid), "--threads", "--full-filenames",
                "--rate", str(self.rate), "--format", "raw", "-o", str(self.output), *extra]

    def launch(self, pid: int) -> None:
        """Start py-spy without waiting; `wait_attached` waits (recorders attach in parallel)."""
        self.output.unlink(missing_ok=True)
        self._attached = threading.Event()
        try:
            self.proc = subprocess.Popen(
                self.command(pid), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                stdin=subprocess.DEVNULL, start_new_session=True,  # our SIGINT only, never a terminal's
            )
        except OSError as exc:
            self.error = f"cannot run py-spy: {exc.strerror or exc}"
            self._attached.set()
            return
        self._reader = threading.Thread(target=self._read, name=f"py-spy-{self.flavour}", daemon=True)
        self._reader.start()

    def _read(self) -> None:  # drain py-spy's output so it never blocks on a full pipe
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.append(line.rstrip())
            if "Sampling process" in line and self.attached_at is None:
                self.attached_at = time.monotonic()
                self._attached.set()
        self._attached.set()  # EOF: py-spy exited (failed to attach, or stopped)

    def wait_attached(self, timeout_s: float = ATTACH_TIMEOUT_S) -> bool:
        self._attached.wait(timeout_s)
        if self.attached_at is None and not self.error:
            self.kill()
            if self._reader is not None:
                self._reader.join(2)
            self.error = describe_failure("\n".join(self.log)) if self.log else (
                f"py-spy did not attach within {timeout_s:g} s")
        return self.attached_at is not None

    def interrupt(self) -> None:
        """Ask py-spy to stop sampling now and write its file (SIGINT, as Ctrl-C)."""
        if self.proc is None or self.stopped_at is not None:
            return
        self.stopped_at = time.monotonic()
        with contextlib.suppress(psutil.Error):
            t = psutil.Process(self.proc.pid).cpu_times()
            self.cpu_s = t.user + t.system
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGINT)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.interrupt()
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            self.error = self.error or "py-spy did not stop in time; its samples are lost"
        if self._reader is not None:
            self._reader.join(2)
        if not self.error and not self.output.is_file():
            self.error = describe_failure("\n".join(self.log))

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)

    @property
    def sampled_s(self) -> float | None:
        if self.attached_at is None or self.stopped_at is None:
            return None
        return self.stopped_at - self.attached_at

    def text(self) -> str:
        try:
            return self.output.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""


class PySpyProbe:
    """Workload-probe-shaped: run_trial calls start() at "ready" and stop() at "done".

    `start()` has to find the trial's child itself (run_trial does not hand out its pid);
    a caller that knows the pid calls `attach(pid)` instead."""

    def __init__(self, recorders: list[Recorder],
                 pid_finder: Callable[[], int | None] = find_trial_child) -> None:
        self.recorders = recorders
        self.pid_finder = pid_finder
        self.pid: int | None = None
        self.error = ""

    def start(self) -> None:
        pid = self.pid_finder()
        if pid is None:
            self.error = "could not find the trial process to attach py-spy to"
            return
        self.attach(pid)

    def attach(self, pid: int) -> None:
        """Start every recorder on `pid` and return once all sample (or have failed)."""
        self.pid = pid
        # --subprocesses rescans /proc every 100 ms and samples each process from its own
        # thread: worth it only when the tree has children (the processes model's
        # workers exist before the window opens; nothing starts processes inside it).
        with contextlib.suppress(psutil.Error):
            if not psutil.Process(pid).children(recursive=True):
                for rec in self.recorders:
                    rec.subprocesses = False
        for rec in self.recorders:  # in parallel: the window waits for the slowest attach only
            rec.launch(pid)
        for rec in self.recorders:
            rec.wait_attached()

    def stop(self) -> dict[str, Any]:
        for rec in self.recorders:  # every flavour stops at the same moment
            rec.interrupt()
        for rec in self.recorders:
            rec.stop()
        return {}  # nothing for the trial's probe_metrics

    detach = stop

    def close(self) -> None:
        """After the trial: no py-spy may outlive it (a trial that never reached "done")."""
        for rec in self.recorders:
            if rec.proc is not None and rec.proc.poll() is None:
                rec.stop()
            rec.kill()
