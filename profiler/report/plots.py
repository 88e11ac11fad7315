"""The report's plots: one function per plot, each returning a matplotlib Figure.

Every function takes one `Results` or a sequence of `Run`s (the compare report draws a
baseline and a candidate on the same axes) and raises `NoData(reason)` instead of
drawing an empty chart; the HTML shows the reason in the plot's place. Figures are
built with `matplotlib.figure.Figure` (no pyplot state), Okabe–Ito colours, units on
every axis label. Concurrency 0 ("unbounded") sits at its own position right of the
largest finite N, labelled ∞, never at 0 on a log axis.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # before anything else of matplotlib: files only, no display

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from profiler import format as fmt  # noqa: E402
from profiler.analysis.decompose import mean_decomposition  # noqa: E402
from profiler.analysis.scaling import usl  # noqa: E402
from profiler.report.plotstyle import (  # noqa: E402
    BLACK,
    BLUE,
    DPI,
    FIGSIZE,
    GREEN,
    GREY,
    PURPLE,
    RUN_COLOURS,
    RUN_LINESTYLES,
    VERMILLION,
    NoData,
    Run,
    Runs,
    Style,
    as_runs,
    by_model,
    config_rows,
    constraint,
    finish,
    integer_ticks,
    legend_below,
    n_star_label,
    naxis,
    new_figure,
    plain_numbers,
    row_height,
    row_label,
    style,
    usl_span,
)
from profiler.results import Config, Results, Trial, standings_of  # noqa: E402

__all__ = ["DPI", "PLOTS", "NoData", "PlotSpec", "Run", "Runs"]


# --- plots -------------------------------------------------------------------------------

def throughput_figure(data: Runs) -> Figure:
    """Throughput per model vs concurrency, repeats' range as error bars, USL fit dotted over
    each model's measured range, its peak N* as a star and in the legend."""
    runs = as_runs(data)
    if not any(r.results.ok_trials() for r in runs):
        raise NoData("no trial finished successfully, so there is no throughput to plot")
    axis = naxis(runs)
    fig = new_figure((FIGSIZE[0], FIGSIZE[1] + 0.6))  # room for the legend below
    ax = fig.add_subplot()
    usl_labelled = failed_labelled = False
    for ri, run in enumerate(runs):
        for model, cfgs in by_model(standings_of(run.results).configs).items():
            st = style(runs, ri, model)
            label = st.label
            fit = (run.results.scaling or {}).get(model)
            span = usl_span(cfgs)
            if fit is not None and fit.ok and span is not None:
                lam, sig, kap = fit.lambda_rps, fit.sigma, fit.kappa
                grid = np.geomspace(span[0], span[1], 120)
                ax.plot(grid, usl(grid, lam, sig, kap), color=st.colour, linestyle=":",
                        linewidth=1.2, label=None if usl_labelled else "USL fit (dotted)")
                usl_labelled = True
                label += n_star_label(fit.n_star, span)
                n_star = fit.n_star
                if n_star is not None and span[0] <= n_star <= span[1]:
                    y = float(usl(np.array([n_star]), lam, sig, kap)[0])
                    ax.plot([n_star], [y], marker="*", markersize=11, color=st.colour,
                            markeredgecolor="white", linestyle="none")
            xs = [axis.x(c.concurrency) for c in cfgs]
            means = [c.throughput_rps for c in cfgs]
            lo = [m - min(t.throughput_rps for t in c.trials) for m, c in zip(means, cfgs, strict=True)]
            hi = [max(t.throughput_rps for t in c.trials) - m for m, c in zip(means, cfgs, strict=True)]
            finite = [(x, m) for x, m, c in zip(xs, means, cfgs, strict=True) if c.concurrency > 0]
            if finite:
                ax.plot(*zip(*finite, strict=True), color=st.colour, linestyle=st.linestyle,
                        linewidth=1.4)
            ax.errorbar(xs, means, yerr=[lo, hi], fmt=st.marker, color=st.colour, markersize=5,
                        capsize=2.5, elinewidth=0.9, label=label)
        bad = _failed_configs(run.results)
        if bad:
            ax.plot([axis.x(n) for n in bad], [0] * len(bad), linestyle="none", marker="x",
                    color=BLACK, markersize=7, label=None if failed_labelled else "crashed / timed out")
            failed_labelled = True
    axis.apply(ax)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("throughput (records/s)")
    legend_below(fig, ax)
    finish(ax, "Throughput vs concurrency")
    return fig


