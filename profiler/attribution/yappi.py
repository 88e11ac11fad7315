"""Reading the yappi pass's files (written in the trial child by
`profiler.measure.yappi_window`) and merging its two clocks into one table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from profiler.measure.yappi_window import ENV_CLOCK, ENV_OUT

__all__ = ["ENV_CLOCK", "ENV_OUT", "merge_clocks", "read_yappi"]


def read_yappi(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def merge_clocks(wall: dict[str, Any] | None, cpu: dict[str, Any] | None,
                 limit: int = 10) -> list[dict[str, Any]]:
    """Top functions by own wall time, with their own CPU time beside (None if unknown),
    plus the top few by own CPU time that the wall ranking missed (threads computing in
    parallel, the loop's bookkeeping), so the table shows both kinds of cost.

    Wall time is summed over threads and over coroutines: 1,000 tasks each awaiting a
    1 s sleep put 1,000 s on `sleep`. It says where tasks spend their time, not how long
    the window was."""
    def key(r: dict[str, Any]) -> tuple[str, str, int]:
        return (r.get("function", ""), r.get("module", ""), int(r.get("line") or 0))

    walls = {key(r): r for r in (wall or {}).get("functions", [])}
    cpus = {key(r): r for r in (cpu or {}).get("functions", [])}
    order = sorted(walls, key=lambda k: walls[k]["own_s"], reverse=True)[:limit]
    for k in sorted(cpus, key=lambda k: cpus[k]["own_s"], reverse=True)[: max(3, limit // 2)]:
        if k not in order:
            order.append(k)
    out = []
    for k in order:
        w, c = walls.get(k), cpus.get(k)
        base = w or c or {}
        out.append({
            "function": base.get("function", "?"),
            "module": base.get("module", ""),
            "wall_s": w["own_s"] if w else None,
            "cpu_s": c["own_s"] if c else None,
            "calls": base.get("calls"),
        })
    return out
