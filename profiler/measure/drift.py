"""Throughput over time inside one trial's window, and whether it drifted.

A short trial reports one number, its mean throughput; a long batch may not hold it (a
database growing dead rows, checkpoints, a cache filling or warming). So every record's
completion time is kept (`Tally.done_at`, `time.perf_counter()`: CLOCK_MONOTONIC, shared
by the trial's processes on Linux) and the window is cut into `SLICES` equal slices.

`drift` is the relative change of throughput across the window: the slope of a
least-squares line through the slices' throughputs, times the window's length, over
the mean. The first and last slices are left out (workers starting up, the last
records draining with fewer in flight). -0.12 means the trial ended 12 % slower than it
began. It is None when the slices are too thin to read (fewer than `MIN_PER_SLICE`
records each) or when the completion times do not fall in the window (a remote cluster's
clock).

Standard library only: this runs in the trial's child.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

SLICES = 10
MIN_PER_SLICE = 8  # fewer records per slice and one record moves its throughput too much
IN_WINDOW = 0.9  # at least this share of completions inside the window, or the clocks differ


def throughput_series(done_at: Sequence[float], start: float, wall_s: float,
                      slices: int = SLICES) -> list[float]:
    """Records per second in each of `slices` equal slices of the window ([] if unreadable)."""
    if wall_s <= 0 or not done_at:
        return []
    width = wall_s / slices
    counts = [0] * slices
    inside = 0
    for t in done_at:
        offset = t - start
        if -0.05 <= offset <= wall_s + 0.05:
            inside += 1
            counts[min(max(int(offset / width), 0), slices - 1)] += 1
    if inside < IN_WINDOW * len(done_at):
        return []
    return [c / width for c in counts]


def drift(series: Sequence[float], records: int) -> float | None:
    """Relative change of throughput from the start to the end of the window (see above)."""
    if len(series) < 5 or records < MIN_PER_SLICE * len(series):
        return None
    middle = list(series[1:-1])
    mean = statistics.fmean(middle)
    if mean <= 0:
        return None
    slope = statistics.linear_regression(range(len(middle)), middle).slope  # per slice
    return slope * len(series) / mean