def _failed_configs(results: Results) -> list[int]:
    ok = {(t.model, t.concurrency) for t in results.ok_trials()}
    return sorted({t.concurrency for t in results.trials
                   if t.status != "ok" and (t.model, t.concurrency) not in ok})


def cpu_figure(data: Runs) -> Figure:
    """CPU cores used vs concurrency per model, with the machine's core count."""
    runs = as_runs(data)
    if not any(t.cpu_util is not None for r in runs for t in r.results.ok_trials()):
        raise NoData("CPU was not measured in any successful trial")
    axis = naxis(runs)
    fig = new_figure()
    ax = fig.add_subplot()
    for ri, run in enumerate(runs):
        for model, cfgs in by_model(standings_of(run.results).configs).items():
            st = style(runs, ri, model)
            pts = [(axis.x(c.concurrency), c.mean_of("cpu_util"), c.concurrency) for c in cfgs]
            pts = [p for p in pts if p[1] is not None]
            if not pts:
                continue
            line = [(x, y) for x, y, n in pts if n > 0]
            if line:
                ax.plot(*zip(*line, strict=True), color=st.colour, linestyle=st.linestyle, linewidth=1.4)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], st.marker, color=st.colour,
                    markersize=5, label=st.label)
    for ri, run in enumerate(runs):
        cores = run.results.environment.cpu_count
        label = f"{cores} cores available" + (f" ({run.label})" if len(runs) > 1 else "")
        ax.axhline(cores, color=RUN_COLOURS[ri % 2] if len(runs) > 1 else GREY,
                   linestyle=(0, (4, 3)), linewidth=1, label=label)
    axis.apply(ax)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("CPU utilisation (cores busy)")
    legend_below(fig, ax)
    finish(ax, "CPU used vs concurrency")
    return fig


