"""Statistics, and the one noise judge every decision uses.

The sweep, the recommendation, the prediction, `concur compare` and the gate all ask
the same question of repeated measurements: how sure are we of this mean, and is that
difference bigger than the noise? They ask it here, so a report and an exit code can
never disagree about it (pyperf keeps one `is_significant` for the same reason).

A difference between two configurations is judged on the ratio of their means with a
Welch t-interval on the log scale (the delta method: the relative standard errors of
both means add up; Welch–Satterthwaite degrees of freedom), so it stays positive and
treats "2× faster" and "2× slower" alike. With a single repeat on either side there is
no noise estimate at all, and the `Comparison` says so instead of assuming one.

Only the standard library at import time: trial children compute percentiles here.
Student's t at 95 % comes from a table (interpolated: within 0.5 % of the exact value
for any degrees of freedom from 1 up; Welch's with 2 vs 2 repeats are often under 2), so
the sweep, which judges noise between trials, pays for no numerics library out of its
budget; any other confidence is computed from the t distribution itself (`_t_quantile`).
concur needs no scipy.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

CONFIDENCE = 0.95


def percentile(values: Sequence[float], q: int) -> float:
    """The q-th percentile (0..100, whole numbers), linearly interpolated between ranks."""
    if not values:
        raise ValueError("percentile of no values")
    if len(values) == 1 or q <= 0:
        return float(min(values))
    if q >= 100:
        return float(max(values))
    return float(statistics.quantiles(values, n=100, method="inclusive")[q - 1])


def coefficient_of_variation(values: Sequence[float]) -> float | None:
    """Sample standard deviation / mean; None for fewer than two values or a zero mean."""
    if len(values) < 2:
        return None
    m = statistics.fmean(values)
    return statistics.stdev(values) / abs(m) if m else None


def single_spread(values: Sequence[float]) -> float | None:
    """How far one more measurement may land from the mean of these: two sample standard
    deviations (about 95 % of single measurements, for normal noise). None for fewer than
    two values: one measurement says nothing about its own noise.

    This is the noise of *a* measurement (will the next run read differently?), not of
    the mean (`mean_interval`): a label must not flip from one run to the next."""
    if len(values) < 2:
        return None
    return 2 * statistics.stdev(values)


# Two-sided 95 % Student t quantiles by degrees of freedom (scipy.stats.t.ppf(0.975, df)).
_T95 = {
    1.1: 10.2768012862812, 1.2: 8.648826510748867, 1.3: 7.500529325562029, 1.4: 6.657002568708426,
    1.5: 6.016663104427929, 1.6: 5.517245438758762, 1.7: 5.1188389882530565,
    1.8: 4.794881365166813, 1.9: 4.527118077100328,
    1: 12.706204736174694, 2: 4.302652729749462, 3: 3.1824463052837078, 4: 2.7764451051977934,
    5: 2.5705818356363146, 6: 2.4469118511449786, 7: 2.364624251592784, 8: 2.306004135204166,
    9: 2.262157162798205, 10: 2.228138851986274, 11: 2.200985160091639, 12: 2.1788128296672284,
    13: 2.1603686564627913, 14: 2.144786687917804, 15: 2.131449545559776, 16: 2.1199052992212546,
    17: 2.1098155778333156, 18: 2.1009220402410382, 19: 2.0930240544083087, 20: 2.085963447265864,
    21: 2.0796138447276795, 22: 2.0738730679040254, 23: 2.0686576104190486, 24: 2.0638985616280245,
    25: 2.0595385527532972, 26: 2.0555294386428735, 27: 2.0518305164802846, 28: 2.0484071417952454,
    29: 2.045229642132703, 30: 2.0422724563012378, 40: 2.021075390306273, 60: 2.0002978220142604,
    120: 1.9799304050824402,
}
_T95_INF = 1.959963984540054


def _t(confidence: float, df: float) -> float:
    """Two-sided Student t quantile (see the module docstring)."""
    if confidence == 0.95 and df >= 1:
        if df >= 120:  # linear in 1/df towards the normal quantile
            return _T95_INF + (120 / df) * (_T95[120] - _T95_INF)
        lo = max(k for k in _T95 if k <= df)
        hi = min(k for k in _T95 if k >= df)
        if lo == hi:
            return _T95[lo]
        w = (1 / df - 1 / hi) / (1 / lo - 1 / hi)  # log t is near linear in 1/df
        return math.exp(math.log(_T95[hi]) + w * (math.log(_T95[lo]) - math.log(_T95[hi])))
    return _t_quantile((1 + confidence) / 2, df)


def _t_quantile(p: float, df: float) -> float:
    """Student's t quantile for p > 0.5, by bisection on its distribution function (the
    standard library only: 100 halvings reach the float's precision)."""
    lo, hi = 0.0, 1.0
    while _t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _t_cdf(mid, df) < p else (lo, mid)
    return (lo + hi) / 2


