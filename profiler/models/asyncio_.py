"""asyncio: an async handle on the standard event loop; N in flight, or 0 = unbounded."""

from __future__ import annotations

from typing import Any

from profiler.models.loops import LoopModel


class AsyncioModel(LoopModel):
    name = "asyncio"
    simplicity = (4, 1)  # an async handler's native home: first after sequential

    def default_grid(self, cpu_count: int) -> list[int]:
        return [16, 0]  # 0: the naive rewrite, every record gathered at once

    def loop_factory(self) -> Any:
        return None  # asyncio's own
