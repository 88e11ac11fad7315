"""Each plot function, checked through matplotlib's objects (labels, artists), not pixels."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from profiler.analysis.standings import table
from profiler.report.plots import (
    PLOTS,
    NoData,
    Run,
    cpu_figure,
    loop_lag_figure,
    throughput_figure,
    timeseries_figure,
)
from profiler.results import ScalingFit
from tests.report_fixtures import make_compare_run, make_results


def _pair():
    return [Run("baseline", make_compare_run([300, 310, 320], lag99=4.0, model="asyncio")),
            Run("candidate", make_compare_run([400, 410, 420], conns=40, lag99=9.0, model="uvloop"))]


def _has_data(ax) -> bool:
    return bool(ax.lines or ax.patches or ax.collections)


def legend_texts(fig) -> list[str]:
    """The legend's entries: figure-level, below the axes, so it never covers data."""
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


@pytest.mark.parametrize("spec", PLOTS, ids=lambda s: s.key)
@pytest.mark.parametrize("data", ["single", "compare"])
def test_every_plot_has_data_and_labelled_axes(spec, data):
    fig = spec.make(make_results() if data == "single" else _pair())
    assert isinstance(fig, Figure) and fig.axes
    for ax in fig.axes:
        assert _has_data(ax) or ax.texts, f"{spec.key}: empty axes"
        assert ax.get_xlabel().strip(), f"{spec.key}: no x label"
        assert ax.get_ylabel().strip(), f"{spec.key}: no y label"
    labels = " ".join(ax.get_xlabel() + ax.get_ylabel() for ax in fig.axes)
    assert "(" in labels, f"{spec.key}: axis labels carry no unit"


def test_compare_plots_name_both_runs_in_the_legend():
    fig = throughput_figure(_pair())
    texts = legend_texts(fig)
    assert any(t.startswith("baseline") for t in texts)
    assert any(t.startswith("candidate") for t in texts)


def test_unbounded_is_drawn_right_of_every_finite_concurrency_on_a_log2_axis():
    ax = throughput_figure(make_results()).axes[0]
    assert ax.get_xscale() == "log"
    ticks = dict(zip([t.get_text() for t in ax.get_xticklabels()], ax.get_xticks(), strict=True))
    inf_x = next(x for label, x in ticks.items() if label.startswith("∞"))
    assert inf_x > 16
    xs = [x for line in ax.lines for x in line.get_xdata()]
    assert 0 not in xs
    assert inf_x in xs  # the asyncio × unbounded point


def test_throughput_draws_the_usl_curve_and_marks_n_star():
    results = make_results()
    results.scaling["threads"].n_star = 12.0
    fig = throughput_figure(results)
    ax = fig.axes[0]
    assert any(line.get_label() == "USL fit (dotted)" for line in ax.lines)
    stars = [line for line in ax.lines if line.get_marker() == "*"]
    assert len(stars) == 1 and stars[0].get_xdata()[0] == 12.0
    assert not ax.texts  # N* is named in the legend, never as text over the data
    assert "threads · peak N*≈12" in legend_texts(fig)


@pytest.mark.parametrize("scaling", [None, {}, {"threads": ScalingFit("ok", 50.0, None, 0.1)},
                                     {"threads": ScalingFit("fit failed")}])
def test_throughput_without_a_usable_fit_has_no_curve(scaling):
    results = make_results()
    results.scaling = scaling
    ax = throughput_figure(results).axes[0]
    assert not any(line.get_linestyle() == ":" for line in ax.lines)


def test_cpu_plot_shows_the_core_count():
    ax = cpu_figure(make_results()).axes[0]
    lines = [line for line in ax.lines if isinstance(line, Line2D) and "cores available" in line.get_label()]
    assert len(lines) == 1 and set(lines[0].get_ydata()) == {2}


def test_loop_lag_without_loop_models_is_no_data():
    results = make_results()
    results.trials = [t for t in results.trials if t.model not in ("asyncio", "uvloop")]
    with pytest.raises(NoData, match="no event-loop model"):
        loop_lag_figure(results)


def test_timeseries_shows_recommended_and_slowest_trial():
    ax = timeseries_figure(make_results()).axes[0]
    labels = [line.get_label() for line in ax.lines]
    assert any(label.startswith("recommended threads×8") for label in labels)
    assert any(label.startswith("slowest sequential (trial #0)") for label in labels)


@pytest.mark.parametrize("spec", PLOTS, ids=lambda s: s.key)
def test_no_successful_trial_means_no_data_for_every_plot(spec):
    results = make_results(verdict=False)
    for t in results.trials:
        t.status = "crashed"
    table(results)
    with pytest.raises(NoData):
        spec.make(results)


def _drawn(fig: Figure) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    return fig


def _wide_n_star_results():
    """The layout that used to cut "N*≈354" at the right edge: a peak far right of the data."""
    results = make_results()
    results.scaling["threads"].n_star = 354.0
    results.scaling["threads"].kappa = 0.000001
    return results


@pytest.mark.parametrize("spec", PLOTS, ids=lambda s: s.key)
@pytest.mark.parametrize("data", ["single", "compare", "far-n-star"])
def test_every_text_lies_inside_the_image_and_the_legend_off_the_data(spec, data):
    made = {"single": make_results, "compare": _pair, "far-n-star": _wide_n_star_results}[data]()
    fig = _drawn(spec.make(made))
    drawn = fig.get_tightbbox(fig.canvas.get_renderer())  # everything drawn, in inches
    size = fig.bbox_inches
    tolerance = 0.01
    assert (drawn.x0 >= size.x0 - tolerance and drawn.y0 >= size.y0 - tolerance
            and drawn.x1 <= size.x1 + tolerance and drawn.y1 <= size.y1 + tolerance), \
        f"{spec.key}: something is drawn outside the image: {drawn} vs {size}"
    for legend in fig.legends:
        for ax in fig.axes:
            assert not legend.get_window_extent().overlaps(ax.get_window_extent()), \
                f"{spec.key}: the legend overlaps the plot area"


def test_n_star_outside_the_measured_range_is_named_not_drawn():
    fig = throughput_figure(_wide_n_star_results())
    assert "threads · peak N*≈354 (outside N=2–16)" in legend_texts(fig)
    assert not [line for line in fig.axes[0].lines if line.get_marker() == "*"]


def test_usl_curves_cover_only_each_models_measured_range():
    results = make_results()
    results.scaling["asyncio"] = ScalingFit("ok", 40.0, 0.02, 0.0001, 70.0, 0.99)
    ax = throughput_figure(results).axes[0]
    curves = [line for line in ax.lines if line.get_linestyle() == ":"]
    spans = sorted((round(min(c.get_xdata()), 6), round(max(c.get_xdata()), 6)) for c in curves)
    # threads was measured at 2..16 (its fit's N=1 point is sequential's); asyncio at 8 only
    # (unbounded is not on the finite axis): one point, no curve.
    assert spans == [(2.0, 16.0)]


def test_connections_that_are_all_zero_are_not_drawn_as_a_flat_line():
    from profiler.report.plots import connections_figure

    results = make_results()
    for t in results.trials:
        t.connections_peak = 0 if t.ok else None
    with pytest.raises(NoData, match="no trial opened a TCP connection"):
        connections_figure(results)


def test_small_connection_counts_get_whole_number_ticks():
    from profiler.report.plots import connections_figure

    results = make_results()
    for t in results.trials:
        if t.ok:
            t.connections_peak = 1
    ax = _drawn(connections_figure(results)).axes[0]
    assert all(float(tick).is_integer() for tick in ax.get_yticks())