def _t_cdf(t: float, df: float) -> float:
    """P(T ≤ t) for t ≥ 0: 1 − I_x(df/2, 1/2)/2 with x = df / (df + t²)."""
    return 1 - 0.5 * _incomplete_beta(df / 2, 0.5, df / (df + t * t))


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b), by its continued fraction
    (Lentz's method, as in Numerical Recipes' `betai`)."""
    if x <= 0 or x >= 1:
        return 0.0 if x <= 0 else 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast on this side only
        return 1 - _incomplete_beta(b, a, 1 - x)
    tiny = 1e-300
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 300):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= c * d
        if abs(c * d - 1) < 1e-15:
            break
    return front * fraction / a


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE
                  ) -> tuple[float, float] | None:
    """Student-t interval of the mean; None with fewer than two values."""
    if len(values) < 2:
        return None
    m = statistics.fmean(values)
    half = _t(confidence, len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return m - half, m + half


def slope_interval(values: Sequence[float], confidence: float = CONFIDENCE
                   ) -> tuple[float, float, float] | None:
    """Least-squares slope of `values` against their index, with its Student-t interval
    (n − 2 degrees of freedom): (slope, low, high). None for fewer than three values.
    A trend is real when the interval excludes 0 (throughput drifting within a trial)."""
    n = len(values)
    if n < 3:
        return None
    xs = range(n)
    fit = statistics.linear_regression(xs, values)
    x_mean = (n - 1) / 2
    sxx = sum((x - x_mean) ** 2 for x in xs)
    residual = sum((y - (fit.intercept + fit.slope * x)) ** 2 for x, y in zip(xs, values, strict=True))
    se = math.sqrt(residual / (n - 2) / sxx)
    half = _t(confidence, n - 2) * se
    return fit.slope, fit.slope - half, fit.slope + half


@dataclass(frozen=True)
class Comparison:
    """mean(candidate) ÷ mean(baseline), with the interval the repeats allow.

    `low`/`high` are None when a side was measured once: the noise is unknown, and
    `significant` is None rather than a guess."""

    ratio: float
    low: float | None
    high: float | None
    repeats: tuple[int, int]
    confidence: float = CONFIDENCE

    @property
    def measured(self) -> bool:
        return self.low is not None and self.high is not None

    @property
    def significant(self) -> bool | None:
        """True when the interval excludes 1 (a real difference), None when unmeasured."""
        if not self.measured:
            return None
        assert self.low is not None and self.high is not None
        return not self.low <= 1.0 <= self.high

    @property
    def method(self) -> str:
        a, b = self.repeats
        if not self.measured:
            return f"{a} vs {b} repeats: one side measured once, so its noise is unknown"
        return f"Welch {self.confidence:.0%} interval of the ratio ({a} vs {b} repeats)"

    def equivalent(self, margin: float) -> bool | None:
        """True when the whole interval lies within ±`margin` of 1 (on the ratio scale:
        between 1 − margin and 1 / (1 − margin)): the two are the same for practical
        purposes, and more repeats would not change that. None when unmeasured."""
        if not self.measured:
            return None
        assert self.low is not None and self.high is not None
        return self.low >= 1 - margin and self.high <= 1 / (1 - margin)

    def settled(self, margin: float) -> bool:
        """Significant, or equivalent within `margin`: more repeats would not change the
        answer to "are these different?" (an unmeasured comparison is never settled)."""
        return bool(self.significant) or bool(self.equivalent(margin))

    def best_case(self, higher_is_better: bool = True) -> float:
        """The reading most favourable to the candidate (the point estimate when unmeasured)."""
        if not self.measured:
            return self.ratio
        assert self.low is not None and self.high is not None
        return self.high if higher_is_better else self.low


def compare(baseline: Sequence[float], candidate: Sequence[float],
            confidence: float = CONFIDENCE) -> Comparison:
    """Judge mean(candidate) against mean(baseline) (see the module docstring)."""
    if not baseline or not candidate:
        raise ValueError("compare needs at least one value on each side")
    nb, nc = len(baseline), len(candidate)
    mb, mc = statistics.fmean(baseline), statistics.fmean(candidate)
    ratio = mc / mb if mb > 0 else (math.inf if mc > 0 else 1.0)
    if nb < 2 or nc < 2:
        return Comparison(ratio, None, None, (nb, nc), confidence)
    if mb <= 0 or mc <= 0:  # no log scale for a side that measured nothing
        return Comparison(ratio, ratio, ratio, (nb, nc), confidence)
    vb = statistics.variance(baseline) / (nb * mb * mb)
    vc = statistics.variance(candidate) / (nc * mc * mc)
    if vb + vc == 0:
        return Comparison(ratio, ratio, ratio, (nb, nc), confidence)
    df = (vb + vc) ** 2 / (vb * vb / (nb - 1) + vc * vc / (nc - 1))
    spread = _t(confidence, df) * math.sqrt(vb + vc)
    return Comparison(ratio, ratio * math.exp(-spread), ratio * math.exp(spread), (nb, nc),
                      confidence)
