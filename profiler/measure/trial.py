"""One trial = one model x concurrency x records x repeat, in a fresh child process.

Why a fresh process: one model's threads, loop or leaked connections must not skew the
next trial, and a workload that hangs or crashes must take down only its own trial.

The parent and child speak over a pipe:
    child: "ready" (setup + warm-up done)  -> parent starts the sampler, answers "go"
    child: "done"  (records processed)      -> parent stops the sampler, answers "ack"
    child: "result" (latencies, errors, loop lag) or "failed" (why)
so the sampler's window is exactly the records' window, and teardown is never billed.

Nothing outlives a trial. The child leads its own process group (a terminal's Ctrl-C
reaches only concur), and every way out of `run_trial` (result, crash, timeout, memory
ceiling, an interrupt or a signal in concur) kills that whole group. If concur itself
dies, even by SIGKILL, the child sees its end of the pipe close and kills its group
(`profiler.measure.child`). A tree whose RSS passes `max_rss_bytes` is killed and
recorded with status "over-memory", so one leaking handler cannot take the machine.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import psutil

from profiler import format as fmt
from profiler.measure.sampling import CHILDREN_RESCAN_S, TreeSampler, TreeSummary
from profiler.models import get_model, model_ref
from profiler.models.processes import describe_exit
from profiler.redact import redact
from profiler.results import Trial
from profiler.results.trial import TREE_FIELDS

KILL_GRACE_S = 1.0
POLL_S = 0.1  # how often the parent checks the child's liveness, deadline and memory
CHILD_ENTRY = "from profiler.measure.child import child_entry"  # also how py-spy finds the child


@dataclass(frozen=True)
class TrialSpec:
    target: str
    model: str
    concurrency: int
    records: int
    repeat: int = 0
    records_file: str | None = None  # pickled list of records (from --input), else generated
    timeout_s: float = 120.0
    sample_interval_s: float = 0.05
    # Model-specific settings (e.g. dask: scheduler address, threads per worker, chunk),
    # handed to the model as `hooks.options` and recorded in Trial.model_options.
    options: tuple[tuple[str, Any], ...] = ()
    # The trial tree is killed when its RSS passes this (None: no ceiling); the source
    # says whose limit it is in the trial's status detail.
    max_rss_bytes: int | None = None
    max_rss_source: str = "--max-rss"


@dataclass
class TrialOutcome:
    trial: Trial
    samples: dict[str, list[Any]]


def run_trial(spec: TrialSpec, probe: Any = None) -> TrialOutcome:
    """Run one trial in a fresh process; never raises for the workload's misbehaviour.

    `probe` (from `Workload.probe`) is started and stopped here, around the window. An
    exception in this process (KeyboardInterrupt, SIGTERM's `Stopped`) propagates after
    the trial's tree is killed."""
    parent_conn, child_conn = mp.Pipe()
    started = time.monotonic()
    deadline = started + spec.timeout_s
    proc: subprocess.Popen[bytes] | None = None
    sampler: TreeSampler | None = None
    summary: TreeSummary | None = None
    window_start: float | None = None
    wall_s: float | None = None
    status, detail, result = "ok", "", None
    probe_started, probe_start_error = False, None
    probe_metrics: dict[str, Any] = {}
    grace_s = 0.0  # how long the child may take to exit by itself once it has said its last word
    try:
        fd = child_conn.fileno()
        proc = subprocess.Popen(
            [sys.executable, "-c", f"{CHILD_ENTRY}; child_entry({fd})"],
            pass_fds=(fd,), stdin=subprocess.DEVNULL,
            # Own process group: a terminal's Ctrl-C reaches only concur, which keeps what
            # was measured and kills this group itself (no half-dead child printing tracebacks).
            process_group=0,
        )
        child_conn.close()
        parent_conn.send((spec, list(sys.path), model_ref(spec.model)))
        memory = TreeMemory(proc.pid, spec.max_rss_bytes)
        while True:
            msg = _recv(parent_conn, proc, deadline, functools.partial(memory.over, sampler))
            kind = msg[0]
            if kind == _TIMEOUT:
                status = "timeout"
                detail = f"killed after the {spec.timeout_s:g} s trial timeout"
                break
            if kind == _DIED:
                status = "crashed"
                detail = f"trial process died ({describe_exit(_wait_exit(proc, KILL_GRACE_S))})"
                break
            if kind == _OVER_MEMORY:
                status = "over-memory"
                detail = (f"its processes held {fmt.mib(msg[1])}, over the "
                          f"{fmt.mib(spec.max_rss_bytes)} limit ({spec.max_rss_source})")
                break
            if kind == "ready":
                sampler = TreeSampler(proc.pid, spec.sample_interval_s)
                sampler.start()
                if probe is not None:
                    probe_start_error = _probe_call(probe.start)
                    probe_started = True
                window_start = time.perf_counter()
                parent_conn.send("go")
            elif kind == "done":
                wall_s = msg[1]
                summary = sampler.stop() if sampler else None
                sampler = None
                if probe_started:
                    probe_metrics = {**(_probe_call(probe.stop) or {}), **(probe_start_error or {})}
                    probe_started = False
                parent_conn.send("ack")
            elif kind == "result":
                result, grace_s = msg[1], KILL_GRACE_S
                break
            elif kind in ("failed", "crashed"):
                status, detail, grace_s = kind, msg[1], KILL_GRACE_S
                break
    finally:
        if proc is not None:  # first, before anything that could be interrupted again
            _kill_tree(proc, grace_s)
        if sampler is not None:  # the window never closed: keep what was sampled
            summary = sampler.stop()
            if probe_started:
                probe_metrics = {**(_probe_call(probe.stop) or {}), **(probe_start_error or {})}
            if wall_s is None and window_start is not None:
                wall_s = time.perf_counter() - window_start
        parent_conn.close()
        child_conn.close()
    trial_outcome = _build(spec, status, detail, result, summary, wall_s)
    if probe_metrics:
        _take_probe_metrics(trial_outcome.trial, probe_metrics)
    return trial_outcome


def _take_probe_metrics(trial: Trial, metrics: dict[str, Any]) -> None:
    """The probe's figures that have a typed field go there; the rest stay in probe_metrics."""
    trial.db_connections_peak = _whole(metrics.pop("db_connections_peak", None))
    trial.db_refused = _whole(metrics.pop("db_refused", None))
    cpu = metrics.pop("db_server_cpu_s", None)
    trial.db_server_cpu_s = float(cpu) if isinstance(cpu, int | float) and not isinstance(cpu, bool) else None
    trial.probe_metrics = metrics


def _whole(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _probe_call(fn: Any) -> Any:
    """A probe's failure is reported in its metrics, never allowed to sink the trial."""
    try:
        return fn() if fn is not None else None
    except Exception as exc:
        return {"probe_error": f"{type(exc).__name__}: {exc}"}


_TIMEOUT, _DIED, _OVER_MEMORY = "concur:timeout", "concur:died", "concur:over-memory"


def _recv(conn: Any, proc: Any, deadline: float, over_memory: Any) -> tuple[Any, ...]:
    """The child's next message, or why none will come: (_TIMEOUT,), (_DIED,) or
    (_OVER_MEMORY, rss_bytes), checked every POLL_S."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return (_TIMEOUT,)
        if conn.poll(min(remaining, POLL_S)):
            try:
                return conn.recv()
            except (EOFError, OSError):
                return (_DIED,)
        if _exit_status(proc) is not None and not conn.poll(0):
            return (_DIED,)
        rss = over_memory()
        if rss is not None:
            return (_OVER_MEMORY, rss)


class TreeMemory:
    """The trial tree's RSS against a ceiling, checked every POLL_S for the whole trial
    (setup and warm-up leak too). While the window's sampler runs, its reading is used,
    so the tree is not read twice."""

    def __init__(self, pid: int, limit_bytes: int | None) -> None:
        self.pid = pid
        self.limit = limit_bytes
        self._procs: list[psutil.Process] = []
        self._next_scan = 0.0

    def over(self, sampler: TreeSampler | None) -> int | None:
        """The tree's RSS when it is over the ceiling, else None."""
        if self.limit is None:
            return None
        rss = sampler.rss_bytes if sampler is not None and sampler.rss_bytes else self.read()
        return rss if rss > self.limit else None

    def read(self) -> int:
        now = time.monotonic()
        if now >= self._next_scan:  # scanning /proc for children is the dear part
            self._next_scan = now + CHILDREN_RESCAN_S
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(self.pid)
                self._procs = [root, *root.children(recursive=True)]
        total = 0
        for p in self._procs:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total


def _kill_tree(proc: Any, grace_s: float) -> None:
    """Kill the trial's process group (every descendant that stayed in it, even one
    orphaned and re-parented) and every descendant psutil finds (one that left it with
    setsid), then reap the child. `grace_s`: how long a child that has sent its result
    may take to exit by itself (0 when concur is being interrupted)."""
    try:
        root = psutil.Process(proc.pid)
        family = [*root.children(recursive=True), root]
    except psutil.Error:
        family = []
    _wait_exit(proc, grace_s)
    # The child is not reaped yet (only WNOWAIT looked at it), so its pid still names its
    # group: no other group can have taken the number.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    for p in family:
        with contextlib.suppress(psutil.Error):
            if p.is_running():
                p.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


def _exit_status(proc: Any) -> int | None:
    """The child's exit as Popen.returncode says it (negative: the signal that killed it),
    read without reaping it (WNOWAIT); None while it runs."""
    try:
        done = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # reaped already
        return proc.returncode if proc.returncode is not None else 0
    if done is None:
        return None
    return done.si_status if done.si_code == os.CLD_EXITED else -done.si_status


def _wait_exit(proc: Any, timeout_s: float) -> int | None:
    """Wait up to `timeout_s` for the child to exit, without reaping it; its exit status."""
    end = time.monotonic() + timeout_s
    while (status := _exit_status(proc)) is None and time.monotonic() < end:
        time.sleep(0.01)
    return status


def _build(spec: TrialSpec, status: str, detail: str, result: dict[str, Any] | None,
           summary: TreeSummary | None, wall_s: float | None) -> TrialOutcome:
    model = get_model(spec.model)
    r = result or {}
    records = r.get("records", spec.records)
    errors = r.get("errors", 0)
    wall = wall_s or r.get("wall_s") or 0.0
    ok_records = records - errors if status == "ok" else 0
    s = summary or TreeSummary()
    user, system = s.get("cpu_user_s"), s.get("cpu_system_s")
    cpu_util = (user + system) / wall if user is not None and system is not None and wall > 0 else None
    trial = Trial(
        model=spec.model,
        concurrency=spec.concurrency,
        repeat=spec.repeat,
        records=records,
        errors=errors,
        wall_s=wall,
        throughput_rps=ok_records / wall if wall > 0 else 0.0,
        **{name: s.get(name) for name in TREE_FIELDS},
        cpu_util=cpu_util,
        latency_p50_ms=r.get("latency_p50_ms"),
        latency_p99_ms=r.get("latency_p99_ms"),
        loop_lag_p50_ms=r.get("loop_lag_p50_ms"),
        loop_lag_p99_ms=r.get("loop_lag_p99_ms"),
        loop_lag_max_ms=r.get("loop_lag_max_ms"),
        tasks_peak=r.get("tasks_peak"),
        status=status,
        status_detail=redact(detail),
        workers=(r.get("model_metrics") or {}).get("worker_threads")
        or model.workers(spec.concurrency, records),
        errors_by_type=r.get("errors_by_type", {}),
        error_messages=r.get("error_messages", {}),
        samples_taken=len(s.samples.get("t_s", [])),
        model_options=model.public_options(dict(spec.options)),
        model_metrics=r.get("model_metrics", {}),
        throughput_series_rps=r.get("throughput_series_rps") or [],
        drift=r.get("drift"),
        sampler_cpu_s=s.sampler_cpu_s if summary is not None else None,
    )
    return TrialOutcome(trial, s.samples)
