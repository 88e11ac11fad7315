"""Small statistics used on both sides of the process boundary (no numpy in the child)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile of already sorted values (q in 0..100)."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if len(sorted_values) == 1:
        return float(sorted_values[0])
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac)


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def coefficient_of_variation(values: Sequence[float]) -> float | None:
    """Sample standard deviation / mean; None for fewer than two values or a zero mean."""
    if len(values) < 2:
        return None
    m = mean(values)
    if m == 0:
        return None
    var = sum((v - m) ** 2 for v in values) / (len(values) - 1)
    return math.sqrt(var) / abs(m)
