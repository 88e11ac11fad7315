"""View models of the single-run report: everything the template shows, computed here.

The template only places these strings (see `profiler.report.cells`). A results file
without a verdict still renders and says "no verdict computed".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from profiler import format as fmt
from profiler.analysis.decompose import decompose
from profiler.report.advice import NextStep, next_steps
from profiler.report.cells import Cell, KeyFigure, Pair, Plot, Row, Table, num
from profiler.report.chart import Chart, throughput_chart
from profiler.report.why import Attribution, attribution_views
from profiler.results import (
    Config,
    PredictionRow,
    Recommendation,
    Results,
    Story,
    StorySide,
    Trial,
    standings_of,
)
from profiler.results.standings import ERRORS, full_batch_s

NO_VERDICT = "No verdict computed"


@dataclass(frozen=True)
class WarningGroup:
    title: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class Verdict:
    computed: bool
    headline: str
    figures: tuple[KeyFigure, ...]
    evidence: tuple[str, ...]
    rationale: tuple[str, ...]
    warnings: tuple[str, ...]  # each once, in the analysis' order (the choice's first)
    excluded: tuple[str, ...]
    groups: tuple[WarningGroup, ...] = ()  # the same warnings, grouped by what they are about
    notes: tuple[str, ...] = ()  # the tool's own choices: to know, not to distrust
    next_steps: tuple[NextStep, ...] = ()


@dataclass(frozen=True)
class StoryView:
    """The job as it was vs its rewrite, shown before the verdict (`analysis.story`)."""

    headline: str
    figures: tuple[KeyFigure, ...]
    details: tuple[str, ...]


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
    story: StoryView | None = None  # first, when the run holds a job and its rewrite
    chart: Chart | None = None  # the throughput plot as interactive SVG (profiler.report.chart)


# --- verdict -----------------------------------------------------------------------------

def story_view(story: Story | None) -> StoryView | None:
    """The story's headline, its key numbers side by side (rewrite vs the job as it was, and
    the rewrite's bounded form when it was priced), and the details; None when there is no
    story. A side without a batch time shows why (its `batch_note`), never a number."""
    if story is None:
        return None
    b, r, rb = story.baseline, story.rewrite, story.rewrite_bounded

    def batch(label: str, s: StorySide) -> KeyFigure:
        value = fmt.duration(s.batch_s) if s.batch_s is not None else fmt.NA
        firm = interval(s.batch_low_s, s.batch_high_s) or s.batch_note
        return KeyFigure(f"{label}, {fmt.count(story.total)} records", value,
                         f"{s.config}: {firm}" if firm else s.config)

    figures = []
    if story.total:
        figures += [batch("Rewrite", r)]
        if rb is not None:
            figures += [batch("Rewrite bounded", rb)]
        figures += [batch("As it was", b)]
        delta = story.delta_s if story.delta_s is not None else (rb.delta_s if rb else None)
        if delta is not None:
            figures += [KeyFigure("Difference", fmt.signed_duration(delta),
                                  rb.config if story.delta_s is None and rb else r.config)]
    else:
        figures += [KeyFigure("Rewrite", fmt.rps(r.rps), r.config),
                    KeyFigure("As it was", fmt.rps(b.rps), b.config)]
    pairs = (("DB sessions at once", r.db_sessions_peak, b.db_sessions_peak, fmt.count),
             ("Connections refused", r.db_refused, b.db_refused, fmt.count),
             ("Connection timeouts", r.db_timeouts, b.db_timeouts, fmt.count),
             ("Server CPU per completed record", r.server_cpu_per_record_ms, b.server_cpu_per_record_ms, fmt.ms),
             ("Server CPU per attempted record", r.server_cpu_per_attempted_ms,
              b.server_cpu_per_attempted_ms, fmt.ms),
             ("Client CPU per record", r.cpu_per_record_ms, b.cpu_per_record_ms, fmt.ms),
             ("Loop lag p99", r.loop_lag_p99_ms, b.loop_lag_p99_ms, fmt.ms),
             ("Records failed", r.error_rate, b.error_rate, fmt.pct))
    figures += [KeyFigure(label, render(mine), f"vs {render(theirs)} as it was")
                for label, mine, theirs, render in pairs if mine is not None or theirs is not None]
    if rb is not None:
        bounded = (("DB sessions at once", rb.db_sessions_peak, fmt.count),
                   ("Server CPU per completed record", rb.server_cpu_per_record_ms, fmt.ms),
                   ("Records failed", rb.error_rate, fmt.pct))
        figures += [KeyFigure(f"{label}, bounded", render(value), rb.config)
                    for label, value, render in bounded if value is not None]
    return StoryView(story.headline, tuple(figures), tuple(story.details))


def recommended_prediction(results: Results) -> PredictionRow | None:
    return results.predictions.recommended if results.predictions else None


def interval(low: float | None, high: float | None, render: Callable[[float | None], str] = fmt.duration) -> str:
    if low is None or high is None:
        return ""
    return f"{render(low)} – {render(high)}"


def sequential_throughput(results: Results) -> float | None:
    seq = standings_of(results).one_worker
    return seq.throughput_rps if seq else None


def build_verdict(results: Results) -> Verdict:
    cls, rec = results.classification, results.recommendation
    figures: list[KeyFigure] = []
    if cls:
        refinements = ", ".join(cls.refinements)
        detail = ", ".join(x for x in (
            f"CPU fraction {fmt.sig(cls.cpu_fraction, 2)}" if cls.cpu_fraction is not None else "",
            f"{cls.confidence} confidence" if cls.confidence else "") if x)
        between = (f" (between {' and '.join(cls.readings)})"
                   if cls.label == "borderline" and len(cls.readings) > 1 else "")
        figures.append(KeyFigure("Work", cls.label + between + (f" ({refinements})" if refinements else ""), detail))
    if rec and rec.model is not None:  # no choice: no figures of one (the headline says why)
        value = "keep it sequential" if rec.keep_sequential else fmt.config(rec.model, rec.concurrency)
        figures.append(KeyFigure("Recommended", value))
        figures.append(KeyFigure("Throughput", fmt.rps(rec.throughput_rps)))
        figures.append(KeyFigure("Speedup", fmt.times(rec.speedup), "over sequential"))
    pred = recommended_prediction(results)
    if pred is not None and results.predictions is not None:
        total = results.predictions.total_records
        figures.append(KeyFigure(
            f"Full batch ({fmt.count(total)} records)", fmt.duration(pred.wall_s),
            " ".join(x for x in (interval(pred.low_s, pred.high_s),
                                 f"with {fmt.config(pred.model, pred.concurrency)}") if x)))
    headline = rec.sentence if rec else ""
    if not headline and cls:
        headline = f"The work is {cls.label}; no configuration was recommended."
    computed = bool(cls or rec)
    if not computed:
        top = standings_of(results).fastest_clean
        headline = NO_VERDICT + (
            f": fastest measured configuration {top.label} at {fmt.rps(top.throughput_rps)}."
            if top else ": no trial finished successfully.")
    headline = headline[:1].upper() + headline[1:]
    excluded = tuple(f"{fmt.config(e.model, e.concurrency)}: {e.reason or 'no reason given'}"
                     for e in (rec.excluded if rec else []))
    warnings = tuple(dict.fromkeys(
        tuple(rec.warnings if rec else ()) + report_warnings(results, analysed=rec is not None)))
    return Verdict(computed, headline, tuple(figures), tuple(cls.evidence if cls else ()),
                   tuple(rec.rationale if rec else ()), warnings, excluded,
                   groups=group_warnings(warnings, rec),
                   notes=tuple(dict.fromkeys(rec.notes if rec else ())),
                   next_steps=next_steps(results))


def group_warnings(warnings: tuple[str, ...], rec: Recommendation | None) -> tuple[WarningGroup, ...]:
    """Warnings that name the recommended configuration first (they bear on the advice
    itself), then the rest; a configuration's label is spelled by `fmt.config` everywhere."""
    if not warnings:
        return ()
    if rec is None or not rec.model:
        return (WarningGroup("Warnings", warnings),)
    label = fmt.config(rec.model, rec.concurrency)
    names_it = re.compile(rf"(?<![\w×]){re.escape(label)}(?![\w×])")
    mine = tuple(w for w in warnings if names_it.search(w))
    rest = tuple(w for w in warnings if w not in mine)
    groups = [WarningGroup(f"About the recommended {label}", mine)] if mine else []
    if rest:
        groups.append(WarningGroup("About the other configurations and the run" if mine
                                   else "Warnings", rest))
    return tuple(groups)


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
    bad = [t for t in results.trials if not t.ok]
    if bad:
        kinds = sorted({t.status for t in bad})
        out.append(f"{len(bad)} of {len(results.trials)} trials did not finish ({', '.join(kinds)}); "
                   "see the trial table.")
    errs = sum(t.errors for t in results.trials)
    if errs:
        out.append(f"{fmt.count(errs)} records raised an error; throughput counts only records "
                   "that succeeded.")
    return tuple(out)


