"""The trial's child side: load the target, run the model, speak the window protocol.

See `profiler.measure.trial` for the protocol. This module is the child process's
entry point (`python -c`), so none of the parent's `__main__` is re-imported: a user's
script calling profile() without a `__main__` guard stays safe.

The child dies with concur. A thread waits (in `poll`, costing nothing while it waits)
for concur's end of the pipe to close, which the kernel does when concur exits for any
reason, SIGKILL included; then it kills the child's whole process group: the child, its
worker processes, anything the handler started. (PR_SET_PDEATHSIG would kill only the
child and orphan its workers.) A parent that went away is never reported as a
traceback: the child leaves quietly.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

import psutil

from profiler.measure.drift import drift, throughput_series
from profiler.measure.looplag import LoopLagMonitor
from profiler.measure.netstat import TcpCounter
from profiler.measure.trial import TrialSpec
from profiler.measure.yappi_window import yappi_window_from_env
from profiler.models import resolve
from profiler.models.processes import WorkerCrashed
from profiler.models.workers import CONNECTION_FAILURE_KINDS, LOST, Tally, traceback_tail
from profiler.redact import redact
from profiler.stats import percentile
from profiler.workload import load_target


class _ChildHooks:
    def __init__(self, conn: Any, options: dict[str, Any] | None = None, n_records: int = 0) -> None:
        self.conn = conn
        self.options = options or {}
        self.n_records = n_records
        self.wall_s: float | None = None
        self.window_start: float | None = None
        self.monitor: LoopLagMonitor | None = None
        self.model_metrics: dict[str, Any] = {}  # filled by models that measure more (dask)
        self.result_sent = False

    @contextlib.contextmanager
    def window(self, counted: Callable[[], Tally] | None = None) -> Iterator[None]:
        """The timed window. A model that can say at its end how every record went passes
        `counted`: the result is sent then, before teardown, so a teardown that hangs or
        dies costs nothing measured (`profiler.measure.trial`)."""
        self.conn.send(("ready",))
        if self.conn.recv() != "go":
            raise RuntimeError("parent did not start the window")
        with yappi_window_from_env():  # attribution's yappi pass only (CONCUR_YAPPI_OUT)
            start = self.window_start = time.perf_counter()
            yield
            self.wall_s = time.perf_counter() - start
        self.conn.send(("done", self.wall_s))
        self.conn.recv()  # "ack": the parent has taken its final sample
        if counted is not None:
            self.conn.send(("result", _child_summary(self.n_records, counted(), self), True))
            self.result_sent = True

    def watch_loop(self, loop: Any) -> LoopLagMonitor:
        self.monitor = LoopLagMonitor()
        return self.monitor

    def tree_connections(self) -> int | None:
        try:
            me = psutil.Process()
            return TcpCounter().count([me, *me.children(recursive=True)])
        except (psutil.Error, OSError):
            return None


def _load_records(spec: TrialSpec, workload: Any) -> list[Any]:
    """The trial's records: the first `spec.records` of the run's records file (pickled
    chunks, read only as far as needed: `run.prepare.RecordFeed`), else the workload's own."""
    if not spec.records_file:
        return workload.make_records(spec.records)
    records: list[Any] = []
    with open(spec.records_file, "rb") as fh:
        while len(records) < spec.records:
            try:
                chunk = pickle.load(fh)
            except EOFError:
                break
            records.extend(chunk[: spec.records - len(records)])
    return records


def child_entry(fd: int) -> None:
    """Entry point of the trial process: receive the spec, run it, report."""
    os.set_inheritable(fd, False)  # a program the handler starts must not get concur's pipe
    die_with_parent(fd)
    conn = Connection(fd)
    try:
        spec, sys_path, ref = conn.recv()
        sys.path[:] = sys_path
        _child_main(conn, spec, ref)
    except (EOFError, OSError):  # concur is gone (the watcher is ending this group): no traceback
        os._exit(1)


def die_with_parent(fd: int) -> threading.Thread:
    """Start the watcher: when the parent's end of the pipe `fd` closes, kill this group."""
    own = os.dup(fd)  # our own descriptor: nobody else closes it under the poll

    def watch() -> None:
        poller = select.poll()
        poller.register(own, select.POLLRDHUP)  # HUP and ERR are always reported too
        while not poller.poll():
            pass
        kill_own_group()

    thread = threading.Thread(target=watch, name="concur-parent-watch", daemon=True)
    thread.start()
    return thread


def kill_own_group() -> None:
    """SIGKILL this process's group when it leads one (the trial child does), else its
    descendants and itself."""
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpid(), signal.SIGKILL)
    with contextlib.suppress(psutil.Error):
        for p in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                p.kill()
    os._exit(1)


def _child_main(conn: Any, spec: TrialSpec, ref: str) -> None:
    try:
        workload = load_target(spec.target)
        records = _load_records(spec, workload)
        if not records:
            raise RuntimeError("the workload produced no records")
        model = resolve(spec.model, ref)
        hooks = _ChildHooks(conn, dict(spec.options), len(records))
        tally = model.run(workload, records, spec.concurrency, hooks, spec.target)
    except WorkerCrashed as exc:
        conn.send(("crashed", str(exc)))
        return
    except BaseException as exc:  # setup or the harness failed: report, do not hang the parent
        conn.send(("failed", redact(f"{type(exc).__name__}: {exc}"),
                   {type(exc).__name__: traceback_tail(exc)}))
        return
    if hooks.result_sent:  # the records went before teardown; now what teardown said
        conn.send(("closed", {"teardown_errors": tally.teardown_errors}))
        return
    conn.send(("result", _child_summary(len(records), tally, hooks)))


def _child_summary(n_records: int, tally: Tally, hooks: _ChildHooks) -> dict[str, Any]:
    missing = n_records - tally.outcomes
    if missing > 0:  # a worker stopped without reporting them: failed, not done
        tally.lost(LOST, missing, f"{missing} records were never reported by a worker "
                   "(a worker stopped before finishing them)")
    if tally.teardown_errors:  # beside dask's own, under the same name
        seen = hooks.model_metrics.setdefault("teardown_errors", [])
        seen.extend(t for t in tally.teardown_errors if t not in seen)
    lat = sorted(tally.latencies_s)
    out: dict[str, Any] = {
        "records": n_records,
        "wall_s": hooks.wall_s,
        "errors": sum(tally.errors.values()),
        "errors_by_type": dict(tally.errors),
        "error_messages": tally.messages,
        "error_tracebacks": tally.tracebacks,
        "connection_failures": {k: tally.connection_failures[k] for k in CONNECTION_FAILURE_KINDS},
        "latency_p50_ms": percentile(lat, 50) * 1000 if lat else None,
        "latency_p99_ms": percentile(lat, 99) * 1000 if lat else None,
    }
    if hooks.window_start is not None and hooks.wall_s:
        series = throughput_series(tally.done_at, hooks.window_start, hooks.wall_s)
        out["throughput_series_rps"] = series
        out["drift"] = drift(series, n_records)
    if hooks.monitor is not None:
        out.update(hooks.monitor.summary())
    if hooks.model_metrics:
        out["model_metrics"] = hooks.model_metrics
    return out


