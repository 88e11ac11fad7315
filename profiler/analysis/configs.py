"""Configurations: the trials of one model × concurrency, the unit every verdict names.

One place for what the sweep, the verdict, the report, the gate and the attribution all
ask of a run: which configurations were measured (`group_configs`), how one performed
across its repeats (`Config`), whether it stays within the limits (`violations`) and
which is the best (`ranked`, `best`): the fastest by mean throughput among those whose
trials completed, whose records failed less than 1 % of the time, and that stay within
the constraints.

Repeats are averaged for throughput and taken at their worst (the maximum) for resource
ceilings, so a limit is judged on the worst repeat the user could hit. Only trials with
status "ok" count: a crashed or timed-out trial has no throughput worth averaging (the
caveats still name it); and a trial the sweep found `suspect` (an impossible number,
re-measured) counts only while its configuration has no clean one.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from profiler import format as fmt
from profiler.models import simplicity_rank
from profiler.results import Constraints, Results, Trial
from profiler.results.trial import ModelAtN
from profiler.stats import coefficient_of_variation

ERROR_ALLOWANCE = 0.01  # a configuration with this error rate or more is not usable
ERRORS_RULE = "the error allowance"


def concurrency_key(concurrency: int) -> float:
    """Sort key for N: 0 means unbounded, i.e. above every finite N."""
    return math.inf if concurrency == 0 else float(concurrency)


@dataclass(frozen=True)
class Config(ModelAtN):
    """The ok repeats of one model × concurrency, with their indices into `results.trials`."""

    model: str
    concurrency: int
    trials: tuple[Trial, ...]
    indices: tuple[int, ...] = ()

    @classmethod
    def of(cls, *trials: Trial) -> Config:
        """A configuration of these trials alone (e.g. one trial the sweep just ran)."""
        return cls(trials[0].model, trials[0].concurrency, tuple(trials))

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

    @property
    def best_index(self) -> int:
        """The repeat with the highest throughput (its samples stand for the configuration)."""
        return max(zip(self.trials, self.indices, strict=True), key=lambda p: p[0].throughput_rps)[1]

    def values(self, get: str | Callable[[Trial], float | None]) -> list[float]:
        """The measured (non-None) values of a Trial field (or getter) across repeats."""
        getter = (lambda t: getattr(t, get)) if isinstance(get, str) else get
        return [float(v) for v in map(getter, self.trials) if v is not None]

    def peak(self, get: str | Callable[[Trial], float | None]) -> float | None:
        vals = self.values(get)
        return max(vals) if vals else None

    def mean_of(self, get: str | Callable[[Trial], float | None]) -> float | None:
        vals = self.values(get)
        return statistics.fmean(vals) if vals else None

    def metric(self, key: str) -> float | None:
        """Mean of a numeric `Trial.model_metrics[key]` over the repeats (a model's own figures)."""
        vals = [float(v) for t in self.trials
                if isinstance(v := t.model_metrics.get(key), int | float) and not isinstance(v, bool)]
        return statistics.fmean(vals) if vals else None

    @property
    def connections(self) -> float | None:
        """Peak connections: sessions the server admitted when counted, else client sockets
        (`Trial.connections`)."""
        return self.peak(lambda t: t.connections)

    @property
    def connections_kind(self) -> str:
        """What `connections` counts here: "database sessions" or "client sockets"."""
        return "database sessions" if self.peak("db_connections_peak") is not None else "client sockets"

    @property
    def workload_connections(self) -> float | None:
        """Peak connections the workload opened, less the model's own plumbing (a cluster's
        client, scheduler and worker sockets: `model_metrics["cluster_connections"]`)."""
        conns = self.connections
        plumbing = self.metric("cluster_connections")
        if conns is not None and plumbing is not None:
            conns = max(conns - plumbing, 0.0)
        return conns


def group_configs(results: Results) -> list[Config]:
    """Ok trials grouped by model × concurrency, simplest model first, then by N; suspect
    trials only where nothing clean measured the configuration."""
    groups: dict[tuple[str, int], list[int]] = {}
    for i, t in enumerate(results.trials):
        if t.ok:
            groups.setdefault(t.key, []).append(i)
    for key, idx in groups.items():
        clean = [i for i in idx if not results.trials[i].suspect]
        groups[key] = clean or idx
    configs = [Config(model, n, tuple(results.trials[i] for i in idx), tuple(idx))
               for (model, n), idx in groups.items()]
    kind = results.workload.handle_kind
    configs.sort(key=lambda c: (simplicity_rank(c.model, kind), c.model,
                                concurrency_key(c.concurrency)))
    return configs


def find_config(configs: Iterable[Config], model: str | None,
                concurrency: int | None = None) -> Config | None:
    """The configuration of `model` (at `concurrency`, or its first listed when not given)."""
    for c in configs:
        if c.model == model and (concurrency is None or c.concurrency == concurrency):
            return c
    return None


@dataclass(frozen=True)
class Violation:
    """One limit a configuration breaks: which, the measured value, and the limit."""

    rule: str
    measured: str
    limit: str

    def __str__(self) -> str:
        return f"{self.measured} (limit {self.limit})"


def violations(c: Config, k: Constraints | None = None) -> list[Violation]:
    """Every limit `c` breaks: the error allowance always, the constraints when given."""
    out: list[Violation] = []
    if c.error_rate >= ERROR_ALLOWANCE:
        out.append(Violation(ERRORS_RULE, f"{fmt.pct(c.error_rate)} of records failed "
                             f"({fmt.count(c.errors)} of {fmt.count(c.records)})",
                             fmt.pct(ERROR_ALLOWANCE)))
    if k is None:
        return out
    conns = c.workload_connections
    if k.max_connections is not None and conns is not None and conns > k.max_connections:
        out.append(Violation(f"--max-connections {k.max_connections}",
                             f"{fmt.count(conns)} connections", fmt.count(k.max_connections)))
    rss = c.peak("rss_peak_bytes")
    if k.max_rss_bytes is not None and rss is not None and rss > k.max_rss_bytes:
        out.append(Violation(f"--max-rss {fmt.mib(k.max_rss_bytes)}", f"peak RSS {fmt.mib(rss)}",
                             fmt.mib(k.max_rss_bytes)))
    lag = c.peak("loop_lag_p99_ms")
    if k.max_loop_lag_p99_ms is not None and lag is not None and lag > k.max_loop_lag_p99_ms:
        out.append(Violation(f"the loop-lag p99 limit of {fmt.ms(k.max_loop_lag_p99_ms)}",
                             f"loop lag p99 {fmt.ms(lag)}", fmt.ms(k.max_loop_lag_p99_ms)))
    cpu = c.peak("cpu_util")
    if k.max_cpu_util is not None and cpu is not None and cpu > k.max_cpu_util:
        out.append(Violation(f"the CPU cap of {fmt.cores(k.max_cpu_util)}", f"{fmt.cores(cpu)} busy",
                             fmt.cores(k.max_cpu_util)))
    return out


def ranked(configs: Sequence[Config], constraints: Constraints | None = None) -> list[Config]:
    """Usable configurations (see the module docstring), fastest first."""
    usable = [c for c in configs if not violations(c, constraints)]
    return sorted(usable, key=lambda c: -c.throughput_rps)


def best(configs: Sequence[Config], constraints: Constraints | None = None) -> Config | None:
    """The fastest usable configuration, or None when none is usable."""
    top = ranked(configs, constraints)
    return top[0] if top else None
