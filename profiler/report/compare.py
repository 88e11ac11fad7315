"""`render_compare`: two runs side by side, and which one wins, as `analysis.compare` judged.

Renders a `CompareOutcome` (each run at its representative configuration, every metric's
difference judged by the one noise judge); it computes nothing. When the comparison is a
gate's, the gate's verdict is the headline, so the report and the exit code agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from profiler import format as fmt
from profiler.analysis.compare import CompareOutcome
from profiler.files import write_atomic
from profiler.report.cells import Cell, KeyFigure, Pair, Plot, Row, Table
from profiler.report.html import render_plots, render_template
from profiler.report.markdown import story_markdown
from profiler.report.markdown import text as md_text
from profiler.report.plots import Run
from profiler.report.views import StoryView, build_verdict, environment, story_view, trial_table
from profiler.results import Results


def _safe(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-") or "run"


def render_compare(outcome: CompareOutcome, a: Results, b: Results, out_dir: Path,
                   headline: str | None = None, title: str = "concur compare") -> Path:
    """Write the side-by-side report of two runs (`outcome` is their comparison) into
    out_dir; return the index page. `headline` (a gate's verdict) replaces the
    comparison's own sentence on top."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = render_plots([Run(outcome.labels[0], a), Run(outcome.labels[1], b)], out_dir)
    view = _view(a, b, outcome, plots, headline, title)
    for label, res in zip(outcome.labels, (a, b), strict=True):
        res.save(out_dir / f"{_safe(label)}.json")
    write_atomic(out_dir / "summary.md", compare_markdown(outcome, headline, title))
    return write_atomic(out_dir / "index.html", render_template("compare.html.j2", report=view))


# --- view --------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunView:
    label: str
    css: str
    heading: str
    headline: str
    figures: tuple[KeyFigure, ...]
    environment: tuple[Pair, ...]
    trials: Table


@dataclass(frozen=True)
class CompareView:
    title: str
    subtitle: str
    headline: str
    computed: bool
    figures: tuple[KeyFigure, ...]
    warnings: tuple[str, ...]
    deltas: Table
    runs: tuple[RunView, ...]
    plots: tuple[Plot, ...]
    footer: str
    story: StoryView | None = None


def _delta_table(outcome: CompareOutcome) -> Table:
    rows = []
    for d in outcome.deltas:
        css = "" if not d.better else "better" if d.better == outcome.labels[1] else "worse"
        rows.append(Row((
            Cell(d.name), Cell(d.render(d.baseline), fmt.sort_key(d.baseline), True),
            Cell(d.render(d.candidate), fmt.sort_key(d.candidate), True),
            Cell(d.change, fmt.sort_key(d.change_pct), True),
            Cell(d.judged, css=css), Cell(d.method),
        )))
    return Table("deltas", ("Metric", *outcome.labels, "Change", "Judgement", "How judged"),
                 tuple(rows), (False, True, True, True, False, False),
                 caption="Each run at its best configuration; means over its repeats. Lower is "
                         "better for every metric except throughput. A difference is noise when "
                         "the Welch 95 % interval of the ratio of the means contains 1; with a "
                         "single repeat on a side the noise is not measured and no side is called "
                         "better (run with --repeat 3 to measure it).")


def _view(a: Results, b: Results, outcome: CompareOutcome, plots: tuple[Plot, ...],
          headline: str | None, title: str) -> CompareView:
    runs = []
    warnings: list[str] = []
    labels = outcome.labels
    for label, res, css, cfg, db in zip(labels, (a, b), ("baseline", "candidate"),
                                        (outcome.baseline_config, outcome.candidate_config),
                                        outcome.databases, strict=True):
        v = build_verdict(res)
        runs.append(RunView(label, css, f"{label}: {res.workload.name} ({res.workload.target}, "
                                        f"{db})", v.headline,
                            (KeyFigure("Best configuration", cfg), *v.figures),
                            environment(res), trial_table(res, id=f"trials-{_safe(label)}")))
        warnings += [f"{label}: {w}" for w in v.warnings]
    warnings[:0] = [m[:1].upper() + m[1:] + "." for m in outcome.mismatches]
    thr = outcome.deltas[0]
    figures = (
        KeyFigure(labels[0], thr.render(thr.baseline), outcome.baseline_config),
        KeyFigure(labels[1], thr.render(thr.candidate), outcome.candidate_config),
        KeyFigure("Change", fmt.signed_pct(thr.change_pct), thr.method),
        KeyFigure("Winner", outcome.winner or thr.judged),
    )
    return CompareView(
        title=f"{title}: {a.workload.name} vs {b.workload.name}",
        subtitle=f"{labels[0]}: {a.workload.target} · {labels[1]}: {b.workload.target}",
        headline=headline or outcome.verdict, computed=thr.comparison is not None, figures=figures,
        warnings=tuple(warnings), deltas=_delta_table(outcome), runs=tuple(runs),
        plots=plots, footer=f"concur {a.tool_version or b.tool_version}".strip(),
        story=story_view(outcome.story),
    )


def compare_markdown(outcome: CompareOutcome, headline: str | None = None,
                     title: str = "concur compare") -> str:
    base, cand = (md_text(label) for label in outcome.labels)
    lines = [f"### {title}: {base} vs {cand}", "", *story_markdown(outcome.story),
             f"**Verdict:** {md_text(headline or outcome.verdict)}", ""]
    if headline:
        lines += [f"Throughput: {md_text(outcome.verdict)}", ""]
    lines += [f"- ⚠️ {md_text(m)}" for m in outcome.mismatches] + ([""] if outcome.mismatches else [])
    lines += [f"| Metric | {base} ({md_text(outcome.baseline_config)}) | {cand} "
              f"({md_text(outcome.candidate_config)}) "
              "| Change | Judgement |", "|---|--:|--:|--:|---|"]
    for d in outcome.deltas:
        lines.append(f"| {d.name} | {d.render(d.baseline)} | {d.render(d.candidate)} | "
                     f"{d.change} | {d.judged} |")
    return "\n".join(lines + ["", f"<sub>Throughput judged by: {outcome.deltas[0].method}</sub>", ""])
