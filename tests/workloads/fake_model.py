"""A model no part of concur knows by name: registered by a test, it must still appear in
the sweep, the verdict and the report (adding a model is one module and one line)."""

from __future__ import annotations

from typing import Any

from profiler.models.base import Hooks, Model
from profiler.models.threads import run_thread_workers
from profiler.models.workers import Tally
from profiler.workload import Workload


class RelayModel(Model):
    """Threads under another name, capped at 8: enough to climb, cheap to run."""

    name = "relay"
    simplicity = (1, 1)  # as simple as threads: it is threads
    same_as_sequential_at_one = True

    def max_concurrency(self, cpu_count: int) -> int:
        return 8

    def default_grid(self, cpu_count: int) -> list[int]:
        return [2, 8]

    def run(self, workload: Workload, records: list[Any], concurrency: int, hooks: Hooks,
            target: str) -> Tally:
        return run_thread_workers(workload, records, concurrency, hooks, self.name)
