"""Each plot function, checked through matplotlib's objects (labels, artists), not pixels."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

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
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
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
    ax = throughput_figure(results).axes[0]
    assert any(line.get_label() == "USL fit (dotted)" for line in ax.lines)
    stars = [line for line in ax.lines if line.get_marker() == "*"]
    assert len(stars) == 1 and stars[0].get_xdata()[0] == 12.0
    assert any("N*" in t.get_text() for t in ax.texts)


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
    with pytest.raises(NoData):
        spec.make(results)
