"""The one noise judge (`profiler.stats`): what the gate, compare and prediction all use."""

from __future__ import annotations

import math
import statistics

import pytest

from profiler.stats import coefficient_of_variation, compare, mean_interval, percentile


def test_percentiles_interpolate_between_ranks():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([3.0], 99) == 3.0
    assert percentile([5.0, 1.0], 0) == 1.0 and percentile([5.0, 1.0], 100) == 5.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_coefficient_of_variation_needs_two_values_and_a_mean():
    assert coefficient_of_variation([1.0]) is None
    assert coefficient_of_variation([0.0, 0.0]) is None
    assert coefficient_of_variation([90.0, 110.0]) == pytest.approx(statistics.stdev([90, 110]) / 100)


def test_mean_interval_is_students_t():
    low, high = mean_interval([90.0, 100.0, 110.0])
    half = 4.302652729911275 * 10.0 / math.sqrt(3)
    assert (low, high) == pytest.approx((100 - half, 100 + half))
    assert mean_interval([1.0]) is None


def test_a_clear_difference_is_significant_and_its_interval_holds_the_ratio():
    judged = compare([300.0, 305.0, 310.0], [450.0, 455.0, 460.0])
    assert judged.significant
    assert judged.low < 455 / 305 < judged.high
    assert judged.best_case() == judged.high and judged.best_case(higher_is_better=False) == judged.low


def test_a_small_difference_inside_wide_repeats_is_noise():
    judged = compare([250.0, 300.0, 350.0], [252.5, 303.0, 353.5])
    assert judged.significant is False


def test_two_repeats_a_side_are_judged_too():
    assert compare([300.0, 320.0], [310.0, 330.0]).significant is False
    assert compare([300.0, 305.0], [330.0, 335.0]).significant is True


def test_one_repeat_on_a_side_measures_no_noise():
    judged = compare([300.0], [400.0, 410.0])
    assert not judged.measured and judged.significant is None
    assert judged.ratio == pytest.approx(405 / 300)
    assert judged.best_case() == judged.ratio
    assert "noise is unknown" in judged.method


def test_identical_repeats_do_not_divide_by_zero():
    assert compare([8.0, 8.0, 8.0], [8.0, 8.0, 8.0]).significant is False
    assert compare([8.0, 8.0, 8.0], [400.0, 400.0, 400.0]).significant is True


def test_a_side_that_measured_nothing_is_compared_without_a_log_scale():
    judged = compare([0.0, 0.0], [5.0, 6.0])
    assert judged.ratio == math.inf and judged.significant is True


def test_single_spread_is_two_standard_deviations_of_one_measurement():
    from profiler.stats import single_spread

    assert single_spread([0.4]) is None
    assert single_spread([0.34, 0.40, 0.46]) == pytest.approx(0.12)


def test_a_comparison_is_settled_when_significant_or_equivalent_within_the_margin():
    from profiler.stats import compare

    apart = compare([100, 101, 99], [120, 121, 119])
    same = compare([100.0, 100.2, 99.8], [100.1, 99.9, 100.0])
    unsure = compare([100, 110, 90], [104, 114, 94])
    once = compare([100], [104, 105])
    assert apart.settled(0.05) and apart.equivalent(0.05) is False
    assert same.settled(0.05) and same.equivalent(0.05) is True
    assert not unsure.settled(0.05)
    assert once.equivalent(0.05) is None and not once.settled(0.05)


def test_the_t_quantiles_match_scipy():
    """The 95 % table within half a percent; any other confidence computed, to 1e-9."""
    from scipy.stats import t

    from profiler.stats import _t

    for df in [1, 1.05, 1.36, 1.77, 2, 2.4, 3, 3.7, 5.5, 9, 14.2, 29, 33, 47.5, 90, 150, 1000, 1e6]:
        assert _t(0.95, df) == pytest.approx(float(t.ppf(0.975, df)), rel=0.005), df
    for confidence, df in ((0.90, 7), (0.99, 2.5), (0.5, 0.7), (0.999, 40)):  # no table: computed
        assert _t(confidence, df) == pytest.approx(float(t.ppf((1 + confidence) / 2, df)), rel=1e-9)


def test_other_confidences_need_no_scipy():
    """scipy is not installed with concur (the USL fit and every interval use numpy or the
    standard library); the values are scipy's t.ppf, written down."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['scipy'] = None\n"
            "from profiler.stats import _t\n"
            "print(repr(_t(0.90, 7)), repr(_t(0.99, 2.5)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    ninety, ninety_nine = map(float, out.stdout.split())
    assert ninety == pytest.approx(1.8945786050900062, rel=1e-9)
    assert ninety_nine == pytest.approx(7.163728138948783, rel=1e-9)


def test_the_sweep_never_imports_scipy():
    """Its noise judgements run between trials, inside the budget: scipy's import costs
    1-3 s on a busy machine."""
    import subprocess
    import sys

    code = ("import sys; from profiler.stats import compare; from profiler.run.sweep import Sweep; "
            "compare([1.0, 1.2], [1.5, 1.1]); compare([1.0, 1.2, 1.1], [1.5, 1.1, 1.4]); "
            "print('scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
