"""processes: N worker processes (spawned, so nothing is inherited by accident) fed chunks.

Each worker loads the target by its string (the user's function is never pickled, only
records are), runs setup and one warm-up record, and reports ready; the window opens
when all are ready. Records travel in chunks (about 8 per worker) so IPC stays a small
share of the work while the load still balances; a record that cannot be pickled is
counted as an error naming it. Teardown runs after the window; workers still running a
second after it (a thread or a process the handler started) are killed and named.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing as mp
import pickle
import queue as queue_mod
import signal
import time
from typing import Any

import psutil

from profiler.models.base import Hooks, Model, unpicklable_reason
from profiler.models.workers import SyncWorker, Tally
from profiler.workload import WorkerInfo, Workload, load_target

CHUNKS_PER_WORKER = 8
TEARDOWN_WAIT_S = 8.0  # for the workers' teardowns (the trial's own limit is 10 s: measure.trial)
STRAGGLER_GRACE_S = 1.0  # after teardown, for the workers to exit before they are killed and named
UNPICKLABLE = "UnpicklableRecord"  # the error type of a record that cannot reach a worker
# A safety bound, not a rule of thumb: each worker is a process (memory, start-up). Work
# that waits (a pool of connections per process, 80 % waiting on a database) runs best
# far beyond 2 × cores; CPU-bound work is stopped sooner by the measured saturation cap.
PROCESSES_PER_CORE = 16


class WorkerCrashed(RuntimeError):
    """A worker process died (segfault, os._exit, killed) while the trial ran."""


def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class ProcessesModel(Model):
    name = "processes"
    simplicity = (2, 4)  # an async handler needs a loop per process
    same_as_sequential_at_one = True
    handlers_in_other_processes = True

    def max_concurrency(self, cpu_count: int) -> int:
        return PROCESSES_PER_CORE * cpu_count

    def cap_reason(self, cpu_count: int) -> str:
        return (f"{PROCESSES_PER_CORE} processes per core, a safety bound on memory and start-up; "
                "CPU saturation and --max-rss, measured, stop a climb sooner")

    def default_grid(self, cpu_count: int) -> list[int]:
        return [cpu_count]

    def can_run(self, workload: Workload, sample: list[Any]) -> str | None:
        return unpicklable_reason(sample, self.name, "worker processes")

    def run(self, workload: Workload, records: list[Any], concurrency: int, hooks: Hooks,
            target: str) -> Tally:
        reason = self.can_run(workload, records)
        if reason:
            raise RuntimeError(reason)
        ctx = mp.get_context("spawn")
        tasks: Any = ctx.Queue()
        results: Any = ctx.Queue()
        procs = [
            ctx.Process(target=_worker_main, name=f"concur-proc-{i}", daemon=True,
                        args=(target, self.name, concurrency, i, records[i % len(records)],
                              tasks, results))
            for i in range(concurrency)
        ]
        for p in procs:
            p.start()
        try:
            for _ in range(concurrency):
                msg = _get(results, procs)
                if msg[0] == "failed":
                    raise RuntimeError(f"setup in worker process {msg[1]} failed: {msg[2]}")
            size = max(1, math.ceil(len(records) / (concurrency * CHUNKS_PER_WORKER)))
            total = Tally()
            with hooks.window(lambda: total):
                sent = 0
                for i in range(0, len(records), size):
                    sent += _put_chunk(tasks, records, i, size, total)
                done = 0
                while done < sent:
                    msg = _get(results, procs)
                    done += msg[1]
                    total.merge(Tally.from_wire(msg[2]))
            family = _descendants(procs)  # what the handler started, before the workers go
            for _ in procs:
                tasks.put(None)
            _collect_teardowns(results, procs, total)
            _finish(procs, family, total)
            return total
        finally:
            for p in procs:
                if p.is_alive():
                    p.kill()
            _reaped(procs, STRAGGLER_GRACE_S)


def _put_chunk(tasks: Any, records: list[Any], start: int, size: int, total: Tally) -> int:
    """Send records[start:start+size] to the workers, pickled here (not by the queue's feeder
    thread, which would print the error and drop the whole chunk, leaving the trial waiting
    for records that never come); a record that cannot be pickled is counted as an error
    naming it. Returns how many records were sent."""
    chunk = records[start:start + size]
    try:
        tasks.put(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))
        return len(chunk)
    except Exception:  # noqa: BLE001 - any pickling failure: find the records it was
        pass
    good = []
    for index, record in enumerate(chunk, start):
        try:
            pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001
            total.lost(UNPICKLABLE, 1, f"record {index} ({type(record).__name__}) cannot be sent "
                       f"to a worker process: {type(exc).__name__}: {exc}")
            continue
        good.append(record)
    if good:
        tasks.put(pickle.dumps(good, protocol=pickle.HIGHEST_PROTOCOL))
    return len(good)


def _get(results: Any, procs: list[Any]) -> tuple[Any, ...]:
    while True:
        try:
            return results.get(timeout=0.1)
        except queue_mod.Empty:
            for i, p in enumerate(procs):
                if p.exitcode is not None:  # workers leave only after the final sentinel
                    raise WorkerCrashed(f"worker process {i} died ({describe_exit(p.exitcode)})") from None


def _collect_teardowns(results: Any, procs: list[Any], total: Tally,
                       timeout_s: float = TEARDOWN_WAIT_S) -> None:
    """Each worker's teardown outcome ("closed"); a worker that dies or hangs in teardown
    is named by `_finish`, the window being over."""
    deadline = time.monotonic() + timeout_s
    pending = len(procs)
    while pending and time.monotonic() < deadline:
        try:
            msg = results.get(timeout=0.1)
        except queue_mod.Empty:
            if all(p.exitcode is not None for p in procs) and results.empty():
                return
            continue
        if msg[0] == "closed":
            pending -= 1
            total.merge(Tally.from_wire(msg[1]))


def _descendants(procs: list[Any]) -> dict[int, list[psutil.Process]]:
    """Every process each worker started (the handler's children), by worker index."""
    out: dict[int, list[psutil.Process]] = {}
    for i, p in enumerate(procs):
        with contextlib.suppress(psutil.Error, ValueError):
            out[i] = psutil.Process(p.pid).children(recursive=True)
    return out


def _finish(procs: list[Any], family: dict[int, list[psutil.Process]], total: Tally) -> None:
    """Give the workers STRAGGLER_GRACE_S, together, to exit after their teardown; kill and
    name what is still running then: a worker kept alive by a non-daemon thread, a child
    process the handler started (which also holds the worker's sentinel, so joining would
    wait for it)."""
    _reaped(procs, STRAGGLER_GRACE_S)
    for i, p in enumerate(procs):
        if p.exitcode is None:
            p.kill()
            total.note_teardown(f"worker process {i} was still running {STRAGGLER_GRACE_S:g} s after "
                                "its teardown (a non-daemon thread the handler started?): killed")
        for child in family.get(i, []):
            with contextlib.suppress(psutil.Error):
                if child.is_running() and child.status() != psutil.STATUS_ZOMBIE:
                    name = " ".join(child.cmdline()[:3]) or child.name()
                    child.kill()
                    total.note_teardown(f"worker process {i} left a process running after its "
                                        f"teardown (pid {child.pid}, {name[:80]}): killed")


def _reaped(procs: list[Any], within_s: float) -> bool:
    """Wait up to `within_s`, for all together, until every worker has exited (by its exit
    status, not its sentinel, which a process the handler started may hold open)."""
    end = time.monotonic() + within_s
    while any(p.exitcode is None for p in procs):
        if time.monotonic() >= end:
            return False
        time.sleep(0.02)
    return True


def _worker_main(target: str, model: str, n: int, index: int, warm_record: Any,
                 tasks: Any, results: Any) -> None:
    try:
        workload = load_target(target)
        worker = SyncWorker(workload, WorkerInfo(model, n, index))
        worker.open()
        worker.call(warm_record, Tally())
    except BaseException as exc:
        results.put(("failed", index, f"{type(exc).__name__}: {exc}"))
        return
    results.put(("ready", index))
    try:
        while True:
            payload = tasks.get()
            if payload is None:
                break
            chunk = pickle.loads(payload)
            tally = Tally()
            for record in chunk:
                worker.call(record, tally)
            results.put(("chunk", len(chunk), tally.to_wire()))
    finally:
        closed = Tally()
        worker.close(closed)
        results.put(("closed", closed.to_wire()))
