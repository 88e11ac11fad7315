"""processes: N worker processes (spawned, so nothing is inherited by accident) fed chunks.

Each worker loads the target by its string (the user's function is never pickled, only
records are), runs setup and one warm-up record, and reports ready; the window opens
when all are ready. Records travel in chunks (about 8 per worker) so IPC stays a small
share of the work while the load still balances. Teardown runs after the window.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import pickle
import queue as queue_mod
import signal
from typing import Any

from profiler.models.base import Hooks, SyncWorker, Tally, range_reason
from profiler.workload import WorkerInfo, Workload, load_target

CHUNKS_PER_WORKER = 8


class WorkerCrashed(RuntimeError):
    """A worker process died (segfault, os._exit, killed) while the trial ran."""


def max_processes() -> int:
    return 2 * (os.cpu_count() or 1)


def unpicklable_reason(records: list[Any]) -> str | None:
    """Processes must send records to workers; say which record cannot travel and why."""
    for i, rec in enumerate(records[:50]):
        try:
            pickle.dumps(rec)
        except Exception as exc:
            return (f"processes skipped: record {i} ({type(rec).__name__}) cannot be pickled "
                    f"to send to worker processes ({type(exc).__name__}: {exc})")
    return None


def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class ProcessesModel:
    name = "processes"
    has_loop = False

    def reason_cannot_run(self, workload: Workload) -> str | None:
        return None  # records that cannot be pickled are checked on the records themselves

    def concurrency_error(self, concurrency: int) -> str | None:
        return range_reason(self.name, concurrency, 1, max_processes())

    def workers(self, concurrency: int, records: int) -> int:
        return concurrency

    def run(self, workload: Workload, records: list[Any], concurrency: int, hooks: Hooks,
            target: str) -> Tally:
        reason = unpicklable_reason(records)
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
            with hooks.window():
                for i in range(0, len(records), size):
                    tasks.put(records[i : i + size])
                done = 0
                while done < len(records):
                    msg = _get(results, procs)
                    done += msg[1]
                    total.merge(Tally.from_wire(msg[2]))
            for _ in procs:
                tasks.put(None)
            for p in procs:
                p.join(timeout=30)
            return total
        finally:
            for p in procs:
                if p.is_alive():
                    p.kill()
                p.join(timeout=5)


def _get(results: Any, procs: list[Any]) -> tuple[Any, ...]:
    while True:
        try:
            return results.get(timeout=0.1)
        except queue_mod.Empty:
            for i, p in enumerate(procs):
                if p.exitcode is not None:  # workers leave only after the final sentinel
                    raise WorkerCrashed(f"worker process {i} died ({describe_exit(p.exitcode)})") from None


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
            chunk = tasks.get()
            if chunk is None:
                break
            tally = Tally()
            for record in chunk:
                worker.call(record, tally)
            results.put(("chunk", len(chunk), tally.to_wire()))
    finally:
        worker.close()
