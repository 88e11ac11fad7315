"""uvloop: the asyncio model on uvloop's libuv-based loop."""

from __future__ import annotations

from typing import Any

from profiler.models.loops import LoopModel
from profiler.workload import Workload


class UvloopModel(LoopModel):
    name = "uvloop"
    simplicity = (5, 2)  # asyncio plus a dependency

    def can_run(self, workload: Workload, sample: list[Any]) -> str | None:
        try:
            import uvloop  # noqa: F401
        except ImportError:
            return "uvloop is not installed (pip install uvloop)"
        return super().can_run(workload, sample)

    def loop_factory(self) -> Any:
        import uvloop

        return uvloop.new_event_loop
