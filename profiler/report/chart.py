"""The throughput chart as inline SVG, for the HTML report: hover, focus or tap a point and
its values appear (as a tooltip and in a read-out line under the chart).

Pure Python, no matplotlib and no script library: the geometry is computed here into
view models the template only places (coordinates as strings). Two layouts are drawn, a
wide one and a narrow one for phones, so that text is about 12 px in both; CSS shows
the one that fits. The PNG of the same chart stays beside it for markdown and CI.

Same conventions as the PNG (`plots.throughput_figure`): concurrency on a log₂ axis with
"unbounded" at its own ∞ position, the mean of the repeats with their range as a bar,
the USL fit dotted over each model's measured range, N* in the legend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from profiler import format as fmt
from profiler.analysis.scaling import usl
from profiler.report.plotstyle import NAxis, Run, by_model, n_star_label, naxis, style, usl_span
from profiler.results import Config, Results, standings_of

USL_SAMPLES = 48
# Horizontal room, in px of the 12 px chart text (svg.chart text in base.html.j2): a digit
# or letter is at most about 7 px wide in the usual sans-serif faces, a comma, point or
# space about 3.5. The y-axis title is rotated with its baseline at Y_TITLE_X, so its
# glyphs reach Y_TITLE_DESCENT px right of it; tick labels end TICK_GAP px left of the axis
# (the template's `box[0] - 6`).
CHAR_PX, NARROW_CHAR_PX = 7.0, 3.5
Y_TITLE_X, Y_TITLE_DESCENT, TITLE_GAP, TICK_GAP = 12, 4, 4, 6


def text_px(text: str) -> float:
    """An upper estimate of the width of `text` in the chart's 12 px font."""
    return sum(NARROW_CHAR_PX if ch in ",. " else CHAR_PX for ch in text)


@dataclass(frozen=True)
class Tick:
    at: str  # pixel position along its axis
    label: str
    second: str = ""  # a second line ("unbounded" under "∞")


@dataclass(frozen=True)
class Point:
    x: str
    y: str
    marker: str  # SVG path data of the marker, centred on (x, y)
    colour: str
    bar: str  # SVG path of the repeats' range ("" for one repeat)
    readout: str  # what hovering, focusing or tapping the point shows


@dataclass(frozen=True)
class Line:
    d: str  # SVG path data
    colour: str
    dashed: bool


@dataclass(frozen=True)
class Layout:
    """One drawing of the chart at one size (view box width × height, in px)."""

    css: str  # "wide" or "narrow"
    width: int
    height: int
    box: tuple[str, str, str, str]  # plot area: left, top, right, bottom
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    lines: tuple[Line, ...]
    points: tuple[Point, ...]
    split: str  # x of the dotted line before "unbounded" ("" without it)
    x_label: str
    y_label: str
    label_x: str  # where the axis titles go
    label_y: str
    y_title_x: str = "12"  # the rotated y-axis title's baseline, left of the tick labels


@dataclass(frozen=True)
class LegendItem:
    label: str
    colour: str
    marker: str  # SVG path data centred on (0, 0)


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    layouts: tuple[Layout, ...]
    legend: tuple[LegendItem, ...]
    hint: str


# --- geometry ------------------------------------------------------------------------------

SHAPES = ("circle", "square", "triangle", "diamond", "down", "plus", "cross", "star")
MARKER_SHAPE = {"o": "circle", "s": "square", "^": "triangle", "D": "diamond", "v": "down",
                "P": "plus", "X": "cross", "*": "star"}


