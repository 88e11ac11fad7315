"""View models for "Why it is slow": one per attributed configuration in `Results.attribution`.

The entries are the dicts `profiler.attribution.attribute()` returns; every key may be
missing or None (a py-spy that could not attach, a Python where the GIL share cannot be
measured), which reads "n/a" or becomes a note. As everywhere in the report, the numbers
are formatted here and the template only places them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from profiler.analysis.decompose import decompose
from profiler.attribution_explain import explain
from profiler.report import format as fmt
from profiler.report.views import Cell, KeyFigure, Row, Table, _num
from profiler.results import Results, Trial


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


def _mean_split(trials: list[Trial]) -> dict | None:
    splits = [d for d in (decompose(t) for t in trials) if d]
    if not splits:
        return None
    return {k: sum(d[k] for d in splits) / len(splits) for k in ("on_cpu", "runqueue", "waiting")}


WAIT_LABELS = (("gil", "GIL"), ("lock", "locks"), ("sleep", "sleep"), ("io", "I/O"))


def _share(entry: dict, key: str) -> str:
    return fmt.fraction_pct(entry.get(key))


def attribution_figures(entry: dict, split: dict | None) -> tuple[KeyFigure, ...]:
    figures = []
    if split:
        parts = [split.get(k) for k in ("on_cpu", "runqueue", "waiting")]
        value = (" / ".join(f"{p * 100:.0f}" for p in parts) + " %") if all(
            isinstance(p, int | float) for p in parts) else fmt.NA
        figures.append(KeyFigure("On CPU / run queue / waiting", value,
                                 "of the workers' time (kernel accounting)"))
    gil_note = str(entry.get("gil_note") or "")
    figures.append(KeyFigure("GIL held", _share(entry, "gil_share"),
                             "per handler thread, py-spy --gil" if entry.get("gil_share") is not None
                             else gil_note or "not measured"))
    states = entry.get("wait_breakdown")
    if isinstance(states, dict) and states:
        blocked = [(label, states.get(key)) for key, label in WAIT_LABELS]
        shown = [f"{label} {v * 100:.0f} %" for label, v in blocked
                 if isinstance(v, int | float) and v >= 0.005]
        figures.append(KeyFigure("Handler threads blocked on", " · ".join(shown) or "nothing",
                                 f"running or runnable {fmt.fraction_pct(states.get('running'))}; "
                                 "innermost native frame of each sample"))
    else:
        figures.append(KeyFigure("Idle", _share(entry, "idle_share"),
                                 "handler threads neither running nor runnable (py-spy)"))
    figures.append(KeyFigure("CPU: loop and pool machinery", _share(entry, "loop_internal_share"),
                             "asyncio, selectors, uvloop, threading, queues, multiprocessing"))
    figures.append(KeyFigure("CPU: your code", _share(entry, "user_share"),
                             "the target's code and what it calls"))
    figures.append(KeyFigure("CPU: concur's harness", _share(entry, "harness_share"),
                             "dispatch, timing, the loop-lag monitor"))
    sampled, unsampled = entry.get("throughput_rps"), entry.get("unsampled_throughput_rps")
    detail = ""
    if isinstance(sampled, int | float) and isinstance(unsampled, int | float) and unsampled > 0:
        detail = (f"unsampled {fmt.rps(unsampled)} ({fmt.signed_pct(sampled / unsampled - 1)} with "
                  "py-spy; one run each, so machine noise included)")
    elif unsampled is not None:
        detail = f"unsampled {fmt.rps(unsampled)}"
    cores = entry.get("pyspy_cores")
    if isinstance(cores, int | float):
        detail += f"; py-spy itself used {cores:.2f} cores"
    figures.append(KeyFigure("Throughput while sampled", fmt.rps(sampled), detail.lstrip("; ")))
    return tuple(figures)


def top_cpu_table(entry: dict, id: str) -> Table:
    rows = []
    for r in entry.get("top_cpu") or []:
        rows.append(Row((Cell(str(r.get("function", ""))), Cell(str(r.get("file", "")), css="text"),
                         _num(fmt.integer(r.get("samples")), r.get("samples")),
                         _num(fmt.fraction_pct(r.get("share"), 1), r.get("share")))))
    return Table(id, ("Function", "File", "On-CPU samples", "Share"), tuple(rows),
                 (False, False, True, True), empty="no on-CPU samples recorded",
                 caption="Functions by their own on-CPU samples (py-spy, whole process tree): "
                         "the innermost Python frame of each sample, native code it called included.")


KIND_LABELS = {"user": "your code", "loop_internal": "loop / pool", "harness": "concur", "other": "other"}


def yappi_table(entry: dict, id: str) -> Table:
    rows = []
    for r in entry.get("yappi_top") or []:
        rows.append(Row((Cell(str(r.get("function", ""))), Cell(KIND_LABELS.get(r.get("kind"), "other")),
                         Cell(str(r.get("file", "")), css="text"),
                         _num(fmt.seconds(r.get("wall_s")), r.get("wall_s")),
                         _num(fmt.seconds(r.get("cpu_s")), r.get("cpu_s")),
                         _num(fmt.integer(r.get("calls")), r.get("calls")))))
    return Table(id, ("Function", "Kind", "File", "Own wall time", "Own CPU time", "Calls"), tuple(rows),
                 (False, False, False, True, True, True), empty="no yappi pass",
                 caption="yappi inside the trial process (its own run: yappi slows the code several-fold, "
                         "so compare functions, not absolute times). Wall time is summed over threads and "
                         "tasks: many tasks awaiting one sleep add up to more than the run lasted.")


def attribution_views(results: Results, exists: Callable[[str], bool] | None = None
                      ) -> tuple[Attribution, ...]:
    """One view per attributed configuration; none when the run had no attribution.

    `exists(name)` says whether a file the entry names is beside the report; a missing
    one becomes a note instead of a dead link."""
    entries = getattr(results, "attribution", None) or []
    views = []
    for i, entry in enumerate(e for e in entries if isinstance(e, dict)):
        model, n = entry.get("model"), entry.get("concurrency")
        split = entry.get("decomposition") or _mean_split(
            [t for t in results.ok_trials() if t.model == model and t.concurrency == n])
        links, notes = [], [str(w) for w in entry.get("notes") or []]
        for key, label, note in (
            ("flamegraph", "Flame graph (SVG)",
             "on-CPU samples of the whole process tree, coloured by kind of code"),
            ("speedscope", "speedscope profile (JSON)",
             "every thread at every tick, waits and native frames included; open it in "
             "speedscope (offline: npx speedscope FILE)"),
        ):
            name = entry.get(key)
            if not name:
                continue
            if exists is not None and not exists(str(name)):
                notes.append(f"{label} {name} is not beside this report (it stays where "
                             "`concur run --attribution` wrote it).")
            else:
                links.append(Link(label, str(name), note))
        records = entry.get("records")
        views.append(Attribution(
            id=f"why-{i}",
            title=fmt.config(model, n) + (f" ({fmt.integer(records)} records)" if records else ""),
            findings=tuple(explain({**entry, "decomposition": split})),
            figures=attribution_figures(entry, split),
            top_cpu=top_cpu_table(entry, f"why-{i}-cpu"),
            yappi=yappi_table(entry, f"why-{i}-yappi"),
            links=tuple(links),
            warnings=tuple(str(w) for w in entry.get("warnings") or []),
            notes=tuple(notes),
        ))
    return tuple(views)
