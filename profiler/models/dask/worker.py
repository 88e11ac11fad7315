"""The dask model's worker side: the functions that run inside each dask worker process.

Tasks name these functions by module path (cloudpickle pickles importable functions by
reference), so the user's function is never pickled: a worker loads the target by its
string through `load_target`, and only records travel, as pickled bytes that are
unpickled *after* the target is loaded (records of a class defined in the target file
then resolve on a worker that has just been restarted, too).

Setup runs once per executing thread of a worker (with one thread per worker, the
default, that is once per worker), as the threads model does, so a thread-bound
context (a sqlite3 connection, an event loop for an async handle) stays on its thread.
Warm-up and teardown send one task per thread, held at a barrier so that the worker's
thread pool gives each a different thread. State is keyed on a per-trial token: a
long-lived worker of an external cluster sets up and tears down each trial on its own.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import resource
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

from profiler.models.workers import SyncWorker, Tally, run_for
from profiler.workload import WorkerInfo, Workload, load_target

BARRIER_TIMEOUT_S = 30.0
PROBE_INTERVAL_S = 0.05

# (token, target, concurrency, threads_per_worker): what every task carries.
TaskSpec = tuple[str, str, int, int]

_LOCK = threading.Lock()
_TRIALS: dict[str, _TrialState] = {}
_PROBES: dict[str, _Probe] = {}


@dataclass
class _TrialState:
    workload: Workload
    concurrency: int
    threads: int
    rank: int  # this worker's index in the cluster (-1: joined after warm-up)
    address: str
    workers: dict[int, SyncWorker] = field(default_factory=dict)  # thread ident -> worker
    slots: int = 0  # threads set up so far (numbers WorkerInfo.worker_index)
    barriers: dict[str, threading.Barrier] = field(default_factory=dict)
    late_setups: int = 0  # setups that ran inside the window (restarted worker, extra thread)


def _whoami(threads: int) -> tuple[str, int]:
    """(this worker's address, its thread count); an external worker's own count wins."""
    try:
        from distributed import get_worker

        worker = get_worker()
        return worker.address, int(worker.state.nthreads)
    except Exception:  # not inside a worker (unit tests call these functions directly)
        return f"pid:{os.getpid()}", threads


def _state(spec: TaskSpec, rank: int = -1) -> _TrialState:
    token, target, concurrency, threads = spec
    with _LOCK:
        state = _TRIALS.get(token)
        if state is None:
            address, threads = _whoami(threads)
            state = _TrialState(load_target(target), concurrency, threads, rank, address)
            _TRIALS[token] = state
        return state


def _thread_worker(state: _TrialState, late: bool) -> SyncWorker:
    ident = threading.get_ident()
    worker = state.workers.get(ident)
    if worker is None:
        with _LOCK:
            slot = state.slots
            state.slots += 1
            if late:
                state.late_setups += 1
        # A worker that joined after warm-up (a restart) numbers its threads after the rest.
        base = state.rank if state.rank >= 0 else state.concurrency
        worker = SyncWorker(state.workload, WorkerInfo("dask", state.concurrency,
                                                       base * state.threads + slot))
        worker.open()
        with _LOCK:
            state.workers[ident] = worker
    return worker


def _barrier(state: _TrialState, name: str) -> None:
    """Hold this task until the worker's other threads have one too (distinct threads)."""
    if state.threads <= 1:
        return
    with _LOCK:
        barrier = state.barriers.setdefault(name, threading.Barrier(state.threads))
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait(BARRIER_TIMEOUT_S)


def add_sys_path(entries: list[str]) -> None:
    """Append the client's import path entries that exist here (module targets, siblings)."""
    for entry in entries:
        if entry and entry not in sys.path and os.path.isdir(entry):
            sys.path.append(entry)


def warm(spec: TaskSpec, rank: int, payload: bytes) -> tuple[str, int, float]:
    """Setup for this thread, then one record (not counted): (address, pid, seconds)."""
    state = _state(spec, rank)
    worker = _thread_worker(state, late=False)
    start = time.perf_counter()
    worker.call(pickle.loads(payload), Tally())
    took = time.perf_counter() - start
    _barrier(state, "warm")
    return state.address, os.getpid(), took


def calibrate(spec: TaskSpec, payload: bytes, budget_s: float) -> tuple[int, float]:
    """Run records until `budget_s` has passed: (records run, seconds), for chunk=auto."""
    worker = _thread_worker(_state(spec), late=False)
    return run_for(worker, pickle.loads(payload), budget_s)


def run_chunk(payload: bytes, spec: TaskSpec) -> tuple[Any, float, str, int]:
    """One task: every record of the chunk. Returns (tally wire, body seconds, worker, late setups).

    The body time is what the task spent inside the user's function and its loop; the
    window's worker-thread time minus the sum of bodies is the dask overhead."""
    start = time.perf_counter()
    state = _state(spec)
    worker = _thread_worker(state, late=True)
    tally = Tally()
    for record in pickle.loads(payload):
        worker.call(record, tally)
    return tally.to_wire(), time.perf_counter() - start, state.address, state.late_setups


def teardown(spec: TaskSpec) -> list[str]:
    """Teardown for this thread's context; returns teardown errors (never raises)."""
    state = _TRIALS.get(spec[0])
    if state is None:
        return []
    errors: list[str] = []
    with _LOCK:
        worker = state.workers.pop(threading.get_ident(), None)
    if worker is not None:
        try:
            worker.close()
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    _barrier(state, "teardown")
    return errors


def forget(token: str) -> list[str]:
    """Drop the trial's state (run on every worker after teardown); closes any leftovers."""
    with _LOCK:
        state = _TRIALS.pop(token, None)
        _PROBES.pop(token, None)
    errors: list[str] = []
    for worker in (state.workers.values() if state else ()):
        try:
            worker.close()
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    return errors


class _Probe:
    """CPU seconds and peak RSS of this worker process across the timed window."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.cpu0 = self.proc.cpu_times()
        self.t0 = time.perf_counter()
        self.rss_peak = self.proc.memory_info().rss
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="concur-dask-probe", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop_event.wait(PROBE_INTERVAL_S):
            with contextlib.suppress(psutil.Error):
                self.rss_peak = max(self.rss_peak, self.proc.memory_info().rss)

    def stop(self) -> dict[str, Any]:
        self.stop_event.set()
        self.thread.join(1.0)
        cpu = self.proc.cpu_times()
        with contextlib.suppress(psutil.Error):
            self.rss_peak = max(self.rss_peak, self.proc.memory_info().rss)
        return {
            "pid": self.proc.pid,
            "host": os.uname().nodename,
            "cpu_user_s": cpu.user - self.cpu0.user,
            "cpu_system_s": cpu.system - self.cpu0.system,
            "seconds": time.perf_counter() - self.t0,
            "rss_peak_bytes": self.rss_peak,
            # Lifetime peak (KiB on Linux): includes imports and setup, before the window.
            "rss_lifetime_peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "threads": self.proc.num_threads(),
        }


def probe_start(token: str) -> None:
    with _LOCK:
        _PROBES[token] = _Probe()


def probe_stop(token: str) -> dict[str, Any] | None:
    with _LOCK:
        probe = _PROBES.pop(token, None)
    return probe.stop() if probe else None  # None: a worker that joined during the window
