"""An attribution entry in plain words: which cost dominates, with its number and threshold.

Pure functions over one entry of `Results.attribution` (the dict `attribute()` returns),
so the report, the markdown summary and tests share one wording; and which
configurations of a run are worth explaining (`choose_configurations`). Like Clinic.js
Doctor, name the problem and the next step; say nothing rather than guess when the
numbers are missing.
"""

from __future__ import annotations

from typing import Any

from profiler.results import Results

# Thresholds, stated in the sentences they trigger.
GIL_WAIT = 0.30  # handler threads waiting for the GIL at least this share of samples
GIL_HELD_LOW = 0.40  # with several threads, holding the GIL less than this: not parallel
LOOP_HEAVY = 0.30  # event-loop machinery at least this share of on-CPU samples
WAITING_HEAVY = 0.60  # workers off CPU (not runnable) at least this share of their time
RUNQUEUE_HEAVY = 0.25  # workers runnable but not running at least this share
ON_CPU_HEAVY = 0.60


def _pct(x: float) -> str:
    return f"{x * 100:.0f} %"


def explain(entry: dict[str, Any]) -> list[str]:
    """The findings of one attributed configuration, most telling first."""
    out: list[str] = []
    d = entry.get("decomposition") or {}
    on_cpu, runq, waiting = d.get("on_cpu"), d.get("runqueue"), d.get("waiting")
    gil, gil_wait = entry.get("gil_share"), entry.get("gil_wait_share")
    loop, user = entry.get("loop_internal_share"), entry.get("user_share")
    model, n = entry.get("model"), entry.get("concurrency")
    threaded = model in ("threads", "asyncio-threads") and (n or 0) > 1

    if gil_wait is not None and gil_wait >= GIL_WAIT:
        out.append(f"The handler threads spent {_pct(gil_wait)} of their samples waiting for the GIL "
                   f"(≥ {_pct(GIL_WAIT)}): their Python code runs one thread at a time, so more "
                   "threads add queueing, not speed; processes (or native code that releases "
                   "the GIL) run it in parallel.")
    elif threaded and gil is not None and gil < GIL_HELD_LOW and on_cpu is not None and on_cpu >= 0.2:
        out.append(f"Each handler thread held the GIL only {_pct(gil)} of the time (< "
                   f"{_pct(GIL_HELD_LOW)}) while on CPU {_pct(on_cpu)}: threads take turns on "
                   "the GIL.")
    if loop is not None and loop >= LOOP_HEAVY:
        mine = f" against {_pct(user)} in your code" if user is not None else ""
        out.append(f"{_pct(loop)} of the CPU samples were the event loop's and the pools' own "
                   f"bookkeeping (≥ {_pct(LOOP_HEAVY)}){mine}: fewer tasks in flight, or more "
                   "work per task, would spend less on scheduling.")
    gil_explains_waiting = (gil_wait is not None and waiting is not None
                            and gil_wait >= GIL_WAIT and gil_wait >= 0.7 * waiting)
    if waiting is not None and waiting >= WAITING_HEAVY and not gil_explains_waiting:
        out.append(f"The workers were off CPU, not runnable, {_pct(waiting)} of their time "
                   f"(≥ {_pct(WAITING_HEAVY)}): they wait on I/O, sleeps or locks; more "
                   "concurrency helps only while what they wait on has capacity.")
    if runq is not None and runq >= RUNQUEUE_HEAVY:
        out.append(f"The workers were runnable but not running {_pct(runq)} of their time "
                   f"(≥ {_pct(RUNQUEUE_HEAVY)}): more runnable workers than free cores.")
    if on_cpu is not None and on_cpu >= ON_CPU_HEAVY and not out:
        where = f", {_pct(user)} of it in your code" if user is not None else ""
        out.append(f"The workers were on CPU {_pct(on_cpu)} of their time{where}: the work "
                   "itself is the cost; only more cores (processes) or faster code help.")
    if not out and d:
        out.append("No single cost dominates: see the split and the top functions below.")
    return out


LOOP_MODELS = ("asyncio", "uvloop")


def choose_configurations(results: Results, limit: int = 2) -> list[tuple[str, int, float]]:
    """Which configurations `concur run --attribution` explains, as (model, concurrency,
    mean throughput): the recommended one, then the fastest event-loop configuration
    (the rewrite the user is weighing), else the fastest of another model. Pure."""
    means: dict[tuple[str, int], list[float]] = {}
    for t in results.ok_trials():
        means.setdefault((t.model, t.concurrency), []).append(t.throughput_rps)
    ranked = sorted(((sum(v) / len(v), k) for k, v in means.items()), reverse=True)
    if not ranked:
        return []
    rec = results.recommendation or {}
    first = (rec.get("model"), rec.get("concurrency"))
    if first not in means:
        first = ranked[0][1]
    picked = [first]
    others = [k for _, k in ranked if k[0] != first[0]]
    loops = [k for k in others if k[0] in LOOP_MODELS]
    picked += (loops or others)[:1]
    return [(m, n, sum(means[(m, n)]) / len(means[(m, n)])) for m, n in picked[:limit]]
