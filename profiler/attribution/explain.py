"""An attribution entry in plain words: which cost dominates, with its number and threshold.

Pure functions over one entry of `Results.attribution` (the dict `attribute()` returns),
so the report, the markdown summary and tests share one wording; and which
configurations of a run are worth explaining (`choose_configurations`). Like Clinic.js
Doctor, name the problem and the next step; say nothing rather than guess when the
numbers are missing.
"""

from __future__ import annotations

from profiler import format as fmt
from profiler.analysis.standings import table
from profiler.models import get_model
from profiler.results import Attribution, Config, Decomposition, Results
from profiler.results.standings import ERRORS, UNCONFIRMED

# Thresholds, stated in the sentences they trigger.
GIL_WAIT = 0.30  # handler threads waiting for the GIL at least this share of samples
GIL_HELD_LOW = 0.40  # with several threads, holding the GIL less than this: not parallel
LOOP_HEAVY = 0.30  # event-loop machinery at least this share of on-CPU samples
WAITING_HEAVY = 0.60  # workers off CPU (not runnable) at least this share of their time
RUNQUEUE_HEAVY = 0.25  # workers runnable but not running at least this share
ON_CPU_HEAVY = 0.60


def explain(entry: Attribution, split: Decomposition | None = None) -> list[str]:
    """The findings of one attributed configuration, most telling first; `split` stands in
    for the entry's own decomposition when it has none (the sweep's trials')."""
    out: list[str] = []
    d = entry.decomposition or split
    on_cpu, runq, waiting = (d.on_cpu, d.runqueue, d.waiting) if d else (None, None, None)
    gil, gil_wait = entry.gil_share, entry.gil_wait_share
    loop, user = entry.loop_internal_share, entry.user_share
    model = get_model(entry.model)
    threaded = model.workers(entry.concurrency, 1) > 1 and not model.handlers_in_other_processes

    if gil_wait is not None and gil_wait >= GIL_WAIT:
        out.append(f"The handler threads spent {fmt.pct(gil_wait, 0)} of their samples waiting for the GIL "
                   f"(≥ {fmt.pct(GIL_WAIT, 0)}): their Python code runs one thread at a time, so more "
                   "threads add queueing, not speed; processes (or native code that releases "
                   "the GIL) run it in parallel.")
    elif threaded and gil is not None and gil < GIL_HELD_LOW and on_cpu is not None and on_cpu >= 0.2:
        out.append(f"Each handler thread held the GIL only {fmt.pct(gil, 0)} of the time (< "
                   f"{fmt.pct(GIL_HELD_LOW, 0)}) while on CPU {fmt.pct(on_cpu, 0)}: threads take turns on "
                   "the GIL.")
    if loop is not None and loop >= LOOP_HEAVY:
        mine = f" against {fmt.pct(user, 0)} in your code" if user is not None else ""
        out.append(f"{fmt.pct(loop, 0)} of the CPU samples were the event loop's and the pools' own "
                   f"bookkeeping (≥ {fmt.pct(LOOP_HEAVY, 0)}){mine}: fewer tasks in flight, or more "
                   "work per task, would spend less on scheduling.")
    gil_explains_waiting = (gil_wait is not None and waiting is not None
                            and gil_wait >= GIL_WAIT and gil_wait >= 0.7 * waiting)
    if waiting is not None and waiting >= WAITING_HEAVY and not gil_explains_waiting:
        out.append(f"The workers were off CPU, not runnable, {fmt.pct(waiting, 0)} of their time "
                   f"(≥ {fmt.pct(WAITING_HEAVY, 0)}): they wait on I/O, sleeps or locks; more "
                   "concurrency helps only while what they wait on has capacity.")
    if runq is not None and runq >= RUNQUEUE_HEAVY:
        out.append(f"The workers were runnable but not running {fmt.pct(runq, 0)} of their time "
                   f"(≥ {fmt.pct(RUNQUEUE_HEAVY, 0)}): more runnable workers than free cores.")
    if on_cpu is not None and on_cpu >= ON_CPU_HEAVY and not out:
        where = f", {fmt.pct(user, 0)} of it in your code" if user is not None else ""
        out.append(f"The workers were on CPU {fmt.pct(on_cpu, 0)} of their time{where}: the work "
                   "itself is the cost; only more cores (processes) or faster code help.")
    if not out and d:
        out.append("No single cost dominates: see the split and the top functions below.")
    return out


def choose_configurations(results: Results, limit: int = 2) -> list[Config]:
    """Which configurations `concur run --attribution` explains: the recommended one (the
    standings' best, else the fastest measured), then the highest-ranked event-loop
    configuration that ran under the error allowance (the rewrite the user is weighing),
    else the highest-ranked of another model. Pure."""
    s = table(results)
    first = s.top
    if first is None:
        return []
    usable = [r.config for r in s.rows if r.kind not in (ERRORS, *UNCONFIRMED)]
    others = [c for c in usable if c.model != first.model]
    loops = [c for c in others if get_model(c.model).has_loop]
    return [first, *(loops or others)[:1]][:limit]
