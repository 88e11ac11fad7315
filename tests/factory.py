"""The one factory of hand-made trials and results for the tests: every number chosen,
no workload runs.

`make_trial` derives what follows from what a test states: wall time from records and
throughput, CPU seconds from `cpu_util` (cores busy) or `cpu_fraction` (the same thing,
named the way classification reads it), so each test says only the numbers it is about.
`make_results` wraps trials in a run (its standings are judged by whatever reads them
first: `analysis.standings.table`); `repeats` numbers trials as repeats of one
configuration. The report tests' story (`tests.report_fixtures`) is built from these.
"""

from __future__ import annotations

from typing import Any

from profiler.results import Environment, Results, Skipped, Trial, WorkloadInfo


def make_trial(
    model: str = "sequential",
    concurrency: int = 1,
    *,
    throughput_rps: float = 100.0,
    records: int = 1000,
    cpu_util: float | None = 0.5,
    **kw: Any,
) -> Trial:
    """A Trial of `records` at `throughput_rps`, keeping `cpu_util` cores busy."""
    wall_s = kw.pop("wall_s", records / throughput_rps if throughput_rps else 1.0)
    if "cpu_fraction" in kw:
        cpu_util = kw.pop("cpu_fraction")
    cpu_s = None if cpu_util is None else cpu_util * wall_s
    fields: dict[str, Any] = {
        "model": model,
        "concurrency": concurrency,
        "repeat": 0,
        "records": records,
        "errors": 0,
        "wall_s": wall_s,
        "throughput_rps": throughput_rps,
        "cpu_user_s": None if cpu_s is None else cpu_s * 0.9,
        "cpu_system_s": None if cpu_s is None else cpu_s * 0.1,
        "cpu_util": cpu_util,
        "workers": max(concurrency, 1) if model in ("threads", "processes", "asyncio-threads") else 1,
    }
    fields.update(kw)
    return Trial(**fields)


def make_results(
    *trials: Trial,
    cpu_count: int = 8,
    gil_enabled: bool = True,
    skipped: list[Skipped] | None = None,
    total_records: int | None = None,
    **kw: Any,
) -> Results:
    """A run of these trials; `kw` sets any other field of Results (samples, command, …)."""
    return Results(
        workload=kw.pop("workload", None) or WorkloadInfo(
            name="job", target="job.py:handle", records_per_trial=1000, total_records=total_records),
        environment=kw.pop("environment", None) or Environment(
            python="3.11.9", implementation="CPython", cpu_count=cpu_count,
            gil_enabled=gil_enabled, platform="linux"),
        trials=list(trials),
        skipped=list(skipped or []),
        **kw,
    )


def repeats(model: str, concurrency: int, throughputs: list[float], **kw: Any) -> list[Trial]:
    """One trial per throughput, numbered as repeats of one configuration."""
    return [make_trial(model, concurrency, throughput_rps=x, repeat=i, **kw)
            for i, x in enumerate(throughputs)]
