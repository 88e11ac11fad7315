"""The trial's child side: load the target, run the model, speak the window protocol.

See `profiler.measure.trial` for the protocol. This module is the child process's
entry point (`python -c`), so none of the parent's `__main__` is re-imported: a user's
script calling profile() without a `__main__` guard stays safe.
"""

from __future__ import annotations

import contextlib
import pickle
import sys
import time
from collections.abc import Iterator
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
from profiler.models.workers import Tally
from profiler.stats import percentile
from profiler.workload import load_target


class _ChildHooks:
    def __init__(self, conn: Any, options: dict[str, Any] | None = None) -> None:
        self.conn = conn
        self.options = options or {}
        self.wall_s: float | None = None
        self.window_start: float | None = None
        self.monitor: LoopLagMonitor | None = None
        self.model_metrics: dict[str, Any] = {}  # filled by models that measure more (dask)

    @contextlib.contextmanager
    def window(self) -> Iterator[None]:
        self.conn.send(("ready",))
        if self.conn.recv() != "go":
            raise RuntimeError("parent did not start the window")
        with yappi_window_from_env():  # attribution's yappi pass only (CONCUR_YAPPI_OUT)
            start = self.window_start = time.perf_counter()
            yield
            self.wall_s = time.perf_counter() - start
        self.conn.send(("done", self.wall_s))
        self.conn.recv()  # "ack": the parent has taken its final sample

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
    if spec.records_file:
        with open(spec.records_file, "rb") as fh:
            records = pickle.load(fh)
        return records[: spec.records]
    return workload.make_records(spec.records)


def child_entry(fd: int) -> None:
    """Entry point of the trial process: receive the spec, run it, report."""
    conn = Connection(fd)
    spec, sys_path, ref = conn.recv()
    sys.path[:] = sys_path
    _child_main(conn, spec, ref)


def _child_main(conn: Any, spec: TrialSpec, ref: str) -> None:
    try:
        workload = load_target(spec.target)
        records = _load_records(spec, workload)
        if not records:
            raise RuntimeError("the workload produced no records")
        model = resolve(spec.model, ref)
        hooks = _ChildHooks(conn, dict(spec.options))
        tally = model.run(workload, records, spec.concurrency, hooks, spec.target)
    except WorkerCrashed as exc:
        conn.send(("crashed", str(exc)))
        return
    except BaseException as exc:  # setup or the harness failed: report, do not hang the parent
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("result", _child_summary(len(records), tally, hooks)))


def _child_summary(n_records: int, tally: Tally, hooks: _ChildHooks) -> dict[str, Any]:
    lat = sorted(tally.latencies_s)
    out: dict[str, Any] = {
        "records": n_records,
        "wall_s": hooks.wall_s,
        "errors": sum(tally.errors.values()),
        "errors_by_type": dict(tally.errors),
        "error_messages": tally.messages,
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


