"""USL fits: recover known σ and κ, refuse to fit too few points, anchor on sequential."""

from __future__ import annotations

import math

import pytest

from profiler.analysis.scaling import fit_scaling, fit_usl, usl
from profiler.results import ScalingPoint
from tests.factory import make_results, make_trial

NS = (1, 2, 4, 8, 16, 32, 64)


def curve(model: str, sigma: float, kappa: float, lam: float = 100.0, ns=NS):
    return [make_trial(model, n, throughput_rps=usl(n, lam, sigma, kappa)) for n in ns]


def close(actual: float, expected: float) -> bool:
    return abs(actual - expected) <= (0.005 if expected == 0 else 0.10 * expected)


@pytest.mark.parametrize(("sigma", "kappa"), [(0.05, 0.002), (0.3, 0.0), (0.0, 0.0005), (0.02, 0.0)])
def test_usl_fit_recovers_known_sigma_and_kappa(sigma, kappa):
    fit = fit_scaling(make_results(*curve("threads", sigma, kappa)))["threads"]
    assert fit.status == "ok"
    assert close(fit.sigma, sigma), fit
    assert close(fit.kappa, kappa), fit
    assert fit.lambda_rps == pytest.approx(100.0, rel=0.05)
    assert fit.r2 > 0.999


def test_peak_concurrency_follows_from_sigma_and_kappa():
    fit = fit_scaling(make_results(*curve("threads", 0.05, 0.002)))["threads"]
    assert fit.n_star == pytest.approx(math.sqrt(0.95 / 0.002), rel=0.10)
    assert "peak near N ≈ 22" in fit.message


def test_zero_kappa_has_no_peak_within_range():
    fit = fit_scaling(make_results(*curve("processes", 0.3, 0.0)))["processes"]
    assert fit.n_star is None
    assert "no peak within range" in fit.message


def test_two_points_are_not_enough_to_fit():
    fit = fit_scaling(make_results(*curve("asyncio", 0.05, 0.002, ns=(1, 4))))["asyncio"]
    assert fit.status == "not enough points"
    assert fit.sigma is None and fit.kappa is None and fit.n_star is None
    assert "N = 1, 4" in fit.message


def test_sequential_anchors_n1_for_pool_models_without_their_own():
    trials = [make_trial("sequential", 1, throughput_rps=100.0)] + curve("threads", 0.05, 0.002, ns=(2, 4))
    fit = fit_scaling(make_results(*trials))["threads"]
    assert fit.status == "ok"
    assert fit.points[0] == ScalingPoint(1, 100.0, repeats=1, from_sequential=True)
    assert "3 points for 3 parameters" in fit.message


def test_own_n1_point_is_used_instead_of_the_sequential_anchor():
    trials = [make_trial("sequential", 1, throughput_rps=50.0)] + curve("threads", 0.05, 0.002, ns=(1, 2, 4))
    points = fit_scaling(make_results(*trials))["threads"].points
    assert [p.from_sequential for p in points] == [False, False, False]
    assert points[0].throughput_rps == pytest.approx(100.0)


def test_asyncio_is_not_anchored_on_sequential():
    trials = [make_trial("sequential", 1, throughput_rps=100.0)] + curve("asyncio", 0.05, 0.002, ns=(2, 4))
    assert fit_scaling(make_results(*trials))["asyncio"].status == "not enough points"


def test_unbounded_concurrency_is_not_a_point():
    trials = curve("asyncio", 0.05, 0.002, ns=(8, 16)) + [make_trial("asyncio", 0, throughput_rps=50.0)]
    fit = fit_scaling(make_results(*trials))["asyncio"]
    assert [p.concurrency for p in fit.points] == [8, 16]


def test_repeats_are_averaged_into_one_point_per_n():
    trials = []
    for n in NS:
        x = usl(n, 100.0, 0.05, 0.002)
        trials += [make_trial("threads", n, throughput_rps=x * 0.9, repeat=0),
                   make_trial("threads", n, throughput_rps=x * 1.1, repeat=1)]
    fit = fit_scaling(make_results(*trials))["threads"]
    assert len(fit.points) == len(NS)
    assert all(p.repeats == 2 for p in fit.points)
    assert close(fit.sigma, 0.05) and close(fit.kappa, 0.002)


def test_crashed_trials_are_not_points():
    trials = curve("threads", 0.05, 0.002, ns=(1, 2)) + [make_trial("threads", 4, status="crashed")]
    assert fit_scaling(make_results(*trials))["threads"].status == "not enough points"


def test_sequential_gets_no_curve_of_its_own():
    section = fit_scaling(make_results(make_trial("sequential", 1), *curve("threads", 0.1, 0.0)))
    assert set(section) == {"threads"}


def test_the_fitted_curve_predicts_the_measured_and_the_unmeasured_n():
    fit = fit_scaling(make_results(*curve("threads", 0.05, 0.002)))["threads"]
    assert fit.ok
    assert usl(16, fit.lambda_rps, fit.sigma, fit.kappa) == pytest.approx(usl(16, 100.0, 0.05, 0.002), rel=0.01)
    assert usl(128, fit.lambda_rps, fit.sigma, fit.kappa) == pytest.approx(usl(128, 100.0, 0.05, 0.002), rel=0.05)


def test_no_points_is_no_fit():
    assert not fit_usl([]).ok


def test_all_zero_throughput_is_a_failed_fit_not_a_curve():
    points = [ScalingPoint(n, 0.0) for n in (1, 2, 4)]
    fit = fit_usl(points)
    assert fit.status == "fit failed"
    assert fit.sigma is None


def test_only_unbounded_runs_say_why_there_is_no_curve():
    fit = fit_scaling(make_results(make_trial("asyncio", 0, throughput_rps=50.0)))["asyncio"]
    assert fit.status == "not enough points"
    assert fit.points == []
    assert "unbounded runs (N = 0) have no place on the curve" in fit.message


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_noisy_fit_is_the_curve_closest_to_the_points(seed):
    """The fit uses numpy alone (no optimiser library): on noisy points it must still be the
    least-squares curve, no farther from the points than the best of a fine grid over σ and
    κ (each with its own best λ, which is linear)."""
    import random

    import numpy as np

    rng = random.Random(seed)
    n = np.array([1, 2, 4, 8, 16, 32], dtype=float)
    x = np.array([usl(k, 100.0, 0.1, 0.003) * (1 + rng.gauss(0, 0.15)) for k in n])
    fit = fit_usl([ScalingPoint(int(k), float(v)) for k, v in zip(n, x, strict=True)])
    assert fit.ok
    fit_sse = float(np.sum((x - usl(n, fit.lambda_rps, fit.sigma, fit.kappa)) ** 2))
    sigma, kappa = np.meshgrid(np.linspace(0, 1.5, 301), np.concatenate([[0], np.geomspace(1e-6, 0.1, 300)]))
    shape = n / (1 + sigma[..., None] * (n - 1) + kappa[..., None] * n * (n - 1))
    lam = (shape * x).sum(-1) / (shape * shape).sum(-1)
    grid_sse = (((x - lam[..., None] * shape)) ** 2).sum(-1).min()
    assert fit_sse <= grid_sse * 1.0001
