"""asyncio-threads: a sync handle called through asyncio.to_thread, N calls in flight.

The loop's default executor is replaced by a pool of exactly N threads (the stock one
caps at min(32, cores + 4), which would silently cap N). Each pool thread runs setup
once, before the window: N warm-up calls held at a barrier force all N threads to exist.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from profiler.models.base import Hooks, LoopWatch, Model
from profiler.models.threads import MAX_THREADS
from profiler.models.workers import SyncWorker, Tally, merged
from profiler.workload import WorkerInfo, Workload


class AsyncioThreadsModel(Model):
    name = "asyncio-threads"
    simplicity = (3, 5)  # runs sync handlers only; last for async ones
    has_loop = True
    same_as_sequential_at_one = True

    def max_concurrency(self, cpu_count: int) -> int:
        return MAX_THREADS

    def default_grid(self, cpu_count: int) -> list[int]:
        return [16]

    def wraps(self, handle_kind: str) -> str:
        # A sync handler on N pool threads, with a loop in front: the threads model's work.
        return "threads" if handle_kind != "async" else ""

    def cap_reason(self, cpu_count: int) -> str:
        return f"{MAX_THREADS} threads, a safety bound on stacks and switching"

    def can_run(self, workload: Workload, sample: list[Any]) -> str | None:
        if workload.sync_handle is None:
            return ("asyncio-threads runs a synchronous handle in threads; this workload's "
                    "handle is async (use asyncio or uvloop)")
        return None

    def run(self, workload: Workload, records: list[Any], concurrency: int, hooks: Hooks,
            target: str) -> Tally:
        n = concurrency
        local = threading.local()
        workers: list[SyncWorker] = []
        lock = threading.Lock()

        def init() -> None:
            with lock:
                index = len(workers)
                worker = SyncWorker(workload, WorkerInfo(self.name, n, index))
                workers.append(worker)
            worker.open()
            local.worker = worker

        barrier = threading.Barrier(n)

        def warm(record: Any) -> None:
            local.worker.call(record, Tally())
            barrier.wait(timeout=300)

        def call(record: Any, tally: Tally) -> None:
            local.worker.call(record, tally)

        def close(closer: threading.Barrier) -> None:
            closer.wait(timeout=300)  # one close per thread: hold each until all have one
            closed = Tally()
            local.worker.close(closed)
            tallies.append(closed)  # list.append is atomic: no lock needed

        tallies: list[Tally] = []
        pool = ThreadPoolExecutor(max_workers=n, initializer=init, thread_name_prefix="concur-to-thread")
        try:
            with asyncio.Runner() as runner:
                loop = runner.get_loop()
                loop.set_default_executor(pool)
                runner.run(_gather(*(asyncio.to_thread(warm, records[i % len(records)]) for i in range(n))))
                watch = hooks.watch_loop(loop)
                with hooks.window(lambda: merged(tallies)):
                    runner.run(_drive(records, n, call, tallies, watch))
                # Teardown on each worker's own thread (thread-bound resources), after the window.
                closer = threading.Barrier(n)
                runner.run(_gather(*(asyncio.to_thread(close, closer) for _ in range(n))))
        finally:
            pool.shutdown(wait=True)
        return merged(tallies)


async def _gather(*aws: Any) -> list[Any]:
    return await asyncio.gather(*aws)


async def _drive(records: list[Any], n: int, call: Any, tallies: list[Tally], watch: LoopWatch) -> None:
    monitor = asyncio.ensure_future(watch.run())
    queue: deque[Any] = deque(records)

    async def pull() -> None:
        tally = Tally()
        tallies.append(tally)
        while queue:
            record = queue.popleft()
            watch.task_started()
            try:
                await asyncio.to_thread(call, record, tally)
            finally:
                watch.task_finished()

    try:
        await asyncio.gather(*(pull() for _ in range(n)))
    finally:
        watch.stop()
        await monitor
