"""The in-child event-loop lag monitor (the parent's sampler cannot see inside a loop)."""

from __future__ import annotations

import asyncio
import time

from profiler.stats import percentile


class LoopLagMonitor:
    """A heartbeat task inside the loop: sleep `interval_s`, record how late it wakes.

    The overshoot is the time ready callbacks waited for a busy loop (Node's
    monitorEventLoopDelay does the same). It works under uvloop too, where patching
    asyncio.Handle sees nothing. It also tracks handler tasks in flight.
    """

    def __init__(self, interval_s: float = 0.01, tasks_every: int = 10) -> None:
        self.interval_s = interval_s
        self.tasks_every = tasks_every
        self.lags_s: list[float] = []
        self.in_flight = 0
        self.tasks_peak = 0
        self._running = True

    def task_started(self) -> None:
        self.in_flight += 1
        if self.in_flight > self.tasks_peak:
            self.tasks_peak = self.in_flight

    def task_finished(self) -> None:
        self.in_flight -= 1

    def stop(self) -> None:
        self._running = False

    async def run(self) -> None:
        tick = 0
        while self._running:
            start = time.perf_counter()
            await asyncio.sleep(self.interval_s)
            self.lags_s.append(max(0.0, time.perf_counter() - start - self.interval_s))
            tick += 1
            if tick % self.tasks_every == 0:
                # All tasks alive, including any the handler spawns itself; minus the
                # harness's own two (this monitor and the driver awaiting the handlers).
                self.tasks_peak = max(self.tasks_peak, len(asyncio.all_tasks()) - 2)

    def summary(self) -> dict[str, float | int | None]:
        lags = sorted(self.lags_s)
        if not lags:
            return {"loop_lag_p50_ms": None, "loop_lag_p99_ms": None, "loop_lag_max_ms": None,
                    "tasks_peak": self.tasks_peak}
        return {
            "loop_lag_p50_ms": percentile(lags, 50) * 1000,
            "loop_lag_p99_ms": percentile(lags, 99) * 1000,
            "loop_lag_max_ms": lags[-1] * 1000,
            "tasks_peak": self.tasks_peak,
        }
