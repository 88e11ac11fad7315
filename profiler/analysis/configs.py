"""The limits a configuration must stay within to be recommended (`violations`).

The error allowance always (a configuration whose records failed 1 % of the time or more
is not usable), and the user's constraints when given (connections, peak RSS, loop-lag
p99, CPU cap), each judged on the worst repeat the user could hit. The standings
(`analysis.standings`) exclude a configuration that breaks one, with these words; the
sweep ends a climb on them.
"""

from __future__ import annotations

from dataclasses import dataclass

from profiler import format as fmt
from profiler.results import Config, Constraints

ERROR_ALLOWANCE = 0.01  # a configuration with this error rate or more is not usable
ERRORS_RULE = "the error allowance"


@dataclass(frozen=True)
class Violation:
    """One limit a configuration breaks: which, the measured value, and the limit."""

    rule: str
    measured: str
    limit: str

    def __str__(self) -> str:
        return f"{self.measured} (limit {self.limit})"


def fails(error_rate: float) -> bool:
    """Whether this share of failed records breaks the error allowance: such a configuration
    is not usable, and would not finish a batch (no batch time is given for it)."""
    return error_rate >= ERROR_ALLOWANCE


def unfinished(c: Config) -> str | None:
    """Why `c` has no batch time: it fails so many records (the error allowance) that it
    would not finish the batch; None when it would. A time for a job that fails is not a time."""
    if not fails(c.error_rate):
        return None
    return f"fails {fmt.pct(c.error_rate)} of records: it would not finish the batch"


def violations(c: Config, k: Constraints | None = None) -> list[Violation]:
    """Every limit `c` breaks: the error allowance always, the constraints when given."""
    out: list[Violation] = []
    if fails(c.error_rate):
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
