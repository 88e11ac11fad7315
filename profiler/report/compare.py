"""`render_compare`: two results files side by side, and which one wins, honestly.

Each run is represented by its fastest configuration (highest mean throughput over its
ok repeats). Every metric's difference is judged against the spread of the repeats:
a Welch 95 % t-interval of the difference when both sides have ≥ 3 repeats, whether
the min–max ranges overlap with 2, and an assumed ±5 % band with a single repeat per
side (said so in the outcome, since one repeat measures no noise at all).
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from profiler.report import format as fmt
from profiler.report.aggregate import Config, best_config, cpu_ms_per_record
from profiler.report.html import render_plots, render_template
from profiler.report.plots import Run
from profiler.report.views import (
    Cell,
    KeyFigure,
    Pair,
    Row,
    Table,
    build_verdict,
    environment,
    trial_table,
)
from profiler.results import Results, Trial, write_atomic

DEFAULT_NOISE_BAND = 0.05
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Noise:
    within: bool
    method: str
    low: float | None = None  # interval of (candidate − baseline), in the metric's unit
    high: float | None = None


def judge(base: list[float], cand: list[float], band: float = DEFAULT_NOISE_BAND) -> Noise:
    """Is mean(cand) − mean(base) inside the noise of the repeats?"""
    na, nb = len(base), len(cand)
    diff = statistics.fmean(cand) - statistics.fmean(base)
    if na >= 3 and nb >= 3:
        va, vb = statistics.variance(base) / na, statistics.variance(cand) / nb
        if va + vb > 0:
            from scipy.stats import t as student_t  # lazy: scipy is slow to import

            df = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
            half = float(student_t.ppf(0.5 + CONFIDENCE / 2, df)) * math.sqrt(va + vb)
            return Noise(diff - half <= 0 <= diff + half,
                         f"Welch {CONFIDENCE * 100:.0f} % t-interval ({na} vs {nb} repeats)",
                         diff - half, diff + half)
    if na >= 2 or nb >= 2:
        overlap = max(min(base), min(cand)) <= min(max(base), max(cand))
        return Noise(overlap, f"min–max ranges {'overlap' if overlap else 'apart'} ({na} vs {nb} repeats)",
                     min(cand) - max(base), max(cand) - min(base))
    ref = abs(base[0])
    return Noise(abs(diff) <= band * ref,
                 f"single repeat per side: assumed ±{band * 100:.0f} % band", -band * ref, band * ref)


@dataclass(frozen=True)
class Metric:
    key: str
    name: str
    get: Callable[[Trial], float | None]
    render: Callable[[float | None], str]
    phrase: str  # inside a sentence
    higher_is_better: bool = False


METRICS: tuple[Metric, ...] = (
    Metric("throughput", "Throughput", lambda t: t.throughput_rps, fmt.rps, "throughput", True),
    Metric("cpu_util", "CPU", lambda t: t.cpu_util, fmt.cores, "CPU"),
    Metric("cpu_per_record", "CPU per record", cpu_ms_per_record, fmt.ms, "CPU per record"),
    Metric("connections_peak", "Connections peak", lambda t: t.connections_peak, fmt.integer,
           "peak connections"),
    Metric("loop_lag_p99", "Loop lag p99", lambda t: t.loop_lag_p99_ms, fmt.ms, "loop lag p99"),
    Metric("rss_peak", "RSS peak", lambda t: t.rss_peak_bytes, fmt.mib, "peak RSS"),
)


@dataclass(frozen=True)
class Delta:
    key: str
    name: str
    baseline: float | None  # mean over the best configuration's repeats
    candidate: float | None
    change: float | None  # candidate − baseline
    change_pct: float | None  # relative to baseline
    higher_is_better: bool
    within_noise: bool | None  # None: not measured on one side
    better: str | None  # label of the better run; None when within noise or not measured
    method: str
    render: Callable[[float | None], str]
    phrase: str


@dataclass(frozen=True)
class CompareOutcome:
    labels: tuple[str, str]
    baseline_config: str
    candidate_config: str
    deltas: tuple[Delta, ...]
    winner: str | None  # label of the faster run; None when the difference is within noise
    within_noise: bool
    verdict: str
    index_path: Path

    def delta(self, key: str) -> Delta:
        return next(d for d in self.deltas if d.key == key)


def compare_metric(metric: Metric, base: Config | None, cand: Config | None,
                   labels: tuple[str, str]) -> Delta:
    a = base.values(metric.get) if base else []
    b = cand.values(metric.get) if cand else []
    if not a or not b:
        return Delta(metric.key, metric.name, statistics.fmean(a) if a else None,
                     statistics.fmean(b) if b else None, None, None, metric.higher_is_better,
                     None, None, "not measured on both sides", metric.render, metric.phrase)
    ma, mb = statistics.fmean(a), statistics.fmean(b)
    noise = judge([float(x) for x in a], [float(x) for x in b])
    change = mb - ma
    better = None
    if not noise.within and change != 0:
        better = labels[1] if (change > 0) == metric.higher_is_better else labels[0]
    return Delta(metric.key, metric.name, ma, mb, change, change / ma if ma else None,
                 metric.higher_is_better, noise.within, better, noise.method, metric.render, metric.phrase)


def _verdict_sentence(thr: Delta, deltas: tuple[Delta, ...], labels: tuple[str, str]) -> str:
    base, cand = labels
    if thr.within_noise is None:
        return f"No comparison: {base if thr.baseline is None else cand} has no successful trial."
    nums = f"{thr.render(thr.candidate)} vs {thr.render(thr.baseline)} ({fmt.signed_pct(thr.change_pct)})"
    noise = ("the assumed ±5 % noise (one repeat per side; --repeat 3 measures it)"
             if thr.method.startswith("single repeat") else "the noise of the repeats")
    if thr.within_noise:
        return f"No clear winner: {cand} runs at {nums}, within {noise}."
    winner = thr.better
    loser = base if winner == cand else cand
    faster = "faster" if winner == cand else "slower"
    sentence = f"{cand[:1].upper() + cand[1:]} is {faster}: {nums}, beyond {noise}."
    costs = []
    for d in deltas[1:]:
        # Cores busy scale with records done per second: the faster run "costing more CPU"
        # is no cost; CPU per record is the fair comparison, and it is among the deltas.
        if d.key == "cpu_util":
            continue
        if d.better == loser:
            mine, theirs = (d.candidate, d.baseline) if winner == cand else (d.baseline, d.candidate)
            costs.append(f"{d.phrase} {d.render(mine)} vs {d.render(theirs)}")
    if costs:
        sentence += f" But {winner} costs more: {'; '.join(costs)}."
    return sentence


def _safe(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-") or "run"


def render_compare(a: Results, b: Results, out_dir: Path,
                   labels: tuple[str, str] = ("baseline", "candidate")) -> CompareOutcome:
    """Write a side-by-side report of two runs into out_dir; return the deltas and the winner."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    labels = (str(labels[0]), str(labels[1]))
    best = (best_config(a), best_config(b))
    deltas = tuple(compare_metric(m, best[0], best[1], labels) for m in METRICS)
    thr = deltas[0]
    outcome_args = {
        "labels": labels,
        "baseline_config": fmt.config(best[0].model, best[0].concurrency) if best[0] else fmt.NA,
        "candidate_config": fmt.config(best[1].model, best[1].concurrency) if best[1] else fmt.NA,
        "deltas": deltas,
        "winner": thr.better,
        "within_noise": bool(thr.within_noise) or thr.within_noise is None,
        "verdict": _verdict_sentence(thr, deltas, labels),
    }
    runs = [Run(labels[0], a), Run(labels[1], b)]
    plots = render_plots(runs, out_dir)
    view = _view(a, b, labels, outcome_args, plots)
    for label, res in zip(labels, (a, b), strict=True):
        res.save(out_dir / f"{_safe(label)}.json")
    write_atomic(out_dir / "summary.md", compare_markdown(outcome_args, labels))
    index = write_atomic(out_dir / "index.html", render_template("compare.html.j2", report=view))
    return CompareOutcome(index_path=index, **outcome_args)


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
    plots: tuple
    footer: str


