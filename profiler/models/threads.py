"""threads: N worker threads pulling records from one shared queue.

Each thread runs its own setup (so thread-bound resources such as a sqlite3 connection
stay on their thread) and one warm-up record; all wait at a barrier, then the timed
window opens. A deque is the queue: popleft is atomic, no lock on the hot path.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from profiler.models.base import Hooks, Model
from profiler.models.workers import SyncWorker, Tally, merged
from profiler.workload import WorkerInfo, Workload

MAX_THREADS = 256


class ThreadsModel(Model):
    name = "threads"
    simplicity = (1, 3)  # an async handler needs a loop per thread: after the loop models
    same_as_sequential_at_one = True

    def max_concurrency(self, cpu_count: int) -> int:
        return MAX_THREADS

    def default_grid(self, cpu_count: int) -> list[int]:
        return [4, 16]

    def cap_reason(self, cpu_count: int) -> str:
        return f"{MAX_THREADS} threads, a safety bound on stacks and switching"

    def run(self, workload: Workload, records: list[Any], concurrency: int, hooks: Hooks,
            target: str) -> Tally:
        return run_thread_workers(workload, records, concurrency, hooks, self.name)


def run_thread_workers(workload: Workload, records: list[Any], n: int, hooks: Hooks,
                       model: str) -> Tally:
    queue: deque[Any] = deque(records)
    ready = threading.Barrier(n + 1)
    go = threading.Event()
    release = threading.Event()
    finished = threading.Semaphore(0)
    tallies = [Tally() for _ in range(n)]
    failures: list[BaseException] = []

    def work(index: int) -> None:
        worker = SyncWorker(workload, WorkerInfo(model, n, index))
        try:
            worker.open()
            worker.call(records[index % len(records)], Tally())  # warm-up
        except BaseException as exc:  # setup failed: abort the trial, not just this thread
            failures.append(exc)
            ready.abort()
            return
        try:
            ready.wait()
        except threading.BrokenBarrierError:
            worker.close(tallies[index])
            return
        go.wait()
        tally = tallies[index]
        pop = queue.popleft
        try:
            while True:
                try:
                    record = pop()
                except IndexError:
                    break
                worker.call(record, tally)
        finally:
            finished.release()
            release.wait()
            worker.close(tally)

    threads = [threading.Thread(target=work, args=(i,), name=f"concur-worker-{i}", daemon=True)
               for i in range(n)]
    for t in threads:
        t.start()
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        for t in threads:
            t.join()
        raise (failures[0] if failures else RuntimeError("a worker thread failed during setup")) from None
    try:
        with hooks.window(lambda: merged(tallies)):
            go.set()
            for _ in range(n):
                finished.acquire()
    finally:
        go.set()
        release.set()
        for t in threads:
            t.join()
    return merged(tallies)
