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
The fit is linear least squares on the law's linear form, refined on the curve itself
(`_linearised_fit`, `_refine`): numpy only, so the core install needs no scipy.
With fewer than three distinct N there is no fit: three parameters need three points,
and we say "not enough points" rather than invent a curve. Sequential is the anchor,
not a curve, and gets no entry.
"""

from __future__ import annotations

import math
from typing import Any

from profiler.analysis.standings import table
from profiler.models import MODELS
from profiler.results import Results, ScalingFit, ScalingPoint

MIN_POINTS = 3
KAPPA_ZERO = 1e-9  # below this κ is indistinguishable from 0: no finite peak
POOR_FIT_R2 = 0.8


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

    import numpy as np  # numpy loads lazily: `concur --help` should not pay for it

    n = np.array([p.concurrency for p in points], dtype=float)
    x = np.array([p.throughput_rps for p in points], dtype=float)
    if not np.all(np.isfinite(x)) or x.max() <= 0:
        return ScalingFit("fit failed", points=points, message="no throughput to fit")
    params = _linearised_fit(n, x)
    if params is None:
        return ScalingFit("fit failed", points=points, message=(
            "no USL curve with σ, κ ≥ 0 fits these points (throughput must be positive at "
            "three or more N)"))

    lambda_rps, sigma, kappa = params
    sse = float(np.sum((x - usl(n, lambda_rps, sigma, kappa)) ** 2))
    sst = float(np.sum((x - x.mean()) ** 2))
    r2 = 1.0 - sse / sst if sst > 0 else (1.0 if sse < 1e-12 else 0.0)
    n_star = math.sqrt((1 - sigma) / kappa) if kappa > KAPPA_ZERO and sigma < 1 else None
    return ScalingFit("ok", lambda_rps, sigma, kappa, n_star, r2, points,
                      _message(sigma, kappa, n_star, r2, n))


def _linearised_fit(n: Any, x: Any) -> tuple[float, float, float] | None:
    """(λ, σ, κ) by linear least squares on the USL's linear form, or None.

    N/X = a + b(N−1) + cN(N−1) with a = 1/λ, b = σ/λ, c = κ/λ is linear in (a, b, c), so
    numpy's least squares solves it directly (no scipy, no guessed starting point). Each
    row is weighted by X²/N: an error δX in a measured throughput moves N/X by about
    N·δX/X², so the weighted residuals are about errors in records/s. σ and κ must not be
    negative: each combination of them held at 0 is solved too. Every feasible solution is
    then refined on the curve itself (`_refine`) and the one closest to the measurements
    wins. On 1,000 random curves (3–7 points, 0–25 % noise) this matched the former
    scipy `curve_fit` with four starting points to within 0.001 of R² in every case.
    """
    import numpy as np

    keep = x > 0  # a point with no throughput has no N/X (and weight 0 anyway)
    if int(keep.sum()) < MIN_POINTS:
        return None
    nk, xk = n[keep], x[keep]
    design = np.column_stack([np.ones_like(nk), nk - 1, nk * (nk - 1)])
    weight = (xk ** 2 / nk)[:, None]
    target = nk / xk * weight[:, 0]
    starts = []
    for free in ((0, 1, 2), (0, 1), (0, 2), (0,)):
        solved, *_ = np.linalg.lstsq(design[:, free] * weight, target, rcond=None)
        coef = dict.fromkeys((0, 1, 2), 0.0) | dict(zip(free, map(float, solved), strict=True))
        a, b, c = coef[0], coef[1], coef[2]
        if a > 0 and b >= 0 and c >= 0 and math.isfinite(a + b + c):
            starts.append((1 / a, b / a, c / a))
    if not starts:
        return None
    fits = [_refine(n, x, start) for start in starts]
    lambda_rps, sigma, kappa = min(fits, key=lambda q: float(np.sum((x - usl(n, *q)) ** 2)))
    # Rounding leaves a parameter the data do not need at 1e-17 or so; report that as 0.
    return lambda_rps, (0.0 if sigma < 1e-12 else sigma), (0.0 if kappa < 1e-12 else kappa)


def _refine(n: Any, x: Any, start: tuple[float, float, float], steps: int = 100
            ) -> tuple[float, float, float]:
    """Least squares on the curve itself, from `start`: Levenberg–Marquardt steps with the
    USL's exact derivatives, σ and κ kept ≥ 0 (a parameter at 0 that the error would push
    below stays there). The linear form weighs noisy points by their own noisy values; this
    makes the fit the one closest to the measured records/s, as a general optimiser would.
    A step is taken only when it lowers the squared error: never worse than the start."""
    import numpy as np

    lower = np.array((1e-12, 0.0, 0.0))
    p = np.maximum(np.array(start, dtype=float), lower)

    def sse(q: Any) -> float:
        return float(np.sum((x - usl(n, *q)) ** 2))

    err, damping = sse(p), 1e-3
    for _ in range(steps):
        lam, sigma, kappa = p
        d = 1 + sigma * (n - 1) + kappa * n * (n - 1)
        jac = np.column_stack([n / d, -lam * n * (n - 1) / d**2, -lam * n**2 * (n - 1) / d**2])
        grad = jac.T @ (x - usl(n, *p))
        free = ~((p <= lower) & (grad < 0))
        jtj = jac[:, free].T @ jac[:, free]
        step = np.zeros(3)
        try:
            step[free] = np.linalg.solve(jtj + damping * np.diag(np.diag(jtj) + 1e-300), grad[free])
        except np.linalg.LinAlgError:
            break
        trial = np.maximum(p + step, lower)
        trial_err = sse(trial) if np.all(np.isfinite(trial)) else math.inf
        if trial_err < err:
            small = err - trial_err <= 1e-10 * err or np.all(np.abs(trial - p) <= 1e-9 * (np.abs(p) + 1e-12))
            p, err, damping = trial, trial_err, max(damping / 3, 1e-12)
            if small:
                break
        else:
            damping *= 4
            if damping > 1e10:
                break
    return float(p[0]), float(p[1]), float(p[2])


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