# --- tables ------------------------------------------------------------------------------

TRIAL_COLUMNS = (
    ("#", True), ("Model", False), ("N", True), ("Repeat", True), ("Status", False),
    ("Records", True), ("Errors", True), ("Wall", True), ("Throughput", True),
    ("Full batch", True), ("Batch vs baseline", True),
    ("CPU", True), ("CPU per record", True), ("Server CPU per completed record", True),
    ("On CPU / run queue / waiting", False),
    ("RSS peak", True), ("Threads", True), ("Client sockets", True), ("DB sessions", True),
    ("DB refused", True), ("DB waits", False),
    ("Latency p50", True), ("Latency p99", True), ("Loop lag p99", True), ("Tasks peak", True),
    ("Notes", False),
)


def _split(t: Trial) -> str:
    d = decompose(t)
    if not d:
        return fmt.NA
    return " / ".join(fmt.pct(v, 0) for v in (d.on_cpu, d.runqueue, d.waiting))


def _notes(t: Trial) -> str:
    parts = [t.status_detail] if t.status_detail else []
    for kind, count in sorted(t.errors_by_type.items()):
        first = (t.error_messages.get(kind) or [""])[0]
        parts.append(f"{kind} ×{count}" + (f": {first}" if first else ""))
    return "; ".join(parts)


