"""`render_compare`: two results files side by side, and which one wins, honestly.

Each run is represented by its best configuration (`analysis.configs.best`; the fastest
when every configuration failed records beyond the allowance). Every
metric's difference is judged by the one noise judge (`profiler.stats.compare`: a Welch
95 % interval of the ratio of means over the repeats); with one repeat on a side the
noise is unknown and no winner is claimed on that metric. When the comparison is a
gate's, the gate's verdict is the headline, so the report and the exit code agree.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from profiler import format as fmt
from profiler.analysis.configs import Config, best, group_configs
from profiler.analysis.story import full_batch_s, story_of
from profiler.files import write_atomic
from profiler.report.cells import Cell, KeyFigure, Pair, Plot, Row, Table
from profiler.report.html import render_plots, render_template
from profiler.report.markdown import story_markdown
from profiler.report.markdown import text as md_text
from profiler.report.plots import Run
from profiler.report.views import StoryView, build_verdict, environment, story_view, trial_table
from profiler.results import Results, Story, Trial
from profiler.stats import Comparison, compare
from profiler.workload import describe_database


@dataclass(frozen=True)
class Metric:
    key: str
    name: str
    get: Callable[[Trial], float | None]
    render: Callable[[float | None], str]
    phrase: str  # inside a sentence
    higher_is_better: bool = False
    difference: Callable[[float | None], str] | None = None  # the change in the metric's unit


METRICS: tuple[Metric, ...] = (
    Metric("throughput", "Throughput", lambda t: t.throughput_rps, fmt.rps, "throughput", True),
    Metric("cpu_util", "CPU", lambda t: t.cpu_util, fmt.cores, "CPU"),
    Metric("cpu_per_record", "CPU per record", lambda t: t.cpu_ms_per_record, fmt.ms, "CPU per record"),
    Metric("connections_peak", "Connections peak", lambda t: t.connections, fmt.count,
           "peak connections"),
    Metric("loop_lag_p99", "Loop lag p99", lambda t: t.loop_lag_p99_ms, fmt.ms, "loop lag p99"),
    Metric("rss_peak", "RSS peak", lambda t: t.rss_peak_bytes, fmt.mib, "peak RSS"),
    Metric("error_rate", "Records failed", lambda t: t.errors / t.records if t.records else None,
           fmt.pct, "records failed"),
    Metric("db_refused", "Connections refused", lambda t: t.db_refused, fmt.count,
           "connections refused"),
    Metric("server_cpu_per_record", "Server CPU per record", lambda t: t.server_cpu_ms_per_record,
           fmt.ms, "database server CPU per record"),
)


def batch_metric(total: int) -> Metric:
    """The whole batch's time at each trial's throughput (`--total`), with the difference."""
    return Metric("full_batch", f"Full batch ({fmt.count(total)} records)",
                  lambda t: full_batch_s(total, t.throughput_rps), fmt.duration, "full-batch time",
                  difference=fmt.signed_duration)


@dataclass(frozen=True)
class Delta:
    metric: Metric
    baseline: float | None  # mean over the best configuration's repeats
    candidate: float | None
    comparison: Comparison | None  # None: not measured on both sides
    better: str | None  # label of the better run; None unless the difference is beyond the noise

    @property
    def key(self) -> str:
        return self.metric.key

    @property
    def name(self) -> str:
        return self.metric.name

    def render(self, value: float | None) -> str:
        return self.metric.render(value)

    @property
    def change_pct(self) -> float | None:
        return None if self.comparison is None else self.comparison.ratio - 1

    @property
    def change(self) -> str:
        """`+49.2 %`, and for a metric with a unit of difference also that: `+49.2 % (+3 min 02 s)`."""
        text = fmt.signed_pct(self.change_pct)
        if self.metric.difference and self.baseline is not None and self.candidate is not None:
            text += f" ({self.metric.difference(self.candidate - self.baseline)})"
        return text

    @property
    def within_noise(self) -> bool | None:
        """None: not measured on both sides, or the noise is unknown (one repeat)."""
        if self.comparison is None or self.comparison.significant is None:
            return None
        return not self.comparison.significant

    @property
    def method(self) -> str:
        return "not measured on both sides" if self.comparison is None else self.comparison.method

    @property
    def judged(self) -> str:
        if self.comparison is None:
            return "n/a"
        if self.better:
            return f"{self.better} better"
        return "noise unknown" if self.within_noise is None else "within noise"


@dataclass(frozen=True)
class CompareOutcome:
    labels: tuple[str, str]
    baseline_config: str
    candidate_config: str
    deltas: tuple[Delta, ...]
    winner: str | None  # label of the faster run; None unless beyond the noise
    verdict: str
    index_path: Path | None = None
    story: Story | None = None  # the pair as the job and its rewrite: the headline, first
    # What differs between the runs besides the code (target, database, machine): a reader
    # must know before taking the deltas as the code's.
    mismatches: tuple[str, ...] = ()

    @property
    def within_noise(self) -> bool:
        return self.winner is None

    def delta(self, key: str) -> Delta:
        return next(d for d in self.deltas if d.key == key)

    def lines(self) -> list[str]:
        """The verdict, then one line per measured metric: what `concur compare` prints."""
        out = [self.story.headline] if self.story else []
        out += [self.verdict, *(f"warning: {m}" for m in self.mismatches)]
        for d in self.deltas:
            if d.comparison is not None:
                out.append(f"  {d.name}: {d.render(d.baseline)} → {d.render(d.candidate)} "
                           f"({d.change}, {d.judged})")
        return out


def compare_metric(metric: Metric, base: Config | None, cand: Config | None,
                   labels: tuple[str, str]) -> Delta:
    a = base.values(metric.get) if base else []
    b = cand.values(metric.get) if cand else []
    mean_a = sum(a) / len(a) if a else None
    mean_b = sum(b) / len(b) if b else None
    if not a or not b:
        return Delta(metric, mean_a, mean_b, None, None)
    judgement = compare(a, b)
    better = None
    if judgement.significant:
        better = labels[1] if (judgement.ratio > 1) == metric.higher_is_better else labels[0]
    return Delta(metric, mean_a, mean_b, judgement, better)


def representative(results: Results) -> Config | None:
    """A run's best configuration; when every configuration failed records beyond the
    allowance, its fastest one (the rewrite as measured: its errors are among the deltas)."""
    configs = group_configs(results)
    return best(configs) or max(configs, key=lambda c: c.throughput_rps, default=None)


def compare_runs(a: Results, b: Results,
                 labels: tuple[str, str] = ("baseline", "candidate")) -> CompareOutcome:
    """The deltas and the verdict of two runs, each at its best configuration (pure)."""
    chosen = (representative(a), representative(b))
    total = b.workload.total_records or a.workload.total_records
    metrics = (*METRICS, batch_metric(total)) if total else METRICS
    deltas = tuple(compare_metric(m, chosen[0], chosen[1], labels) for m in metrics)
    story = (story_of(chosen[0], chosen[1], total, [*a.attribution, *b.attribution])
             if chosen[0] and chosen[1] else None)
    return CompareOutcome(labels, chosen[0].label if chosen[0] else fmt.NA,
                          chosen[1].label if chosen[1] else fmt.NA, deltas, deltas[0].better,
                          _verdict_sentence(deltas, labels), story=story,
                          mismatches=mismatches(a, b, labels))


DEFAULT_DATABASE = "the workload's default database"


def database(results: Results) -> str:
    """Where a run's database was: the server the run started for itself (its kind, not its
    port: every run starts a fresh one), recorded by the run, or its command's --dsn."""
    if results.workload.service:
        return results.workload.service.split(" at ")[0]
    if results.workload.database:
        return results.workload.database
    try:
        args = shlex.split(results.command)
    except ValueError:
        args = []
    for i, arg in enumerate(args):
        value = args[i + 1] if arg == "--dsn" and i + 1 < len(args) else (
            arg.split("=", 1)[1] if arg.startswith("--dsn=") else None)
        if value:
            return describe_database(value) or DEFAULT_DATABASE
    return DEFAULT_DATABASE


