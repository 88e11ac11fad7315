"""View models: everything the templates show, computed and formatted here.

As in coverage.py's html.py, the template does no arithmetic: it only places the strings
of these frozen dataclasses. Every verdict key may be missing or None; a results file
with no verdict at all still renders and says "no verdict computed".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from profiler.analysis.decompose import decompose
from profiler.report import format as fmt
from profiler.report.aggregate import (
    best_config,
    cpu_ms_per_record,
    recommended_config,
    sequential_throughput,
)
from profiler.results import Results, Trial

if TYPE_CHECKING:
    from profiler.report.why import Attribution

NO_VERDICT = "No verdict computed"


@dataclass(frozen=True)
class Cell:
    text: str
    sort: str = ""  # raw value for the sortable table; "" = text sort / missing
    numeric: bool = False
    css: str = ""  # "better", "worse"

    @property
    def classes(self) -> str:
        return " ".join(c for c in ("num" if self.numeric else "", self.css) if c)


@dataclass(frozen=True)
class Row:
    cells: tuple[Cell, ...]
    css: str = ""  # "recommended", "failed"
    title: str = ""  # tooltip, e.g. why a row is highlighted


@dataclass(frozen=True)
class Table:
    id: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    numeric: tuple[bool, ...] = ()
    sortable: bool = False
    empty: str = "nothing to show"
    caption: str = ""


@dataclass(frozen=True)
class KeyFigure:
    """A key number under the verdict sentence."""

    label: str
    value: str
    detail: str = ""


@dataclass(frozen=True)
class Verdict:
    computed: bool
    headline: str
    figures: tuple[KeyFigure, ...]
    evidence: tuple[str, ...]
    rationale: tuple[str, ...]
    warnings: tuple[str, ...]
    excluded: tuple[str, ...]


@dataclass(frozen=True)
class Plot:
    key: str
    title: str
    src: str | None  # relative PNG path; None = omitted
    alt: str
    caption: str
    note: str = ""  # why it was omitted


@dataclass(frozen=True)
class Pair:
    label: str
    value: str


@dataclass(frozen=True)
class Report:
    title: str
    subtitle: str
    verdict: Verdict
    plots: tuple[Plot, ...]
    trials: Table
    scaling: Table
    predictions: Table | None
    skipped: Table
    sweep_log: Table
    environment: tuple[Pair, ...]
    command: str
    footer: str
    attribution: tuple[Attribution, ...] = ()  # "why it is slow" (profiler.report.why)


# --- verdict -----------------------------------------------------------------------------

def _get(d: dict | None, key: str):
    return (d or {}).get(key)


def _list(d: dict | None, key: str) -> tuple[str, ...]:
    value = _get(d, key)
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()


def recommended_prediction(results: Results) -> dict | None:
    rows = _get(results.predictions, "rows") or []
    rec = results.recommendation or {}
    for row in rows:
        if row.get("recommended"):
            return row
    for row in rows:
        if row.get("model") == rec.get("model") and row.get("concurrency") == rec.get("concurrency"):
            return row
    return None


def interval(low: float | None, high: float | None, render=fmt.duration) -> str:
    if low is None or high is None:
        return ""
    return f"{render(low)} – {render(high)}"


def build_verdict(results: Results) -> Verdict:
    cls, rec = results.classification, results.recommendation
    computed = bool(cls or rec)
    figures: list[KeyFigure] = []
    if cls:
        label = _get(cls, "label") or "unknown"
        refinements = ", ".join(_list(cls, "refinements"))
        detail = ", ".join(x for x in (
            f"CPU fraction {fmt.sig(_get(cls, 'cpu_fraction'), 2)}" if _get(cls, "cpu_fraction") is not None else "",
            f"{_get(cls, 'confidence')} confidence" if _get(cls, "confidence") else "",
        ) if x)
        figures.append(KeyFigure("Work", label + (f" ({refinements})" if refinements else ""), detail))
    if rec:
        model, n = _get(rec, "model"), _get(rec, "concurrency")
        value = "keep it sequential" if _get(rec, "keep_sequential") else fmt.config(model, n)
        figures.append(KeyFigure("Recommended", value))
        figures.append(KeyFigure("Throughput", fmt.rps(_get(rec, "throughput_rps"))))
        figures.append(KeyFigure("Speedup", fmt.speedup(_get(rec, "speedup")), "over sequential"))
    pred = recommended_prediction(results)
    if pred is not None:
        total = _get(results.predictions, "total_records")
        figures.append(KeyFigure(
            f"Full batch ({fmt.integer(total)} records)" if total else "Full batch",
            fmt.duration(pred.get("wall_s")),
            " ".join(x for x in (interval(pred.get("low_s"), pred.get("high_s")),
                                 f"with {fmt.config(pred.get('model'), pred.get('concurrency'))}") if x),
        ))
    headline = _get(rec, "sentence") or ""
    if not headline and rec and _get(rec, "model"):
        headline = f"Recommended: {figures[1].value} at {figures[2].value}."
    if not headline and cls:
        headline = f"The work is {_get(cls, 'label') or 'unknown'}; no configuration was recommended."
    if not computed:
        best = best_config(results)
        headline = NO_VERDICT + (
            f": fastest measured configuration {fmt.config(best.model, best.concurrency)} at "
            f"{fmt.rps(best.throughput)}." if best else ": no trial finished successfully."
        )
    headline = headline[:1].upper() + headline[1:]
    excluded = tuple(
        f"{fmt.config(e.get('model'), e.get('concurrency'))}: {e.get('reason') or 'no reason given'}"
        for e in (_get(rec, "excluded") or []) if isinstance(e, dict)
    )
    return Verdict(computed, headline, tuple(figures), _list(cls, "evidence"),
                   _list(rec, "rationale"),
                   _list(rec, "warnings") + report_warnings(results, analysed=rec is not None),
                   excluded)


def report_warnings(results: Results, analysed: bool = False) -> tuple[str, ...]:
    """What the measurements themselves say a reader should distrust.

    Crashes and record errors are already among the analysis' warnings when there is a
    recommendation; they are repeated here only for a results file without one.
    """
    out = []
    if results.interrupted:
        out.append("The run was interrupted: these are the trials measured before it stopped.")
    if not results.trials:
        out.append("The results file has no trials.")
    if analysed:
        return tuple(out)
    bad = [t for t in results.trials if t.status != "ok"]
    if bad:
        kinds = sorted({t.status for t in bad})
        out.append(f"{len(bad)} of {len(results.trials)} trials did not finish ({', '.join(kinds)}); "
                   "see the trial table.")
    errs = sum(t.errors for t in results.trials)
    if errs:
        out.append(f"{fmt.integer(errs)} records raised an error; throughput counts only records "
                   "that succeeded.")
    return tuple(out)


# --- tables ------------------------------------------------------------------------------

TRIAL_COLUMNS = (
    ("#", True), ("Model", False), ("N", True), ("Repeat", True), ("Status", False),
    ("Records", True), ("Errors", True), ("Wall", True), ("Throughput", True),
    ("CPU", True), ("CPU per record", True), ("On CPU / run queue / waiting", False),
    ("RSS peak", True), ("Threads", True), ("Connections", True), ("DB connections", True),
    ("Latency p50", True), ("Latency p99", True), ("Loop lag p99", True), ("Tasks peak", True),
    ("Notes", False),
)


def _num(text: str, raw) -> Cell:
    return Cell(text, fmt.sort_key(raw), True)


def _split(t: Trial) -> str:
    d = decompose(t)
    if not d:
        return fmt.NA
    return " / ".join(fmt.fraction_pct(d.get(k)) for k in ("on_cpu", "runqueue", "waiting"))


def _notes(t: Trial) -> str:
    parts = [t.status_detail] if t.status_detail else []
    for kind, count in sorted(t.errors_by_type.items()):
        first = (t.error_messages.get(kind) or [""])[0]
        parts.append(f"{kind} ×{count}" + (f": {first}" if first else ""))
    return "; ".join(parts)


def trial_table(results: Results, id: str = "trials") -> Table:
    rec = recommended_config(results)
    rec_idx = set(rec.indices) if rec else set()
    rows = []
    for i, t in enumerate(results.trials):
        cells = (
            _num(str(i), i), Cell(t.model), _num(fmt.concurrency(t.concurrency),
                                                 t.concurrency or 10**9),
            _num(str(t.repeat), t.repeat), Cell(t.status),
            _num(fmt.integer(t.records), t.records), _num(fmt.integer(t.errors), t.errors),
            _num(fmt.seconds(t.wall_s), t.wall_s),
            _num(fmt.rps(t.throughput_rps), t.throughput_rps) if t.status == "ok" else _num(fmt.NA, None),
            _num(fmt.cores(t.cpu_util), t.cpu_util),
            _num(fmt.ms(cpu_ms_per_record(t)), cpu_ms_per_record(t)), Cell(_split(t), css="nowrap"),
            _num(fmt.mib(t.rss_peak_bytes), t.rss_peak_bytes),
            _num(fmt.integer(t.threads_peak), t.threads_peak),
            _num(fmt.integer(t.connections_peak), t.connections_peak),
            _num(fmt.integer(t.db_connections_peak), t.db_connections_peak),
            _num(fmt.ms(t.latency_p50_ms), t.latency_p50_ms),
            _num(fmt.ms(t.latency_p99_ms), t.latency_p99_ms),
            _num(fmt.ms(t.loop_lag_p99_ms), t.loop_lag_p99_ms),
            _num(fmt.integer(t.tasks_peak), t.tasks_peak), Cell(_notes(t), css="text"),
        )
        css = "failed" if t.status != "ok" else "recommended" if i in rec_idx else ""
        title = "the recommended configuration" if css == "recommended" else ""
        rows.append(Row(cells, css, title))
    return Table(id, tuple(c for c, _ in TRIAL_COLUMNS), tuple(rows),
                 tuple(n for _, n in TRIAL_COLUMNS), sortable=True, empty="no trials were run",
                 caption="One row per trial; click a column header to sort. Green: the "
                         "recommended configuration; red: trials that did not finish. CPU is "
                         "cores busy (CPU seconds per wall second).")


def scaling_table(results: Results) -> Table:
    rows = []
    for model, fit in sorted((results.scaling or {}).items()):
        fit = fit if isinstance(fit, dict) else {}
        points = fit.get("points")
        points = len(points) if isinstance(points, list) else points  # the fitted (N, X) pairs
        rows.append(Row((
            Cell(model), Cell(str(fit.get("status") or fmt.NA)),
            _num(fmt.rps(fit.get("lambda_rps")), fit.get("lambda_rps")),
            _num(fmt.plain(fit.get("sigma")), fit.get("sigma")),
            _num(fmt.plain(fit.get("kappa")), fit.get("kappa")),
            _num(fmt.sig(fit.get("n_star"), 3), fit.get("n_star")),
            _num(fmt.plain(fit.get("r2")), fit.get("r2")),
            _num(fmt.integer(points), points),
            Cell(str(fit.get("message") or "")),
        )))
    return Table("scaling", ("Model", "Fit", "λ (one worker)", "σ contention", "κ coherency",
                             "N* peak", "r²", "Points", "Message"), tuple(rows),
                 (False, False, True, True, True, True, True, True, False),
                 empty="no scaling fit computed")


def predictions_table(results: Results) -> Table | None:
    rows_in = _get(results.predictions, "rows") or []
    if not rows_in:
        return None
    rows = []
    for r in rows_in:
        rows.append(Row((
            Cell(fmt.config(r.get("model"), r.get("concurrency"))),
            _num(fmt.duration(r.get("wall_s")), r.get("wall_s")),
            Cell(interval(r.get("low_s"), r.get("high_s")) or fmt.NA),
            _num(fmt.integer(r.get("repeats")), r.get("repeats")),
            Cell(", ".join(x for x in ("recommended" if r.get("recommended") else "",
                                       str(r.get("note") or "")) if x)),
        ), "recommended" if r.get("recommended") else ""))
    total = _get(results.predictions, "total_records")
    return Table("predictions", ("Configuration", "Predicted wall time", "Interval", "Repeats", "Note"),
                 tuple(rows), (False, True, False, True, False),
                 caption=f"Predicted time for the full batch of {fmt.integer(total)} records.")


def skipped_table(results: Results) -> Table:
    rows = [Row((Cell(s.model), Cell(fmt.concurrency(s.concurrency) if s.concurrency is not None
                                     else "all"), Cell(s.reason)))
            for s in results.skipped]
    return Table("skipped", ("Model", "N", "Reason"), tuple(rows), empty="no model was skipped")


def sweep_table(results: Results) -> Table:
    rows = []
    for e in results.sweep_log:
        model, n = e.get("model"), e.get("concurrency")
        rows.append(Row((
            _num(fmt.seconds(e.get("t_s")), e.get("t_s")), Cell(str(e.get("event") or "")),
            Cell(fmt.config(model, n) if model else ""), Cell(str(e.get("message") or "")),
        )))
    return Table("sweep-log", ("Time", "Event", "Configuration", "Decision"), tuple(rows),
                 (True, False, False, False), empty="the sweep recorded no decisions")


def environment(results: Results) -> tuple[Pair, ...]:
    env, wl = results.environment, results.workload
    return (
        Pair("Workload", f"{wl.name} ({wl.target})"),
        Pair("Records per trial", fmt.integer(wl.records_per_trial)),
        Pair("Python", f"{env.implementation} {env.python}"),
        Pair("CPU cores", str(env.cpu_count)),
        Pair("GIL", "enabled" if env.gil_enabled else "disabled (free-threaded build)"),
        Pair("Platform", env.platform),
        Pair("Started", results.started_at or fmt.NA),
        Pair("Finished", results.finished_at or fmt.NA),
        Pair("concur", results.tool_version or fmt.NA),
    )


def build_report(results: Results, plots: tuple[Plot, ...],
                 exists: Callable[[str], bool] | None = None) -> Report:
    from profiler.report.why import attribution_views  # it builds on this module's cells

    wl = results.workload
    best, seq = best_config(results), sequential_throughput(results)
    subtitle = f"{wl.target} · {len(results.trials)} trials"
    if best:
        subtitle += f" · fastest measured {fmt.config(best.model, best.concurrency)}"
        if seq:
            subtitle += f" ({fmt.speedup(best.throughput / seq)} sequential)"
    return Report(
        title=f"concur: {wl.name}",
        subtitle=subtitle,
        verdict=build_verdict(results),
        plots=plots,
        trials=trial_table(results),
        scaling=scaling_table(results),
        predictions=predictions_table(results),
        skipped=skipped_table(results),
        sweep_log=sweep_table(results),
        environment=environment(results),
        command=results.command or "",
        footer=f"concur {results.tool_version}".strip(),
        attribution=attribution_views(results, exists),
    )