def _waits(t: Trial) -> str:
    """The database's active sessions by wait type, top two, as shares of the probe's samples."""
    waits = t.probe_metrics.get("db_waits")
    if not isinstance(waits, dict) or not waits:
        return ""
    total = sum(v for v in waits.values() if isinstance(v, int | float))
    top = sorted(waits.items(), key=lambda kv: -kv[1])[:2]
    return ", ".join(f"{k} {fmt.pct(v / total, 0)}" for k, v in top) if total else ""


def _batch_baseline(results: Results) -> Config | None:
    """What full-batch times are compared with: the story's job as it was, else sequential."""
    s = standings_of(results)
    b = results.story.baseline if results.story is not None else None
    return (s.find(b.model, b.concurrency) if b is not None else None) or s.sequential


def trial_table(results: Results, id: str = "trials") -> Table:
    rec = results.recommendation
    total = results.workload.total_records
    reference = _batch_baseline(results) if total else None
    base_s = full_batch_s(total, reference.throughput_rps) if reference else None
    standings = standings_of(results)  # a configuration failing records has no batch time
    rows = []
    for i, t in enumerate(results.trials):
        failing = (row := standings.standing(t)) is not None and row.kind == ERRORS
        batch = full_batch_s(total, t.throughput_rps) if t.ok and not failing else None
        delta = batch - base_s if batch is not None and base_s is not None else None
        cells = (
            num(str(i), i), Cell(t.model), num(fmt.concurrency(t.concurrency), t.concurrency or 10**9),
            num(str(t.repeat), t.repeat), Cell(t.status),
            num(fmt.count(t.records), t.records), num(fmt.count(t.errors), t.errors),
            num(fmt.seconds(t.wall_s), t.wall_s),
            num(fmt.rps(t.throughput_rps), t.throughput_rps) if t.ok else num(fmt.NA, None),
            num("fails" if failing and t.ok else fmt.duration(batch), batch),
            num(fmt.signed_duration(delta), delta),
            num(fmt.cores(t.cpu_util), t.cpu_util),
            num(fmt.ms(t.cpu_ms_per_record), t.cpu_ms_per_record),
            num(fmt.ms(t.server_cpu_ms_per_record), t.server_cpu_ms_per_record),
            Cell(_split(t), css="nowrap"),
            num(fmt.mib(t.rss_peak_bytes), t.rss_peak_bytes),
            num(fmt.count(t.threads_peak), t.threads_peak),
            num(fmt.count(t.connections_peak), t.connections_peak),
            num(fmt.count(t.db_connections_peak), t.db_connections_peak),
            num(fmt.count(t.db_refused), t.db_refused), Cell(_waits(t), css="nowrap"),
            num(fmt.ms(t.latency_p50_ms), t.latency_p50_ms),
            num(fmt.ms(t.latency_p99_ms), t.latency_p99_ms),
            num(fmt.ms(t.loop_lag_p99_ms), t.loop_lag_p99_ms),
            num(fmt.count(t.tasks_peak), t.tasks_peak), Cell(_notes(t), css="text"),
        )
        recommended = t.ok and rec is not None and rec.names(t.model, t.concurrency)
        css = "failed" if not t.ok else "recommended" if recommended else ""
        rows.append(Row(cells, css, "the recommended configuration" if recommended else ""))
    batch_note = (f" Full batch: {fmt.count(total)} records at the trial's throughput; batch vs "
                  f"baseline: the difference to {reference.label}'s (the job as it was, else "
                  "sequential)." if reference else "")
    return Table(id, tuple(c for c, _ in TRIAL_COLUMNS), tuple(rows),
                 tuple(n for _, n in TRIAL_COLUMNS), sortable=True, empty="no trials were run",
                 caption="One row per trial; click a column header to sort. Green: the "
                         "recommended configuration; red: trials that did not finish. CPU is "
                         "cores busy (CPU seconds per wall second). Client sockets include "
                         "connection attempts the server refused; DB sessions are the server's "
                         "own count of sessions it admitted at once." + batch_note)