def _delta_table(deltas: tuple[Delta, ...], labels: tuple[str, str]) -> Table:
    rows = []
    for d in deltas:
        if d.within_noise is None:
            judged, css = "n/a", ""
        elif d.better is None:
            judged, css = "within noise", ""
        else:
            judged = f"{d.better} better"
            css = "better" if d.better == labels[1] else "worse"
        rows.append(Row((
            Cell(d.name), Cell(d.render(d.baseline), fmt.sort_key(d.baseline), True),
            Cell(d.render(d.candidate), fmt.sort_key(d.candidate), True),
            Cell(fmt.signed_pct(d.change_pct), fmt.sort_key(d.change_pct), True),
            Cell(judged, css=css), Cell(d.method),
        )))
    return Table("deltas", ("Metric", labels[0], labels[1], "Change", "Judgement", "How judged"),
                 tuple(rows), (False, True, True, True, False, False),
                 caption="Each run at its fastest configuration; means over its repeats. Lower is "
                         "better for every metric except throughput. A difference is noise when a "
                         "Welch 95 % t-interval contains 0 (≥ 3 repeats each) or the repeats' "
                         "min–max ranges overlap; with a single repeat per side the noise is not "
                         "measured and ±5 % is assumed (run with --repeat 3 to measure it).")


