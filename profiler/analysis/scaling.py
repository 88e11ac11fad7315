"""Universal Scalability Law fits: how each model's throughput grows with concurrency.

    X(N) = λN / (1 + σ(N−1) + κN(N−1))

λ is the throughput of one worker, σ the contention (the share of the work that queues
for something shared: flattens the curve), κ the coherency cost (workers paying for each
other: makes it fall), and N* = √((1−σ)/κ) the concurrency where throughput peaks. The
three numbers name the failure mode: high σ is a lock or a connection limit, high κ is
crosstalk (cache lines, an event loop juggling thousands of tasks).

The fit uses the mean throughput per N over a model's ok trials (N ≥ 1; unbounded asyncio
has no N to place). Pools of threads, processes and asyncio-threads at N = 1 do the same
work as sequential, so the sequential mean anchors their N = 1 when they lack their own.
With fewer than three distinct N there is no fit: three parameters need three points,
and we say "not enough points" rather than invent a curve. Sequential is the anchor,
not a curve, and gets no entry.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from profiler.analysis.standings import table
from profiler.models import MODELS
from profiler.results import Results, ScalingFit, ScalingPoint

MIN_POINTS = 3
KAPPA_ZERO = 1e-9  # below this κ is indistinguishable from 0: no finite peak
POOR_FIT_R2 = 0.8
# Starting points (σ, κ) for the optimiser; the best of them by squared error wins.
_STARTS = ((0.05, 1e-4), (0.3, 1e-3), (0.01, 1e-6), (0.5, 1e-2))


def usl(n: Any, lambda_rps: float, sigma: float, kappa: float) -> Any:
    """USL throughput at concurrency n (a number or a numpy array)."""
    return lambda_rps * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))


def fit_scaling(results: Results) -> dict[str, ScalingFit]:
    """{model: fit} for every non-sequential model with an ok trial (see `fit_usl`)."""
    s = table(results)
    configs = s.configs
    sequential = s.sequential

    section: dict[str, ScalingFit] = {}
    for model in dict.fromkeys(c.model for c in configs if c.model != "sequential"):
        points = [ScalingPoint(c.concurrency, c.throughput_rps, c.repeats)
                  for c in configs if c.model == model and c.concurrency >= 1]
        has_one = any(p.concurrency == 1 for p in points)
        known = MODELS.get(model)
        if known is not None and known.same_as_sequential_at_one and not has_one and sequential is not None:
            points.insert(0, ScalingPoint(1, sequential.throughput_rps, sequential.repeats, True))
        fit = fit_usl(points)
        if fit.status != "ok" and any(c.model == model and c.concurrency == 0 for c in configs):
            fit.message += "; unbounded runs (N = 0) have no place on the curve"
        section[model] = fit
    return section


def fit_usl(points: list[ScalingPoint]) -> ScalingFit:
    """Fit the USL to points, one per distinct N; numbers are None unless status is "ok"."""
    if len(points) < MIN_POINTS:
        ns = ", ".join(str(p.concurrency) for p in points) or "none"
        return ScalingFit("not enough points", points=points, message=(
            f"{len(points)} distinct concurrency level(s) (N = {ns}); the fit needs ≥ {MIN_POINTS}"))

    import numpy as np  # numpy and scipy load lazily: `concur --help` should not pay for them
    from scipy.optimize import OptimizeWarning, curve_fit

    n = np.array([p.concurrency for p in points], dtype=float)
    x = np.array([p.throughput_rps for p in points], dtype=float)
    if not np.all(np.isfinite(x)) or x.max() <= 0:
        return ScalingFit("fit failed", points=points, message="no throughput to fit")

    lambda0 = max(x[np.argmin(n)] / n.min(), 1e-9)
    best: tuple[float, Any] | None = None
    failures: list[str] = []
    for sigma0, kappa0 in _STARTS:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", OptimizeWarning)
                params, _ = curve_fit(
                    usl, n, x, p0=(lambda0, sigma0, kappa0),
                    bounds=((1e-12, 0.0, 0.0), (np.inf, np.inf, np.inf)),
                    x_scale="jac", max_nfev=5000,
                )
        except (RuntimeError, ValueError) as exc:
            failures.append(str(exc))
            continue
        if not np.all(np.isfinite(params)):
            continue
        sse = float(np.sum((x - usl(n, *params)) ** 2))
        if best is None or sse < best[0]:
            best = (sse, params)
    if best is None:
        reason = failures[0] if failures else "non-finite parameters"
        return ScalingFit("fit failed", points=points,
                          message=f"the optimiser did not converge: {reason}")

    sse, (lambda_rps, sigma, kappa) = best
    # The optimiser parks a parameter it does not need at 1e-20 or so; report that as 0.
    sigma, kappa = (0.0 if v < 1e-12 else float(v) for v in (sigma, kappa))
    sst = float(np.sum((x - x.mean()) ** 2))
    r2 = 1.0 - sse / sst if sst > 0 else (1.0 if sse < 1e-12 else 0.0)
    n_star = math.sqrt((1 - sigma) / kappa) if kappa > KAPPA_ZERO and sigma < 1 else None
    return ScalingFit("ok", float(lambda_rps), float(sigma), float(kappa), n_star, r2, points,
                      _message(float(sigma), float(kappa), n_star, r2, n))


def _message(sigma: float, kappa: float, n_star: float | None, r2: float, n: Any) -> str:
    parts = [f"σ = {sigma:.3f} (contention), κ = {kappa:.2g} (coherency)"]
    if sigma >= 1:
        parts.append("no gain from concurrency (σ ≥ 1): every worker waits on the same thing")
    elif n_star is None:
        parts.append("no peak within range (κ ≈ 0): throughput levels off instead of falling")
    elif n_star > n.max():
        parts.append(f"peak near N ≈ {n_star:.0f}, beyond the measured range (N ≤ {n.max():.0f})")
    else:
        parts.append(f"peak near N ≈ {n_star:.0f}")
    parts.append(f"R² = {r2:.3f}")
    if len(n) == MIN_POINTS:
        parts.append("3 points for 3 parameters: the curve passes through every point, so read σ and κ as rough")
    elif r2 < POOR_FIT_R2:
        parts.append("poor fit: the measurements do not follow the USL; trust the points over the curve")
    return "; ".join(parts)
