"""sequential: one worker, one record at a time, in the trial's main thread (the baseline)."""

from __future__ import annotations

from typing import Any

from profiler.models.base import Hooks, SyncWorker, Tally, range_reason
from profiler.workload import WorkerInfo, Workload


class SequentialModel:
    name = "sequential"
    has_loop = False

    def reason_cannot_run(self, workload: Workload) -> str | None:
        return None

    def concurrency_error(self, concurrency: int) -> str | None:
        return range_reason(self.name, concurrency, 1, 1)

    def workers(self, concurrency: int, records: int) -> int:
        return 1

    def run(self, workload: Workload, records: list[Any], concurrency: int, hooks: Hooks,
            target: str) -> Tally:
        worker = SyncWorker(workload, WorkerInfo(self.name, 1, 0))
        worker.open()
        try:
            worker.call(records[0], Tally())  # warm-up, not counted
            tally = Tally()
            with hooks.window():
                for record in records:
                    worker.call(record, tally)
        finally:
            worker.close()
        return tally