def marker_path(shape: str, x: float, y: float, r: float = 4.5) -> str:
    """SVG path data for one marker centred on (x, y)."""
    if shape == "square":
        return f"M{x - r:.1f},{y - r:.1f}h{2 * r:.1f}v{2 * r:.1f}h{-2 * r:.1f}z"
    if shape in ("triangle", "down"):
        s = 1 if shape == "triangle" else -1
        return (f"M{x:.1f},{y - s * r * 1.15:.1f}L{x + r * 1.1:.1f},{y + s * r * 0.8:.1f}"
                f"L{x - r * 1.1:.1f},{y + s * r * 0.8:.1f}z")
    if shape == "diamond":
        return f"M{x:.1f},{y - r * 1.2:.1f}L{x + r:.1f},{y:.1f}L{x:.1f},{y + r * 1.2:.1f}L{x - r:.1f},{y:.1f}z"
    if shape == "star":
        pts = []
        for k in range(10):
            rad = r * (1.25 if k % 2 == 0 else 0.55)
            angle = math.pi / 2 + k * math.pi / 5
            pts.append(f"{x + rad * math.cos(angle):.1f},{y - rad * math.sin(angle):.1f}")
        return "M" + "L".join(pts) + "z"
    if shape in ("plus", "cross"):
        w = r * 0.45
        return (f"M{x - w:.1f},{y - r:.1f}h{2 * w:.1f}v{r - w:.1f}h{r - w:.1f}v{2 * w:.1f}"
                f"h{w - r:.1f}v{r - w:.1f}h{-2 * w:.1f}v{w - r:.1f}h{w - r:.1f}v{-2 * w:.1f}"
                f"h{r - w:.1f}z")
    return (f"M{x - r:.1f},{y:.1f}a{r:.1f},{r:.1f} 0 1,0 {2 * r:.1f},0"
            f"a{r:.1f},{r:.1f} 0 1,0 {-2 * r:.1f},0z")


def nice_top(value: float) -> tuple[float, float]:
    """An axis top at or above `value` and a tick step of 1, 2 or 5 × 10^k (about 5 ticks)."""
    if value <= 0:
        return 1.0, 0.2
    raw = value / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return math.ceil(value / step) * step, step


@dataclass(frozen=True)
class _Frame:
    """Data → pixels for one layout."""

    left: float
    top: float
    right: float
    bottom: float
    axis: NAxis
    y_max: float

    def x(self, n: float) -> float:
        lo, hi = (math.log2(v) for v in self.axis.limits)
        return self.left + (math.log2(n) - lo) / (hi - lo) * (self.right - self.left)

    def y(self, v: float) -> float:
        return self.bottom - v / self.y_max * (self.bottom - self.top)


def _readout(c: Config) -> str:
    runs = c.throughputs
    text = f"{c.label}: {fmt.rps(c.throughput_rps)}"
    if len(runs) > 1:
        text += f" (mean of {len(runs)} runs, {fmt.rate(min(runs))}–{fmt.rate(max(runs))})"
    extras = [f"CPU {fmt.cores(cpu)}" for cpu in [c.mean_of("cpu_util")] if cpu is not None]
    if (conns := c.connections) is not None:
        extras.append(f"{fmt.count(conns)} connections peak")
    if (lag := c.peak("loop_lag_p99_ms")) is not None:
        extras.append(f"loop lag p99 {fmt.ms(lag)}")
    if c.errors:
        extras.append(f"{fmt.count(c.errors)} errors")
    return text + ("; " + "; ".join(extras) if extras else "")


