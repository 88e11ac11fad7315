"""processes: N worker processes (spawned, so nothing is inherited by accident) fed chunks.

Each worker loads the target by its string (the user's function is never pickled, only
records are), runs setup and one warm-up record, and reports ready; the window opens
when all are ready. Records travel in chunks (about 8 per worker) so IPC stays a small
share of the work while the load still balances. Teardown runs after the window.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import queue as queue_mod
import signal
import time
from typing import Any

from profiler.models.base import Hooks, Model, unpicklable_reason
from profiler.models.workers import SyncWorker, Tally
from profiler.workload import WorkerInfo, Workload, load_target

CHUNKS_PER_WORKER = 8


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
        return 2 * cpu_count  # beyond that, workers only queue for cores

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
            _collect_teardowns(results, procs, total)
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


def _collect_teardowns(results: Any, procs: list[Any], total: Tally, timeout_s: float = 30.0) -> None:
    """Each worker's teardown outcome ("closed"); a worker that dies or hangs in teardown
    is left to the join and the trial's kill, the window being over."""
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
        closed = Tally()
        worker.close(closed)
        results.put(("closed", closed.to_wire()))