def mismatches(a: Results, b: Results, labels: tuple[str, str]) -> tuple[str, ...]:
    """What the two runs differ in besides the code under test, one sentence each."""
    out = []
    if a.workload.target != b.workload.target:
        out.append(f"different targets: {labels[0]} ran {a.workload.target}, {labels[1]} ran "
                   f"{b.workload.target}")
    if database(a) != database(b):
        out.append(f"different databases: {labels[0]} used {database(a)}, {labels[1]} used "
                   f"{database(b)}; the deltas are the databases' as much as the code's")
    ea, eb = a.environment, b.environment
    if (ea.cpu_count, ea.python, ea.gil_enabled) != (eb.cpu_count, eb.python, eb.gil_enabled):
        out.append(f"different environments ({ea.cpu_count} vs {eb.cpu_count} cores, Python "
                   f"{ea.python} vs {eb.python}): the difference is not only the code's")
    return tuple(out)


def _verdict_sentence(deltas: tuple[Delta, ...], labels: tuple[str, str]) -> str:
    thr = deltas[0]
    base, cand = labels
    if thr.comparison is None:
        return f"No comparison: {base if thr.baseline is None else cand} has no successful trial."
    nums = f"{thr.render(thr.candidate)} vs {thr.render(thr.baseline)} ({fmt.signed_pct(thr.change_pct)})"
    if thr.within_noise is None:
        return (f"{cand[:1].upper() + cand[1:]} runs at {nums}; one repeat on a side, so the noise "
                "is unknown and no winner is claimed (--repeat 3 measures it).")
    if thr.within_noise:
        return f"No clear winner: {cand} runs at {nums}, within the noise of the repeats."
    winner = thr.better
    loser = base if winner == cand else cand
    faster = "faster" if winner == cand else "slower"
    sentence = f"{cand[:1].upper() + cand[1:]} is {faster}: {nums}, beyond the noise of the repeats."
    costs = []
    for d in deltas[1:]:
        # Cores busy scale with records done per second: the faster run "costing more CPU"
        # is no cost; CPU per record is the fair comparison, and it is among the deltas.
        if d.key == "cpu_util":
            continue
        if d.better == loser:
            mine, theirs = (d.candidate, d.baseline) if winner == cand else (d.baseline, d.candidate)
            costs.append(f"{d.metric.phrase} {d.render(mine)} vs {d.render(theirs)}")
    if costs:
        sentence += f" But {winner} costs more: {'; '.join(costs)}."
    return sentence


