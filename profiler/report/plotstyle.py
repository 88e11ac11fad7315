"""What every report plot shares: Okabe–Ito colours, markers per model, the concurrency
axis (log₂, with "unbounded" at its own ∞ position), figure size and the `Run` / `NoData`
types. Single-run plots colour by model; compare plots colour by run (blue baseline,
vermillion candidate) and keep the marker per model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from profiler import format as fmt
from profiler.models import MODELS
from profiler.results import Config, Results, Trial, standings_of

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

# matplotlib is imported where a figure is drawn, not here: the interactive chart, the
# markdown summary and the gate's outputs share these conventions, and a run without a
# report (or `concur gate --json -`) should not pay ~0.4 s to import it.

FIGSIZE = (7.0, 4.0)
DPI = 200  # 1400 × 800 px: sharp on a 2× laptop screen and on paper

# Okabe & Ito (2008), safe for the common colour-vision deficiencies.
BLACK, ORANGE, SKY, GREEN, YELLOW, BLUE, VERMILLION, PURPLE = (
    "#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
)
GREY = "#999999"
MODEL_COLOURS = (BLACK, BLUE, GREEN, PURPLE, VERMILLION, ORANGE, SKY, YELLOW)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
RUN_COLOURS = (BLUE, VERMILLION)
RUN_LINESTYLES = ("-", "--")
CONCURRENCY_LABEL = "concurrency N (workers or records in flight, log₂ scale)"


def plain_numbers() -> FuncFormatter:
    """Log axes read as 1, 10, 100 rather than 10⁰, 10¹, 10²."""
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _pos: f"{value:,.10g}")


class NoData(Exception):
    """This plot has nothing to show; `str(exc)` says why, in one line."""


@dataclass(frozen=True)
class Run:
    """One results file on a plot, with the name the legend gives it."""

    label: str
    results: Results


Runs = Results | Sequence[Run]


def as_runs(data: Runs) -> list[Run]:
    return [Run("", data)] if isinstance(data, Results) else list(data)


# --- styling -----------------------------------------------------------------------------

def model_index(model: str) -> int:
    """The model's place in the registry: its colour and marker, the same in every plot."""
    order = list(MODELS)
    if model in order:
        return order.index(model)
    return len(order) + sum(map(ord, model))  # stable across runs, unlike hash()


def model_rank(model: str) -> tuple[int, str]:
    return (model_index(model), model)


@dataclass(frozen=True)
class Style:
    colour: str
    marker: str
    linestyle: str
    label: str


def style(runs: list[Run], run_i: int, model: str) -> Style:
    marker = MARKERS[model_index(model) % len(MARKERS)]
    if len(runs) == 1:
        return Style(MODEL_COLOURS[model_index(model) % len(MODEL_COLOURS)], marker, "-", model)
    return Style(RUN_COLOURS[run_i % 2], marker, RUN_LINESTYLES[run_i % 2],
                  f"{runs[run_i].label} · {model}")


def row_label(runs: list[Run], run_i: int, model: str, n: int) -> str:
    base = fmt.config(model, n)
    return base if len(runs) == 1 else f"{runs[run_i].label} · {base}"


def new_figure(size: tuple[float, float] = FIGSIZE) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    return fig


def finish(ax: Axes, title: str) -> None:
    ax.set_title(title, fontsize=11, loc="left")
    ax.grid(True, which="major", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)