def scaling_table(results: Results) -> Table:
    rows = []
    for model, fit in sorted((results.scaling or {}).items()):
        rows.append(Row((
            Cell(model), Cell(fit.status),
            num(fmt.rps(fit.lambda_rps), fit.lambda_rps),
            num(fmt.plain(fit.sigma), fit.sigma), num(fmt.plain(fit.kappa), fit.kappa),
            num(fmt.sig(fit.n_star, 3), fit.n_star), num(fmt.plain(fit.r2), fit.r2),
            num(fmt.count(len(fit.points)), len(fit.points)), Cell(fit.message),
        )))
    return Table("scaling", ("Model", "Fit", "λ (one worker)", "σ contention", "κ coherency",
                             "N* peak", "r²", "Points", "Message"), tuple(rows),
                 (False, False, True, True, True, True, True, True, False),
                 empty="no scaling fit computed")


def predictions_table(results: Results) -> Table | None:
    if not results.predictions or not results.predictions.rows:
        return None
    rows = [Row((
        Cell(fmt.config(r.model, r.concurrency)), num(fmt.duration(r.wall_s), r.wall_s),
        Cell(interval(r.low_s, r.high_s) or fmt.NA), num(fmt.count(r.repeats), r.repeats),
        Cell(", ".join(x for x in ("recommended" if r.recommended else "", r.note) if x)),
    ), "recommended" if r.recommended else "") for r in results.predictions.rows]
    return Table("predictions", ("Configuration", "Predicted wall time", "Interval", "Repeats", "Note"),
                 tuple(rows), (False, True, False, True, False),
                 caption=f"Predicted time for the full batch of "
                         f"{fmt.count(results.predictions.total_records)} records.")


def skipped_table(results: Results) -> Table:
    rows = [Row((Cell(s.model), Cell(fmt.concurrency(s.concurrency) if s.concurrency is not None
                                     else "all"), Cell(s.reason)))
            for s in results.skipped]
    return Table("skipped", ("Model", "N", "Reason"), tuple(rows), empty="no model was skipped")


def sweep_table(results: Results) -> Table:
    rows = [Row((num(fmt.seconds(e.t_s), e.t_s), Cell(e.event),
                 Cell(fmt.config(e.model, e.concurrency) if e.model else ""), Cell(e.message)))
            for e in results.sweep_log]
    return Table("sweep-log", ("Time", "Event", "Configuration", "Decision"), tuple(rows),
                 (True, False, False, False), empty="the sweep recorded no decisions")


def environment(results: Results) -> tuple[Pair, ...]:
    env, wl = results.environment, results.workload
    return (
        Pair("Workload", f"{wl.name} ({wl.target})"),
        Pair("Records per trial", fmt.count(wl.records_per_trial)),
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
    wl = results.workload
    top, seq = standings_of(results).fastest_clean, sequential_throughput(results)
    subtitle = f"{wl.target} · {len(results.trials)} trials"
    if top:
        subtitle += f" · fastest measured {top.label}"
        if seq:
            subtitle += f" ({fmt.times(top.throughput_rps / seq)} sequential)"
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
        story=story_view(results.story),
        chart=throughput_chart(results),
    )
