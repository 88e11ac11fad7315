"""uvloop: the asyncio model on uvloop's libuv-based loop."""

from __future__ import annotations

from typing import Any

from profiler.models.base import Hooks, Tally, async_reason, loop_concurrency_reason
from profiler.models.loops import run_loop_model
from profiler.workload import Workload


class UvloopModel:
    name = "uvloop"
    has_loop = True

    def reason_cannot_run(self, workload: Workload) -> str | None:
        try:
            import uvloop  # noqa: F401
        except ImportError:
            return "uvloop is not installed (pip install uvloop)"
        return async_reason(workload, self.name)

    def concurrency_error(self, concurrency: int) -> str | None:
        return loop_concurrency_reason(self.name, concurrency)

    def workers(self, concurrency: int, records: int) -> int:
        return 1

    def run(self, workload: Workload, records: list[Any], concurrency: int, hooks: Hooks,
            target: str) -> Tally:
        import uvloop

        return run_loop_model(workload, records, concurrency, hooks, self.name, uvloop.new_event_loop)
