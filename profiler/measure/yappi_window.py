"""yappi inside the trial's child, around the timed window only; and reading its output.

py-spy samples from outside; yappi is a deterministic profiler inside the process, so
it sees every call and can time each function on two clocks: wall (includes waiting;
coroutine-aware: an awaiting coroutine is not billed the time other tasks run) and
CPU (per-thread CPU time). Side by side they separate "this function waits" from
"this function computes", e.g. `select.epoll.poll` (the loop waiting: wall, no CPU) vs
`BaseEventLoop._run_once` (the loop's bookkeeping: CPU).

yappi slows the profiled code several-fold, so its numbers are shares of a distorted
run and are never mixed with timed trials. One clock per trial: yappi cannot switch
clocks while running.

`yappi_window_from_env()` is what the trial child wraps around the window; it does
nothing unless CONCUR_YAPPI_OUT names a file (the attribution's yappi pass sets it).
This module imports only the standard library (yappi itself lazily), because every
trial child imports it. Reading the files is `profiler.attribution.yappi`.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ENV_OUT = "CONCUR_YAPPI_OUT"
ENV_CLOCK = "CONCUR_YAPPI_CLOCK"
KEEP_FUNCTIONS = 200  # the file keeps the top functions by own time; the report shows fewer


@contextlib.contextmanager
def yappi_window(out_path: str | os.PathLike[str] | None, clock: str = "wall") -> Iterator[None]:
    """Profile every thread with yappi while the block runs; write the stats as JSON.

    Never raises for yappi's sake: a missing yappi or a failed write leaves an "error"
    in the file (or no file), and the records still run."""
    if not out_path:
        yield
        return
    path = Path(out_path)
    try:
        import yappi

        yappi.stop()
        yappi.clear_stats()
        yappi.set_clock_type(clock)
        yappi.start(builtins=True, profile_threads=True)
    except Exception as exc:  # noqa: BLE001 - profiling is optional, the trial is not
        _write(path, {"clock": clock, "error": f"{type(exc).__name__}: {exc}", "functions": []})
        yield
        return
    try:
        yield
    finally:
        try:
            yappi.stop()
            _write(path, {"clock": clock, "functions": _rows(yappi.get_func_stats())})
            yappi.clear_stats()
        except Exception as exc:  # noqa: BLE001
            _write(path, {"clock": clock, "error": f"{type(exc).__name__}: {exc}", "functions": []})


def yappi_window_from_env() -> contextlib.AbstractContextManager[None]:
    """The child's hook: profile the window when the parent asked for it (attribution)."""
    out = os.environ.get(ENV_OUT)
    if not out:
        return contextlib.nullcontext()
    return yappi_window(out, os.environ.get(ENV_CLOCK, "wall"))


def _rows(stats: Any) -> list[dict[str, Any]]:
    rows = [
        {"function": s.name, "module": s.module, "line": s.lineno, "calls": s.ncall,
         "own_s": float(s.tsub), "total_s": float(s.ttot), "builtin": bool(s.builtin)}
        for s in stats
    ]
    rows.sort(key=lambda r: r["own_s"], reverse=True)
    return rows[:KEEP_FUNCTIONS]


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)