def _layout(css: str, size: tuple[int, int], margins: tuple[int, int, int, int], axis: NAxis,
            results: Results, max_ticks: int) -> Layout:
    runs = [Run("", results)]
    models = by_model(standings_of(results).configs)
    scaling = results.scaling or {}
    tops = [max(t.throughput_rps for t in c.trials) for cfgs in models.values() for c in cfgs]
    curves: dict[str, list[tuple[float, float]]] = {}
    for model, cfgs in models.items():
        fit, span = scaling.get(model), usl_span(cfgs)
        if fit is not None and fit.ok and span is not None:
            ns = [span[0] * (span[1] / span[0]) ** (i / (USL_SAMPLES - 1)) for i in range(USL_SAMPLES)]
            curves[model] = [(n, float(usl(n, fit.lambda_rps, fit.sigma, fit.kappa))) for n in ns]
            tops += [v for _, v in curves[model]]
    y_max, y_step = nice_top(max(tops, default=1.0) * 1.05)
    y_values = [k * y_step for k in range(int(round(y_max / y_step)) + 1)]
    y_labels = [fmt.rate(v) for v in y_values]
    # The plot starts right of the widest tick label, which starts right of the y-axis title:
    # "12,000" must not run into "records/s" (issue 25).
    widest = max((text_px(label) for label in y_labels), default=0.0)
    left = max(margins[0], math.ceil(Y_TITLE_X + Y_TITLE_DESCENT + TITLE_GAP + widest + TICK_GAP))
    top, right, bottom = margins[1], size[0] - margins[2], size[1] - margins[3]
    f = _Frame(left, top, right, bottom, axis, y_max)
    lines, points = [], []
    for model, cfgs in models.items():
        st = style(runs, 0, model)
        shape = MARKER_SHAPE.get(st.marker, "circle")
        if model in curves:
            d = "M" + "L".join(f"{f.x(n):.1f},{f.y(v):.1f}" for n, v in curves[model])
            lines.append(Line(d, st.colour, True))
            fit, lo_n, hi_n = scaling[model], curves[model][0][0], curves[model][-1][0]
            n_star = fit.n_star
            if n_star is not None and lo_n <= n_star <= hi_n:
                v = float(usl(n_star, fit.lambda_rps, fit.sigma, fit.kappa))
                x, y = f.x(n_star), f.y(v)
                points.append(Point(f"{x:.1f}", f"{y:.1f}", marker_path("star", x, y, 5.5), st.colour,
                                    "", f"{model}: the USL fit peaks at N*≈{fmt.sig(n_star, 2)}, "
                                        f"{fmt.rps(v)}"))
        finite = [c for c in cfgs if c.concurrency > 0]
        if len(finite) > 1:
            d = "M" + "L".join(f"{f.x(c.concurrency):.1f},{f.y(c.throughput_rps):.1f}" for c in finite)
            lines.append(Line(d, st.colour, False))
        for c in cfgs:
            x, y = f.x(axis.x(c.concurrency)), f.y(c.throughput_rps)
            low, high = min(c.throughputs), max(c.throughputs)
            bar = (f"M{x:.1f},{f.y(low):.1f}V{f.y(high):.1f}M{x - 3:.1f},{f.y(low):.1f}h6"
                   f"M{x - 3:.1f},{f.y(high):.1f}h6") if high > low else ""
            points.append(Point(f"{x:.1f}", f"{y:.1f}", marker_path(shape, x, y), st.colour, bar,
                                _readout(c)))
    x_ticks = tuple(Tick(f"{f.x(at):.1f}", *label.split("\n", 1)) for at, label in axis.ticks(max_ticks))
    y_ticks = tuple(Tick(f"{f.y(v):.1f}", label) for v, label in zip(y_values, y_labels, strict=True))
    split = f"{f.x(axis.split):.1f}" if axis.split is not None else ""
    return Layout(css, size[0], size[1], (f"{left}", f"{top}", f"{right}", f"{bottom}"),
                  x_ticks, y_ticks, tuple(lines), tuple(points), split,
                  "concurrency N (log₂ scale)", "records/s",
                  f"{(left + right) / 2:.1f}", f"{(top + bottom) / 2:.1f}", f"{Y_TITLE_X}")


def throughput_chart(results: Results) -> Chart | None:
    """The chart of a single run; None when no trial finished (the PNG's note says why)."""
    configs = standings_of(results).configs
    if not configs:
        return None
    runs = [Run("", results)]
    axis = naxis(runs)
    legend = []
    for model, cfgs in by_model(configs).items():
        st = style(runs, 0, model)
        fit, span = (results.scaling or {}).get(model), usl_span(cfgs)
        extra = n_star_label(fit.n_star, span) if fit is not None and fit.ok and span else ""
        legend.append(LegendItem(st.label + extra, st.colour,
                                 marker_path(MARKER_SHAPE.get(st.marker, "circle"), 0, 0)))
    layouts = (
        _layout("wide", (720, 380), (58, 34, 18, 52), axis, results, max_ticks=9),
        _layout("narrow", (360, 320), (50, 32, 12, 50), axis, results, max_ticks=5),
    )
    return Chart("chart-throughput", "Throughput vs concurrency", layouts, tuple(legend),
                 "Hover, focus or tap a point to read its values.")