def _view(a: Results, b: Results, labels: tuple[str, str], out: dict, plots: tuple) -> CompareView:
    runs = []
    warnings: list[str] = []
    for label, res, css, cfg in zip(labels, (a, b), ("baseline", "candidate"),
                                    (out["baseline_config"], out["candidate_config"]), strict=True):
        v = build_verdict(res)
        runs.append(RunView(label, css, f"{label}: {res.workload.name}", v.headline,
                            (KeyFigure("Fastest configuration", cfg),) + v.figures,
                            environment(res), trial_table(res, id=f"trials-{_safe(label)}")))
        warnings += [f"{label}: {w}" for w in v.warnings]
    ea, eb = a.environment, b.environment
    if (ea.cpu_count, ea.python, ea.gil_enabled) != (eb.cpu_count, eb.python, eb.gil_enabled):
        warnings.insert(0, f"The runs come from different environments ({ea.cpu_count} vs "
                           f"{eb.cpu_count} cores, Python {ea.python} vs {eb.python}): the "
                           "difference is not only the code's.")
    thr = out["deltas"][0]
    figures = (
        KeyFigure(labels[0], thr.render(thr.baseline), out["baseline_config"]),
        KeyFigure(labels[1], thr.render(thr.candidate), out["candidate_config"]),
        KeyFigure("Change", fmt.signed_pct(thr.change_pct), thr.method),
        KeyFigure("Winner", out["winner"] or "within noise"),
    )
    return CompareView(
        title=f"concur compare: {a.workload.name} vs {b.workload.name}",
        subtitle=f"{labels[0]}: {a.workload.target} · {labels[1]}: {b.workload.target}",
        headline=out["verdict"], computed=thr.within_noise is not None, figures=figures,
        warnings=tuple(warnings), deltas=_delta_table(out["deltas"], labels), runs=tuple(runs),
        plots=plots, footer=f"concur {a.tool_version or b.tool_version}".strip(),
    )


def compare_markdown(out: dict, labels: tuple[str, str]) -> str:
    lines = [f"### concur compare: {labels[0]} vs {labels[1]}", "", f"**Verdict:** {out['verdict']}", "",
             f"| Metric | {labels[0]} ({out['baseline_config']}) | {labels[1]} ({out['candidate_config']}) "
             "| Change | Judgement |", "|---|--:|--:|--:|---|"]
    for d in out["deltas"]:
        judged = "n/a" if d.within_noise is None else d.better and f"{d.better} better" or "within noise"
        lines.append(f"| {d.name} | {d.render(d.baseline)} | {d.render(d.candidate)} | "
                     f"{fmt.signed_pct(d.change_pct)} | {judged} |")
    return "\n".join(lines + ["", f"<sub>Throughput judged by: {out['deltas'][0].method}</sub>", ""])
