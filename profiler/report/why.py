"""View models for "Why it is slow": one per attributed configuration in `Results.attribution`.

Any share may be None (a py-spy that could not attach, a Python where the GIL share
cannot be measured), which reads "n/a" or becomes a note. As everywhere in the report,
the numbers are formatted here and the template only places them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from profiler import format as fmt
from profiler.analysis.decompose import mean_decomposition
from profiler.attribution.explain import explain
from profiler.report.cells import Cell, KeyFigure, Row, Table, num
from profiler.results import Attribution as Entry
from profiler.results import Decomposition, Results


@dataclass(frozen=True)
class Link:
    label: str
    href: str  # relative to index.html
    note: str = ""


@dataclass(frozen=True)
class Attribution:
    """"Why it is slow" for one attributed configuration (py-spy and yappi passes)."""

    id: str
    title: str
    findings: tuple[str, ...]
    figures: tuple[KeyFigure, ...]
    top_cpu: Table
    yappi: Table
    links: tuple[Link, ...]
    warnings: tuple[str, ...]
    notes: tuple[str, ...]


WAIT_LABELS = (("gil", "GIL"), ("lock", "locks"), ("sleep", "sleep"), ("io", "I/O"))


def attribution_figures(entry: Entry, split: Decomposition | None) -> tuple[KeyFigure, ...]:
    figures = []
    if split:
        value = " / ".join(f"{p * 100:.0f}" for p in (split.on_cpu, split.runqueue, split.waiting)) + " %"
        figures.append(KeyFigure("On CPU / run queue / waiting", value,
                                 "of the workers' time (kernel accounting)"))
    figures.append(KeyFigure("GIL held", fmt.pct(entry.gil_share, 0),
                             "per handler thread, py-spy --gil" if entry.gil_share is not None
                             else entry.gil_note or "not measured"))
    states = entry.wait_breakdown
    if states:
        shown = [f"{label} {v * 100:.0f} %" for key, label in WAIT_LABELS
                 if (v := states.get(key)) is not None and v >= 0.005]
        figures.append(KeyFigure("Handler threads blocked on", " · ".join(shown) or "nothing",
                                 f"running or runnable {fmt.pct(states.get('running'), 0)}; "
                                 "innermost native frame of each sample"))
    else:
        figures.append(KeyFigure("Idle", fmt.pct(entry.idle_share, 0),
                                 "handler threads neither running nor runnable (py-spy)"))
    figures.append(KeyFigure("CPU: loop and pool machinery", fmt.pct(entry.loop_internal_share, 0),
                             "asyncio, selectors, uvloop, threading, queues, multiprocessing"))
    figures.append(KeyFigure("CPU: your code", fmt.pct(entry.user_share, 0),
                             "the target's code and what it calls"))
    figures.append(KeyFigure("CPU: concur's harness", fmt.pct(entry.harness_share, 0),
                             "dispatch, timing, the loop-lag monitor"))
    sampled, unsampled = entry.throughput_rps, entry.unsampled_throughput_rps
    detail = ""
    if sampled is not None and unsampled:
        detail = (f"unsampled {fmt.rps(unsampled)} ({fmt.signed_pct(sampled / unsampled - 1)} with "
                  "py-spy; one run each, so machine noise included)")
    elif unsampled is not None:
        detail = f"unsampled {fmt.rps(unsampled)}"
    if entry.pyspy_cores is not None:
        detail += f"; py-spy itself used {entry.pyspy_cores:.2f} cores"
    figures.append(KeyFigure("Throughput while sampled", fmt.rps(sampled), detail.lstrip("; ")))
    return tuple(figures)


def top_cpu_table(entry: Entry, id: str) -> Table:
    rows = [Row((Cell(r.function), Cell(r.file, css="text"), num(fmt.count(r.samples), r.samples),
                 num(fmt.pct(r.share, 1), r.share))) for r in entry.top_cpu]
    return Table(id, ("Function", "File", "On-CPU samples", "Share"), tuple(rows),
                 (False, False, True, True), empty="no on-CPU samples recorded",
                 caption="Functions by their own on-CPU samples (py-spy, whole process tree): "
                         "the innermost Python frame of each sample, native code it called included.")


KIND_LABELS = {"user": "your code", "loop_internal": "loop / pool", "harness": "concur", "other": "other"}


def yappi_table(entry: Entry, id: str) -> Table:
    rows = [Row((Cell(r.function), Cell(KIND_LABELS.get(r.kind, "other")), Cell(r.file, css="text"),
                 num(fmt.seconds(r.wall_s), r.wall_s), num(fmt.seconds(r.cpu_s), r.cpu_s),
                 num(fmt.count(r.calls), r.calls))) for r in entry.yappi_top]
    return Table(id, ("Function", "Kind", "File", "Own wall time", "Own CPU time", "Calls"), tuple(rows),
                 (False, False, False, True, True, True), empty="no yappi pass",
                 caption="yappi inside the trial process (its own run: yappi slows the code several-fold, "
                         "so compare functions, not absolute times). Wall time is summed over threads and "
                         "tasks: many tasks awaiting one sleep add up to more than the run lasted.")


FILES = (
    ("flamegraph", "Flame graph (SVG)",
     "on-CPU samples of the whole process tree, coloured by kind of code"),
    ("speedscope", "speedscope profile (JSON)",
     "every thread at every tick, waits and native frames included; open it in "
     "speedscope (offline: npx speedscope FILE)"),
)


def attribution_views(results: Results, exists: Callable[[str], bool] | None = None
                      ) -> tuple[Attribution, ...]:
    """One view per attributed configuration; none when the run had no attribution.

    `exists(name)` says whether a file the entry names is beside the report; a missing
    one becomes a note instead of a dead link."""
    views = []
    for i, entry in enumerate(results.attribution):
        split = entry.decomposition or mean_decomposition(
            t for t in results.ok_trials() if t.key == (entry.model, entry.concurrency))
        links, notes = [], list(entry.notes)
        for key, label, note in FILES:
            name = getattr(entry, key)
            if not name:
                continue
            if exists is not None and not exists(name):
                notes.append(f"{label} {name} is not beside this report (it stays where "
                             "`concur run --attribution` wrote it).")
            else:
                links.append(Link(label, name, note))
        views.append(Attribution(
            id=f"why-{i}",
            title=fmt.config(entry.model, entry.concurrency)
            + (f" ({fmt.count(entry.records)} records)" if entry.records else ""),
            findings=tuple(explain(entry, split)),
            figures=attribution_figures(entry, split),
            top_cpu=top_cpu_table(entry, f"why-{i}-cpu"),
            yappi=yappi_table(entry, f"why-{i}-yappi"),
            links=tuple(links),
            warnings=tuple(entry.warnings),
            notes=tuple(notes),
        ))
    return tuple(views)