def _safe(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-") or "run"


def render_compare(a: Results, b: Results, out_dir: Path,
                   labels: tuple[str, str] = ("baseline", "candidate"),
                   headline: str | None = None) -> CompareOutcome:
    """Write a side-by-side report of two runs into out_dir; return the deltas and the
    winner. `headline` (a gate's verdict) replaces the comparison's own sentence on top."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    outcome = compare_runs(a, b, (str(labels[0]), str(labels[1])))
    plots = render_plots([Run(outcome.labels[0], a), Run(outcome.labels[1], b)], out_dir)
    view = _view(a, b, outcome, plots, headline)
    for label, res in zip(outcome.labels, (a, b), strict=True):
        res.save(out_dir / f"{_safe(label)}.json")
    write_atomic(out_dir / "summary.md", compare_markdown(outcome, headline))
    index = write_atomic(out_dir / "index.html", render_template("compare.html.j2", report=view))
    return replace(outcome, index_path=index)


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
          headline: str | None) -> CompareView:
    runs = []
    warnings: list[str] = []
    labels = outcome.labels
    for label, res, css, cfg in zip(labels, (a, b), ("baseline", "candidate"),
                                    (outcome.baseline_config, outcome.candidate_config), strict=True):
        v = build_verdict(res)
        runs.append(RunView(label, css, f"{label}: {res.workload.name} ({res.workload.target}, "
                                        f"{database(res)})", v.headline,
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
        title=f"concur compare: {a.workload.name} vs {b.workload.name}",
        subtitle=f"{labels[0]}: {a.workload.target} · {labels[1]}: {b.workload.target}",
        headline=headline or outcome.verdict, computed=thr.comparison is not None, figures=figures,
        warnings=tuple(warnings), deltas=_delta_table(outcome), runs=tuple(runs),
        plots=plots, footer=f"concur {a.tool_version or b.tool_version}".strip(),
        story=story_view(outcome.story),
    )


def compare_markdown(outcome: CompareOutcome, headline: str | None = None) -> str:
    base, cand = (md_text(label) for label in outcome.labels)
    lines = [f"### concur compare: {base} vs {cand}", "", *story_markdown(outcome.story),
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
