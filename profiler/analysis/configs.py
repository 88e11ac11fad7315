"""Trials grouped into configurations (model × concurrency): the unit every verdict names.

Repeats of one configuration are averaged for throughput, and taken at their worst (the
maximum) for resource ceilings, so a limit is judged on the worst repeat the user could
hit. Only trials with status "ok" count: a crashed or timed-out trial has no throughput
worth averaging (recommend.py still warns about it).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from profiler.results import Results, Trial
from profiler.stats import coefficient_of_variation

# Simplest first. Ties within the noise margin go to the earlier model: a thread pool is
# easier to write, debug and reason about than processes or an event loop.
MODEL_SIMPLICITY: tuple[str, ...] = (
    "sequential",
    "threads",
    "processes",
    "asyncio-threads",
    "asyncio",
    "uvloop",
)


def simplicity_rank(model: str) -> int:
    """Position in MODEL_SIMPLICITY; models not listed (dask, ...) count as least simple."""
    try:
        return MODEL_SIMPLICITY.index(model)
    except ValueError:
        return len(MODEL_SIMPLICITY)


def concurrency_key(concurrency: int) -> float:
    """Sort key for N: 0 means unbounded, i.e. above every finite N."""
    return math.inf if concurrency == 0 else float(concurrency)


def config_label(model: str, concurrency: int) -> str:
    """`threads×16`, `asyncio×unbounded`, `sequential` (its N is always 1)."""
    if model == "sequential":
        return model
    return f"{model}×{'unbounded' if concurrency == 0 else concurrency}"


@dataclass(frozen=True)
class Config:
    """The ok repeats of one model × concurrency, with the indices into `results.trials`."""

    model: str
    concurrency: int
    indices: tuple[int, ...]
    trials: tuple[Trial, ...]

    @property
    def label(self) -> str:
        return config_label(self.model, self.concurrency)

    @property
    def repeats(self) -> int:
        return len(self.trials)

    @property
    def throughputs(self) -> list[float]:
        return [t.throughput_rps for t in self.trials]

    @property
    def throughput_rps(self) -> float:
        return statistics.fmean(self.throughputs)

    @property
    def throughput_cv(self) -> float | None:
        return coefficient_of_variation(self.throughputs)

    @property
    def records(self) -> int:
        return sum(t.records for t in self.trials)

    @property
    def errors(self) -> int:
        return sum(t.errors for t in self.trials)

    @property
    def error_rate(self) -> float:
        return self.errors / self.records if self.records else 0.0

    @property
    def errors_by_type(self) -> dict[str, int]:
        merged: dict[str, int] = {}
        for t in self.trials:
            for name, n in t.errors_by_type.items():
                merged[name] = merged.get(name, 0) + n
        return merged

    def values(self, field_name: str) -> list[float]:
        """The measured (non-None) values of a Trial field across repeats."""
        raw = (getattr(t, field_name) for t in self.trials)
        return [float(v) for v in raw if v is not None]

    def peak(self, field_name: str) -> float | None:
        vals = self.values(field_name)
        return max(vals) if vals else None

    def mean_of(self, field_name: str) -> float | None:
        vals = self.values(field_name)
        return statistics.fmean(vals) if vals else None

    @property
    def connections(self) -> float | None:
        """Peak connections, the larger of the client-side and the server-side count.

        The story concur exists for is a database drowning in connections; whichever
        side saw more is the one a limit must be judged on.
        """
        seen = [v for v in (self.peak("connections_peak"), self.peak("db_connections_peak"))
                if v is not None]
        return max(seen) if seen else None


def group_configs(results: Results) -> list[Config]:
    """Ok trials grouped by model × concurrency, simplest model first, then by N."""
    groups: dict[tuple[str, int], list[int]] = {}
    for i, t in enumerate(results.trials):
        if t.status == "ok":
            groups.setdefault((t.model, t.concurrency), []).append(i)
    configs = [
        Config(model, n, tuple(idx), tuple(results.trials[i] for i in idx))
        for (model, n), idx in groups.items()
    ]
    configs.sort(key=lambda c: (simplicity_rank(c.model), c.model, concurrency_key(c.concurrency)))
    return configs


def find_config(configs: Sequence[Config], model: str, concurrency: int | None = None) -> Config | None:
    """The configuration of `model` (at `concurrency`, or its lowest N when not given)."""
    for c in configs:
        if c.model == model and (concurrency is None or c.concurrency == concurrency):
            return c
    return None
