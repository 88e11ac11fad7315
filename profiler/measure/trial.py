"""One trial = one model x concurrency x records x repeat, in a fresh child process.

Why a fresh process: one model's threads, loop or leaked connections must not skew the
next trial, and a workload that hangs or crashes must take down only its own trial.

The parent and child speak over a pipe:
    child: "ready" (setup + warm-up done)  -> parent starts the sampler, answers "go"
    child: "done"  (records processed)      -> parent stops the sampler, answers "ack"
    child: "result" (latencies, errors, loop lag) or "failed" (why)
so the sampler's window is exactly the records' window, and teardown is never billed.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import psutil

from profiler.measure.sampling import TreeSampler, TreeSummary
from profiler.models import get_model, model_ref
from profiler.models.processes import describe_exit
from profiler.results import Trial

KILL_GRACE_S = 1.0
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


@dataclass
class TrialOutcome:
    trial: Trial
    samples: dict[str, list[Any]]


def run_trial(spec: TrialSpec, probe: Any = None) -> TrialOutcome:
    """Run one trial in a fresh process; never raises for the workload's misbehaviour.

    `probe` (from `Workload.probe`) is started and stopped here, around the window."""
    parent_conn, child_conn = mp.Pipe()
    started = time.monotonic()
    deadline = started + spec.timeout_s
    fd = child_conn.fileno()
    proc = subprocess.Popen(
        [sys.executable, "-c", f"{CHILD_ENTRY}; child_entry({fd})"],
        pass_fds=(fd,), stdin=subprocess.DEVNULL,
        # Own process group: a terminal's Ctrl-C reaches only concur, which keeps what was
        # measured and kills this tree itself (no half-dead child printing tracebacks).
        process_group=0,
    )
    child_conn.close()
    parent_conn.send((spec, list(sys.path), model_ref(spec.model)))
    sampler: TreeSampler | None = None
    summary: TreeSummary | None = None
    window_start: float | None = None
    wall_s: float | None = None
    status, detail, result = "ok", "", None
    probe_started, probe_start_error = False, None
    probe_metrics: dict[str, Any] = {}
    try:
        while True:
            msg = _recv(parent_conn, proc, deadline)
            if msg is None:  # died or timed out
                if time.monotonic() >= deadline:
                    status = "timeout"
                    detail = f"killed after the {spec.timeout_s:g} s trial timeout"
                else:
                    status = "crashed"
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(KILL_GRACE_S)
                    detail = f"trial process died ({describe_exit(proc.returncode)})"
                break
            kind = msg[0]
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
                result = msg[1]
                break
            elif kind in ("failed", "crashed"):
                status, detail = kind, msg[1]
                break
    finally:
        if sampler is not None:  # the window never closed: keep what was sampled
            summary = sampler.stop()
            if probe_started:
                probe_metrics = {**(_probe_call(probe.stop) or {}), **(probe_start_error or {})}
            if wall_s is None and window_start is not None:
                wall_s = time.perf_counter() - window_start
        _kill_tree(proc)
        parent_conn.close()
    trial_outcome = _build(spec, status, detail, result, summary, wall_s)
    if probe_metrics:
        trial_outcome.trial.db_connections_peak = probe_metrics.pop("db_connections_peak", None)
        trial_outcome.trial.probe_metrics = probe_metrics
    return trial_outcome


def _probe_call(fn: Any) -> Any:
    """A probe's failure is reported in its metrics, never allowed to sink the trial."""
    try:
        return fn() if fn is not None else None
    except Exception as exc:
        return {"probe_error": f"{type(exc).__name__}: {exc}"}


def _recv(conn: Any, proc: Any, deadline: float) -> Any:
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        if conn.poll(min(remaining, 0.1)):
            try:
                return conn.recv()
            except (EOFError, OSError):
                return None
        if proc.poll() is not None and not conn.poll(0):
            return None


def _kill_tree(proc: Any) -> None:
    try:
        root = psutil.Process(proc.pid)
        family = [*root.children(recursive=True), root]
    except psutil.Error:
        family = []
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(KILL_GRACE_S)  # a finished trial exits by itself; give it a moment
    for p in family:
        with contextlib.suppress(psutil.Error):
            if p.is_running():
                p.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


def _build(spec: TrialSpec, status: str, detail: str, result: dict[str, Any] | None,
           summary: TreeSummary | None, wall_s: float | None) -> TrialOutcome:
    model = get_model(spec.model)
    r = result or {}
    records = r.get("records", spec.records)
    errors = r.get("errors", 0)
    wall = wall_s or r.get("wall_s") or 0.0
    ok_records = records - errors if status == "ok" else 0
    s = summary or TreeSummary()
    cpu_util = None
    if s.cpu_user_s is not None and s.cpu_system_s is not None and wall > 0:
        cpu_util = (s.cpu_user_s + s.cpu_system_s) / wall
    trial = Trial(
        model=spec.model,
        concurrency=spec.concurrency,
        repeat=spec.repeat,
        records=records,
        errors=errors,
        wall_s=wall,
        throughput_rps=ok_records / wall if wall > 0 else 0.0,
        cpu_user_s=s.cpu_user_s,
        cpu_system_s=s.cpu_system_s,
        cpu_util=cpu_util,
        rss_peak_bytes=s.rss_peak_bytes,
        threads_peak=s.threads_peak,
        fds_peak=s.fds_peak,
        connections_peak=s.connections_peak,
        ctx_switches_voluntary=s.ctx_switches_voluntary,
        ctx_switches_involuntary=s.ctx_switches_involuntary,
        runqueue_wait_s=s.runqueue_wait_s,
        iowait_frac=s.iowait_frac,
        latency_p50_ms=r.get("latency_p50_ms"),
        latency_p99_ms=r.get("latency_p99_ms"),
        loop_lag_p50_ms=r.get("loop_lag_p50_ms"),
        loop_lag_p99_ms=r.get("loop_lag_p99_ms"),
        loop_lag_max_ms=r.get("loop_lag_max_ms"),
        tasks_peak=r.get("tasks_peak"),
        status=status,
        status_detail=detail,
        workers=(r.get("model_metrics") or {}).get("worker_threads")
        or model.workers(spec.concurrency, records),
        errors_by_type=r.get("errors_by_type", {}),
        error_messages=r.get("error_messages", {}),
        samples_taken=len(s.samples.get("t_s", [])),
        model_options=dict(spec.options),
        model_metrics=r.get("model_metrics", {}),
        throughput_series_rps=r.get("throughput_series_rps") or [],
        drift=r.get("drift"),
        sampler_cpu_s=s.sampler_cpu_s if summary is not None else None,
    )
    return TrialOutcome(trial, s.samples)