def decomposition_figure(data: Runs) -> Figure:
    """Where worker time went, per configuration: on-CPU, run-queue wait, waiting."""
    runs = as_runs(data)

    def shares(c: Config) -> tuple[float, float, float] | None:
        d = mean_decomposition(c.trials)
        return None if d is None else (100 * d.on_cpu, 100 * d.runqueue, 100 * d.waiting)

    rows = [(ri, c, s) for ri, c in config_rows(runs, lambda c: True) if (s := shares(c)) is not None]
    if not rows:
        raise NoData("no trial has both CPU time and run-queue wait (needs /proc schedstat)")
    fig = new_figure(row_height(len(rows)))
    ax = fig.add_subplot()
    y = np.arange(len(rows))[::-1]
    parts = (("on CPU", BLUE), ("runnable, waiting for a core (run queue)", VERMILLION),
             ("waiting (I/O, locks, sleep)", "#cccccc"))
    left = np.zeros(len(rows))
    for k, (name, colour) in enumerate(parts):
        widths = np.array([s[k] for _, _, s in rows])
        bars = ax.barh(y, widths, left=left, color=colour, edgecolor="white", linewidth=0.5,
                       label=name, height=0.7)
        for bar, (ri, _, _) in zip(bars, rows, strict=True):
            if ri == 1:  # the candidate of a compare report
                bar.set_hatch("//")
        left += widths
    ax.set_yticks(y, [row_label(runs, ri, c.model, c.concurrency) for ri, c, _ in rows], fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of worker time (%; worker time = workers × wall time)")
    ax.set_ylabel("configuration (model × N)")
    ax.legend(fontsize=7, frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3)
    ax.set_title("Where the workers' time went", fontsize=11, loc="left", pad=22)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def _range_figure(runs: list[Run], lo: Callable[[Trial], float | None],
                  hi: Callable[[Trial], float | None], names: tuple[str, str], xlabel: str,
                  title: str, limit: float | None = None, limit_label: str = "") -> Figure:
    """One row per configuration: ○ at the median, ▶ at the 99th percentile, joined."""
    rows = [(ri, c, c.mean_of(lo), c.mean_of(hi)) for ri, c in config_rows(runs, lambda c: True)]
    rows = [r for r in rows if r[2] is not None or r[3] is not None]
    fig = new_figure(row_height(len(rows)))
    ax = fig.add_subplot()
    y = np.arange(len(rows))[::-1]
    # One artist per style, not per row: a 60-trial run has ~30 rows.
    groups: dict[Style, list[tuple[float, float | None, float | None]]] = {}
    for yi, (ri, c, p50, p99) in zip(y, rows, strict=True):
        st = style(runs, ri, c.model)
        groups.setdefault(Style(st.colour, "", st.linestyle, ""), []).append((yi, p50, p99))
    for st, pts in groups.items():
        seg = [(yi, a, b) for yi, a, b in pts if a is not None and b is not None]
        if seg:
            ax.hlines([p[0] for p in seg], [p[1] for p in seg], [p[2] for p in seg],
                      colors=st.colour, linestyles=st.linestyle, linewidth=1.6)
        for k, marker, face in ((1, "o", "white"), (2, ">", st.colour)):
            xy = [(p[k], p[0]) for p in pts if p[k] is not None]
            if xy:
                ax.plot(*zip(*xy, strict=True), linestyle="none", marker=marker, markersize=6,
                        color=st.colour, markerfacecolor=face)
    values = [v for r in rows for v in r[2:] if v is not None and v > 0]
    if values and max(values) / min(values) > 30:
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(plain_numbers())
    else:
        ax.set_xlim(left=0)
    handles = [
        Line2D([], [], linestyle="none", marker="o", color=GREY, markerfacecolor="white", label=names[0]),
        Line2D([], [], linestyle="none", marker=">", color=GREY, label=names[1]),
    ]
    if limit is not None:
        handles.append(ax.axvline(limit, color=BLACK, linestyle=(0, (4, 3)), linewidth=1,
                                  label=limit_label))
    ax.set_yticks(y, [row_label(runs, ri, c.model, c.concurrency) for ri, c, _, _ in rows], fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("configuration (model × N)")
    legend_below(fig, ax, handles)
    finish(ax, title)
    return fig


def loop_lag_figure(data: Runs) -> Figure:
    """Event-loop lag p50 and p99 per loop-model configuration (asyncio, uvloop)."""
    runs = as_runs(data)
    if not any(t.loop_lag_p99_ms is not None or t.loop_lag_p50_ms is not None
               for r in runs for t in r.results.ok_trials()):
        raise NoData("no event-loop model (asyncio, uvloop) was measured, so there is no loop lag")
    limit = constraint(runs, "max_loop_lag_p99_ms")
    return _range_figure(
        runs, lambda t: t.loop_lag_p50_ms, lambda t: t.loop_lag_p99_ms, ("p50", "p99"),
        "event-loop lag (ms; how late the loop's heartbeat task ran)", "Event-loop lag",
        limit, f"p99 limit {fmt.ms(limit)}",
    )


def latency_figure(data: Runs) -> Figure:
    """Per-record latency p50 and p99 per configuration."""
    runs = as_runs(data)
    if not any(t.latency_p50_ms is not None or t.latency_p99_ms is not None
               for r in runs for t in r.results.ok_trials()):
        raise NoData("per-record latency was not recorded in any successful trial")
    return _range_figure(runs, lambda t: t.latency_p50_ms, lambda t: t.latency_p99_ms,
                         ("p50", "p99"), "per-record latency (ms)", "Per-record latency")


def connections_figure(data: Runs) -> Figure:
    """Peak open TCP connections vs concurrency per model (and DB-side, when known)."""
    runs = as_runs(data)
    peaks = [t.connections for r in runs for t in r.results.ok_trials() if t.connections is not None]
    if not peaks:
        raise NoData("open connections were not measured in any successful trial")
    if not any(peaks):
        raise NoData("no trial opened a TCP connection (every peak was 0)")
    axis = naxis(runs)
    fig = new_figure()
    ax = fig.add_subplot()
    top = 0.0
    server_side = False
    for ri, run in enumerate(runs):
        for model, cfgs in by_model(standings_of(run.results).configs).items():
            st = style(runs, ri, model)
            for get, dashed in ((lambda t: t.connections_peak, False),
                                (lambda t: t.db_connections_peak, True)):
                pts = [(axis.x(c.concurrency), c.peak(get), c.concurrency) for c in cfgs]
                pts = [p for p in pts if p[1] is not None]
                if not pts:
                    continue
                top = max(top, *(p[1] for p in pts))
                server_side |= dashed
                line = [(x, y) for x, y, n in pts if n > 0]
                if line:
                    ax.plot(*zip(*line, strict=True), color=st.colour, linewidth=1.2,
                            linestyle=":" if dashed else st.linestyle)
                ax.plot([p[0] for p in pts], [p[1] for p in pts], st.marker, color=st.colour,
                        markersize=5, markerfacecolor="white" if dashed else st.colour,
                        label=None if dashed else st.label)
    if server_side:  # one legend entry for every hollow marker, not one per model
        ax.plot([], [], "o", color=GREY, markerfacecolor="white", linestyle=":",
                label="hollow, dotted: DB server side")
    limit = constraint(runs, "max_connections")
    if limit is not None:
        ax.axhline(limit, color=BLACK, linestyle=(0, (4, 3)), linewidth=1,
                   label=f"--max-connections {fmt.count(limit)}")
        top = max(top, limit)
    axis.apply(ax)
    if top > 200:
        ax.set_yscale("symlog", linthresh=1)  # log from 1 up, 0 still has a place
        ax.set_yticks([0] + [m * 10**e for e in range(math.ceil(math.log10(top * 2)))
                             for m in (1, 2, 5) if m * 10**e <= top * 2])
        ax.yaxis.set_major_formatter(plain_numbers())
        ax.minorticks_off()
        ax.set_ylim(0, top * 2)  # headroom on a log scale, so the top marker is not cut
    else:
        ax.set_ylim(0, top * 1.08 + 1)
        integer_ticks(ax)
    ax.set_ylabel("peak open TCP connections (count)")
    legend_below(fig, ax)
    finish(ax, "Connections vs concurrency")
    return fig


def timeseries_picks(data: Runs) -> list[tuple[str, Run, int]]:
    """Which trials the time series shows: (legend label, run, trial index)."""
    runs = as_runs(data)
    picks: list[tuple[str, Run, int]] = []
    for run in runs:
        res = run.results
        s = standings_of(res)
        rec = s.find(res.recommendation.model, res.recommendation.concurrency) \
            if res.recommendation and res.recommendation.model else None
        chosen = rec or s.fastest_clean
        prefix = f"{run.label}: " if len(runs) > 1 else ""
        if chosen is not None:
            i = chosen.best_index
            kind = "recommended" if rec else "fastest"
            picks.append((f"{prefix}{kind} {chosen.label} (trial #{i})", run, i))
        worst = min(((t.throughput_rps, i) for i, t in enumerate(res.trials) if t.ok),
                    default=(0.0, None))[1]
        if len(runs) == 1 and worst is not None and (chosen is None or worst not in chosen.indices):
            t = res.trials[worst]
            picks.append((f"slowest {t.label} (trial #{worst})", run, worst))
    return [p for p in picks if p[1].results.samples_for(p[2])]


def timeseries_figure(data: Runs) -> Figure:
    """CPU and open connections over the timed window of the recommended and slowest trial;
    CPU alone when no connection was ever open (an all-zero panel says nothing)."""
    runs = as_runs(data)
    picks = timeseries_picks(runs)
    if not picks:
        raise NoData("no samples were recorded for the recommended or slowest trial")
    series = []
    for k, (label, run, i) in enumerate(picks):
        s = run.results.samples_for(i) or {}
        t_s = s.get("t_s") or []
        pts = {key: [(t, v) for t, v in zip(t_s, s.get(key) or [], strict=False) if v is not None]
               for key in ("cpu_util", "connections")}
        series.append((k, label, pts))
    any_conn = any(v for _, _, pts in series for _, v in pts["connections"])
    fig = new_figure((FIGSIZE[0], 5.2) if any_conn else FIGSIZE)
    axes = fig.subplots(2, 1, sharex=True) if any_conn else [fig.add_subplot()]
    ax_cpu = axes[0]
    colours = (BLUE, VERMILLION, GREEN, PURPLE)
    for k, label, pts in series:
        line = {"color": colours[k % len(colours)], "linewidth": 1.3,
                "linestyle": RUN_LINESTYLES[k % 2]}
        for ax, key in zip(axes, ("cpu_util", "connections"), strict=False):
            if pts[key]:
                ax.plot(*zip(*pts[key], strict=True), label=label, **line)
    for c in {r.results.environment.cpu_count for r in runs}:
        ax_cpu.axhline(c, color=GREY, linestyle=(0, (4, 3)), linewidth=1, label=f"{c} cores available")
    ax_cpu.set_ylim(bottom=0)
    ax_cpu.set_ylabel("CPU (cores busy)")
    axes[-1].set_xlabel("time since the timed window started (s)")
    if any_conn:
        ax_conn = axes[1]
        ax_conn.set_ylim(bottom=0)
        integer_ticks(ax_conn)
        ax_conn.set_ylabel("open TCP connections (count)")
        ax_cpu.set_xlabel("time (s)", fontsize=8)
        ax_cpu.tick_params(labelbottom=True)
        finish(ax_conn, "")
    legend_below(fig, ax_cpu)
    finish(ax_cpu, "CPU and connections over time" if any_conn
           else "CPU over time (no TCP connection was open)")
    return fig


@dataclass(frozen=True)
class PlotSpec:
    key: str  # also the PNG's file name stem
    title: str
    make: Callable[[Runs], Figure]
    caption: str


PLOTS: tuple[PlotSpec, ...] = (
    PlotSpec("throughput", "Throughput vs concurrency", throughput_figure,
             "Mean of the repeats per configuration; bars span the fastest and slowest repeat. "
             "Dotted: Universal Scalability Law fit; ★ its peak N*."),
    PlotSpec("cpu", "CPU utilisation", cpu_figure,
             "CPU seconds per wall second over the whole process tree (1.0 = one core busy)."),
    PlotSpec("decomposition", "Time decomposition", decomposition_figure,
             "Each worker's time split into running on a CPU, runnable but waiting for a core, "
             "and waiting on something else (I/O, locks, sleeps)."),
    PlotSpec("loop_lag", "Event-loop lag", loop_lag_figure,
             "How late the loop's heartbeat ran: a busy loop delays every ready task by this much."),
    PlotSpec("connections", "Connections", connections_figure,
             "Peak open TCP connections of the trial's process tree."),
    PlotSpec("latency", "Per-record latency", latency_figure,
             "Time to handle one record, timed inside the trial; ○ median, ▶ 99th percentile."),
    PlotSpec("timeseries", "CPU and connections over time", timeseries_figure,
             "Samples taken every ~50 ms from outside the trial process."),
)