def legend_below(fig: Figure, ax: Axes, handles: Sequence[object] | None = None) -> None:
    """The legend under the axes, never over the data (constrained layout makes room)."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    else:
        labels = [h.get_label() for h in handles]  # type: ignore[attr-defined]
    if not handles:
        return
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(handles), 3),
               fontsize=8, frameon=False)


def integer_ticks(ax: Axes) -> None:
    """Counts are whole numbers: no 0.2, 0.4 ticks on a small axis."""
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


# --- the concurrency axis ----------------------------------------------------------------

@dataclass(frozen=True)
class NAxis:
    """Maps concurrency to x: finite N as itself on a log₂ axis, 0 (unbounded) to ∞_at."""

    max_finite: int
    has_unbounded: bool

    @property
    def inf_at(self) -> float:
        return float(2 ** (math.ceil(math.log2(max(self.max_finite, 1))) + 1))

    def x(self, n: int) -> float:
        return self.inf_at if n == 0 else float(n)

    def ticks(self, max_ticks: int = 9) -> list[tuple[float, str]]:
        """(x, label): powers of two up to the largest N, then "∞ unbounded" when measured."""
        exps = list(range(0, math.ceil(math.log2(max(self.max_finite, 1))) + 1))
        step = max(1, math.ceil(len(exps) / max_ticks))
        out = [(2.0**e, str(2**e)) for e in exps[::step]]
        if self.has_unbounded:
            out.append((self.inf_at, "∞\nunbounded"))
        return out

    @property
    def limits(self) -> tuple[float, float]:
        right = self.inf_at if self.has_unbounded else max(self.max_finite, 1)
        return 0.7, right * 1.4

    @property
    def split(self) -> float | None:
        """Where the dotted line between finite N and "unbounded" goes (None without it)."""
        return math.sqrt(self.inf_at * max(self.max_finite, 1)) if self.has_unbounded else None

    def apply(self, ax: Axes) -> None:
        ax.set_xscale("log", base=2)
        if self.split is not None:
            ax.axvline(self.split, color=GREY, linewidth=0.8, linestyle=(0, (1, 2)))
        ticks = self.ticks()
        ax.set_xticks([t for t, _ in ticks], [label for _, label in ticks])
        ax.minorticks_off()
        ax.set_xlim(*self.limits)
        ax.set_xlabel(CONCURRENCY_LABEL)


def naxis(runs: list[Run], trials: Callable[[Results], list[Trial]] | None = None) -> NAxis:
    ns = [t.concurrency for r in runs for t in (trials(r.results) if trials else r.results.trials)]
    finite = [n for n in ns if n > 0]
    return NAxis(max(finite, default=1), any(n == 0 for n in ns))


def by_model(configs: list[Config]) -> dict[str, list[Config]]:
    out: dict[str, list[Config]] = {}
    for c in sorted(configs, key=lambda c: (model_rank(c.model), c.concurrency == 0, c.concurrency)):
        out.setdefault(c.model, []).append(c)
    return out


def config_rows(runs: list[Run], keep: Callable[[Config], bool]) -> list[tuple[int, Config]]:
    rows = []
    for ri, run in enumerate(runs):
        rows += [(ri, c) for c in standings_of(run.results).configs if keep(c)]
    rows.sort(key=lambda r: (model_rank(r[1].model), r[1].concurrency == 0, r[1].concurrency, r[0]))
    return rows


def row_height(n: int) -> tuple[float, float]:
    return (FIGSIZE[0], max(2.6, 0.3 * n + 1.3))


def constraint(runs: list[Run], key: str) -> float | None:
    for run in runs:
        rec = run.results.recommendation
        value = getattr(rec.constraints, key) if rec else None
        if value is not None:
            return float(value)
    return None


def usl_span(cfgs: list[Config]) -> tuple[int, int] | None:
    """The finite N one model was measured at, lowest to highest: the only range its fitted
    curve is drawn over (a pool's N=1 taken from sequential is the fit's, not a measurement)."""
    finite = sorted(c.concurrency for c in cfgs if c.concurrency > 0)
    return (finite[0], finite[-1]) if len(finite) >= 2 and finite[0] < finite[-1] else None


def n_star_label(n_star: float | None, span: tuple[int, int]) -> str:
    """` · peak N*≈12` in the legend (never as text over the data), saying when the peak lies
    outside the measured range."""
    if n_star is None or not math.isfinite(n_star) or n_star <= 0:
        return ""
    text = f" · peak N*≈{fmt.sig(n_star, 2)}"
    return text if span[0] <= n_star <= span[1] else text + f" (outside N={span[0]}–{span[1]})"
