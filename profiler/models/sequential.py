"""sequential: one worker, one record at a time, in the trial's main thread (the baseline)."""

from __future__ import annotations

from typing import Any

from profiler.models.base import Hooks, Model
from profiler.models.workers import SyncWorker, Tally
from profiler.workload import WorkerInfo, Workload


class SequentialModel(Model):
    name = "sequential"
    simplicity = (0, 0)

    def run(self, workload: Workload, records: list[Any], concurrency: int, hooks: Hooks,
            target: str) -> Tally:
        worker = SyncWorker(workload, WorkerInfo(self.name, 1, 0))
        worker.open()
        tally = Tally()
        try:
            worker.call(records[0], Tally())  # warm-up, not counted
            with hooks.window(lambda: tally):
                for record in records:
                    worker.call(record, tally)
        finally:
            worker.close(tally)
        return tally
