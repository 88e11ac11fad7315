"""The event-loop models' shared engine and facts (asyncio, uvloop): one loop, one setup.

Bounded N: N worker coroutines pull from one queue, so at most N handlers are in flight
(what a semaphore around gather achieves, without creating every task up front).
Unbounded (N = 0): every record becomes a task at once through gather, the naive
rewrite the seed story is about; its cost in tasks and loop lag is what we measure.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from profiler.models.base import MAX_LOOP_CONCURRENCY, Hooks, LoopWatch, Model, async_reason
from profiler.models.workers import AsyncWorker, Tally
from profiler.workload import WorkerInfo, Workload

SWEEP_CAP = 4096  # the adaptive sweep climbs no further (tasks, not threads: cheap, not free)


class LoopModel(Model):
    """An async handle on one event loop (see the module docstring)."""

    has_loop = True
    unbounded = True

    def max_concurrency(self, cpu_count: int) -> int:
        return MAX_LOOP_CONCURRENCY

    def climb_cap(self, cpu_count: int) -> int:
        return SWEEP_CAP

    def cap_reason(self, cpu_count: int) -> str:
        return f"{SWEEP_CAP} tasks in flight, a safety bound (tasks are cheap, not free)"

    def default_grid(self, cpu_count: int) -> list[int]:
        return [16]

    def can_run(self, workload: Workload, sample: list[Any]) -> str | None:
        return async_reason(workload, self.name)

    def workers(self, concurrency: int, records: int) -> int:
        return 1  # one loop thread runs every handler

    def loop_factory(self) -> Callable[[], asyncio.AbstractEventLoop] | None:
        raise NotImplementedError

    def run(self, workload: Workload, records: list[Any], concurrency: int, hooks: Hooks,
            target: str) -> Tally:
        return run_loop_model(workload, records, concurrency, hooks, self.name, self.loop_factory())


def run_loop_model(workload: Workload, records: list[Any], concurrency: int, hooks: Hooks,
                   model: str, loop_factory: Callable[[], asyncio.AbstractEventLoop] | None) -> Tally:
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        worker = AsyncWorker(workload, WorkerInfo(model, concurrency, 0))
        runner.run(worker.open())
        tally = Tally()
        try:
            runner.run(worker.call(records[0], Tally()))  # warm-up
            watch = hooks.watch_loop(runner.get_loop())
            with hooks.window(lambda: tally):
                runner.run(_drive(worker, records, concurrency, tally, watch))
        finally:
            runner.run(worker.close(tally))
    return tally


async def _drive(worker: AsyncWorker, records: list[Any], concurrency: int, tally: Tally,
                 watch: LoopWatch) -> None:
    monitor = asyncio.ensure_future(watch.run())

    async def tracked(record: Any) -> None:
        watch.task_started()
        try:
            await worker.call(record, tally)
        finally:
            watch.task_finished()

    try:
        if concurrency == 0:
            await asyncio.gather(*(tracked(r) for r in records))
        else:
            queue: deque[Any] = deque(records)

            async def pull() -> None:
                while queue:
                    await tracked(queue.popleft())

            await asyncio.gather(*(pull() for _ in range(concurrency)))
    finally:
        watch.stop()
        await monitor
