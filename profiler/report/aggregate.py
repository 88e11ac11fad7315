"""Trials grouped into configurations (model × concurrency), as the report shows them.

Reports show repeats of one configuration together: plots draw their mean and range,
the summary ranks configurations, the compare report judges the difference of two
configurations against the spread of their repeats. Only trials with status "ok" count.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass

from profiler.results import Results, Trial


@dataclass(frozen=True)
class Config:
    """The ok repeats of one model × concurrency, in trial order."""

    model: str
    concurrency: int
    trials: tuple[Trial, ...]
    indices: tuple[int, ...]  # positions in results.trials

    @property
    def key(self) -> tuple[str, int]:
        return (self.model, self.concurrency)

    def values(self, get: Callable[[Trial], float | None]) -> list[float]:
        return [v for v in (get(t) for t in self.trials) if v is not None]

    def mean(self, get: Callable[[Trial], float | None]) -> float | None:
        vals = self.values(get)
        return statistics.fmean(vals) if vals else None

    def peak(self, get: Callable[[Trial], float | None]) -> float | None:
        vals = self.values(get)
        return max(vals) if vals else None

    @property
    def throughput(self) -> float:
        return statistics.fmean(t.throughput_rps for t in self.trials)

    @property
    def best_index(self) -> int:
        """The repeat with the highest throughput (its samples stand for the configuration)."""
        pairs = zip(self.trials, self.indices, strict=True)
        return max(pairs, key=lambda p: p[0].throughput_rps)[1]


def configurations(results: Results) -> list[Config]:
    """Ok trials grouped by model × concurrency, in order of first appearance."""
    groups: dict[tuple[str, int], list[int]] = {}
    for i, t in enumerate(results.trials):
        if t.status == "ok":
            groups.setdefault((t.model, t.concurrency), []).append(i)
    return [
        Config(m, n, tuple(results.trials[i] for i in idx), tuple(idx))
        for (m, n), idx in groups.items()
    ]


def best_config(results: Results) -> Config | None:
    configs = configurations(results)
    return max(configs, key=lambda c: c.throughput) if configs else None


def find_config(results: Results, model: str | None, n: int | None) -> Config | None:
    for c in configurations(results):
        if c.model == model and c.concurrency == n:
            return c
    return None


def recommended_config(results: Results) -> Config | None:
    rec = results.recommendation or {}
    return find_config(results, rec.get("model"), rec.get("concurrency"))


def sequential_throughput(results: Results) -> float | None:
    seq = find_config(results, "sequential", 1) or find_config(results, "threads", 1)
    return seq.throughput if seq else None


def worst_trial_index(results: Results) -> int | None:
    ok = [(t.throughput_rps, i) for i, t in enumerate(results.trials) if t.status == "ok"]
    return min(ok)[1] if ok else None


def cpu_ms_per_record(t: Trial) -> float | None:
    if t.cpu_s is None or not t.records:
        return None
    return t.cpu_s / t.records * 1000.0
