"""Which configuration to use, why, and what to watch out for.

The rule, in the order a reader can check it:
1. Only configurations (model × concurrency, repeats averaged) whose trials completed,
   whose records failed less than 1 % of the time, and that stay within the constraints
   (connections, peak RSS, loop-lag p99, CPU cap; each judged on the worst repeat).
2. Among those, the highest mean throughput is the best.
3. A simpler model within the noise margin (10 %) of the best wins: the difference is
   within what repeats of one configuration vary by, and the simpler code is cheaper to
   own (sequential < threads < processes < asyncio-threads < asyncio < uvloop). Within
   the chosen model a lower N within 5 % wins too: fewer workers, connections and memory.
4. When nothing beats sequential by more than the margin, keep it sequential.

Warnings (connection growth, loop lag, CPU saturation, errors, memory growth, noise,
crashed trials) come from caveats.py and never change the choice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from profiler.analysis import wording as w
from profiler.analysis.caveats import (
    choice_warnings,
    dask_metric,
    dask_overhead_dominates,
    run_warnings,
    workload_connections,
)
from profiler.analysis.configs import (
    MODEL_SIMPLICITY,
    Config,
    concurrency_key,
    find_config,
    group_configs,
    simplicity_rank,
)
from profiler.errors import ConfigError
from profiler.results import Results

ERROR_ALLOWANCE = 0.01  # a config with this error rate or more is excluded
LOWER_N_MARGIN = 0.05  # within a model, a lower N this close to its best wins


@dataclass(frozen=True)
class Constraints:
    """Limits a recommended configuration must stay within (None = no limit)."""

    max_connections: int | None = None
    max_rss_bytes: int | None = None
    max_loop_lag_p99_ms: float | None = 100.0
    max_cpu_util: float | None = None  # in cores
    noise_margin: float = 0.10  # differences smaller than this are treated as ties

    def __post_init__(self) -> None:
        if not 0 <= self.noise_margin < 1:
            raise ConfigError(f"noise margin must be between 0 and 1, got {self.noise_margin}")
        for name in ("max_connections", "max_rss_bytes", "max_loop_lag_p99_ms", "max_cpu_util"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"{name} must be positive, got {value}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def recommend(results: Results, constraints: Constraints = Constraints()) -> dict[str, Any]:  # noqa: B008 - frozen, immutable default
    """The recommended configuration with its sentence, rationale, warnings and exclusions.

    Returns {"model", "concurrency", "throughput_rps", "speedup", "keep_sequential",
    "sentence", "rationale", "warnings", "constraints", "excluded"}; model and
    concurrency are None when no configuration completed or none met the constraints.
    """
    configs = group_configs(results)
    if not configs:
        return _no_choice(
            constraints, [], run_warnings(results, configs, constraints),
            "no configuration completed: every trial crashed, timed out or failed (see warnings)",
        )

    excluded: list[dict[str, Any]] = []
    by_constraint: dict[str, list[str]] = {}
    eligible: list[Config] = []
    for c in configs:
        reasons = _exclusions(c, constraints)
        if reasons:
            excluded.append({"model": c.model, "concurrency": c.concurrency,
                             "reason": "; ".join(f"{m} (limit {lim})" for _, m, lim in reasons)})
            for constraint, measured, _ in reasons:
                by_constraint.setdefault(constraint, []).append(f"{c.label} ({measured})")
        else:
            eligible.append(c)
    # Unbounded gather holds every record of the batch in flight at once: its tasks, memory
    # and connections grow with the batch, which is larger than the trial. It is measured
    # as the naive rewrite to compare against, not recommended while a bounded one ran.
    unbounded = [c for c in eligible if c.concurrency == 0]
    if unbounded and len(unbounded) < len(eligible):
        for c in unbounded:
            eligible.remove(c)
            excluded.append({"model": c.model, "concurrency": 0, "reason":
                             "unbounded: tasks, memory and connections grow with the batch; "
                             "a bounded N is recommended instead"})
        by_constraint.setdefault("the bounded-concurrency rule", []).extend(
            f"{c.label} ({w.rps(c.throughput_rps)} records/s)" for c in unbounded)
    exclusion_sentences = [f"{k} excluded {', '.join(v)}" for k, v in by_constraint.items()]
    if not eligible:
        return _no_choice(
            constraints, excluded, run_warnings(results, configs, constraints),
            f"no configuration met the constraints ({len(configs)} measured, all excluded)",
            exclusion_sentences,
        )

    margin = constraints.noise_margin
    sequential = find_config(configs, "sequential")
    seq_rps = sequential.throughput_rps if sequential and sequential.throughput_rps > 0 else None
    best = max(eligible, key=lambda c: (c.throughput_rps, -simplicity_rank(c.model),
                                        -concurrency_key(c.concurrency)))
    seq_ok = sequential is not None and sequential in eligible and seq_rps is not None
    if seq_ok and best.throughput_rps <= seq_rps * (1 + margin):
        choice, why = sequential, _keep_sequential_reason(best, sequential, margin)
    else:
        choice, why = _prefer_simpler(eligible, best, margin)
    assert choice is not None
    keep_sequential = choice.model == "sequential"
    speedup = choice.throughput_rps / seq_rps if seq_rps else None

    rationale = why + _others(eligible, choice) + _cluster_versus_local(eligible)
    rationale += exclusion_sentences
    if 0 < choice.error_rate < ERROR_ALLOWANCE:
        rationale.append(
            f"{choice.label} had {w.count(choice.errors)} failed records of {w.count(choice.records)} "
            f"({w.pct(choice.error_rate)}), under the {w.pct(ERROR_ALLOWANCE)} allowance"
        )
    rationale.append(
        f"ties within {w.pct(margin)} go to the simpler model ({' < '.join(_simplicity(configs))}); "
        f"within a model, to the lower concurrency within {w.pct(LOWER_N_MARGIN)}, which saves "
        "workers, connections and memory"
    )
    warnings = choice_warnings(results, configs, choice) + run_warnings(
        results, configs, constraints, choice)
    return {
        "model": choice.model,
        "concurrency": choice.concurrency,
        "throughput_rps": choice.throughput_rps,
        "speedup": speedup,
        "keep_sequential": keep_sequential,
        "sentence": _sentence(choice, best, sequential if seq_rps else None, margin),
        "rationale": rationale,
        "warnings": warnings,
        "constraints": constraints.to_dict(),
        "excluded": excluded,
    }


def _no_choice(
    constraints: Constraints,
    excluded: list[dict[str, Any]],
    warnings: list[str],
    sentence: str,
    rationale: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "model": None, "concurrency": None, "throughput_rps": None, "speedup": None,
        "keep_sequential": False, "sentence": sentence, "rationale": rationale or [],
        "warnings": warnings, "constraints": constraints.to_dict(), "excluded": excluded,
    }


def _exclusions(c: Config, k: Constraints) -> list[tuple[str, str, str]]:
    """(constraint, measured value, limit) for every limit this configuration breaks."""
    out: list[tuple[str, str, str]] = []
    if c.error_rate >= ERROR_ALLOWANCE:
        out.append(("the error allowance", f"{w.pct(c.error_rate)} of records failed",
                    w.pct(ERROR_ALLOWANCE)))
    conns = workload_connections(c)
    if k.max_connections is not None and conns is not None and conns > k.max_connections:
        out.append((f"--max-connections {k.max_connections}", f"{w.count(conns)} connections",
                    w.count(k.max_connections)))
    rss = c.peak("rss_peak_bytes")
    if k.max_rss_bytes is not None and rss is not None and rss > k.max_rss_bytes:
        out.append((f"--max-rss {w.mebibytes(k.max_rss_bytes)}", f"peak RSS {w.mebibytes(rss)}",
                    w.mebibytes(k.max_rss_bytes)))
    lag = c.peak("loop_lag_p99_ms")
    if k.max_loop_lag_p99_ms is not None and lag is not None and lag > k.max_loop_lag_p99_ms:
        out.append((f"the loop-lag p99 limit of {w.milliseconds(k.max_loop_lag_p99_ms)}",
                    f"loop lag p99 {w.milliseconds(lag)}", w.milliseconds(k.max_loop_lag_p99_ms)))
    cpu = c.peak("cpu_util")
    if k.max_cpu_util is not None and cpu is not None and cpu > k.max_cpu_util:
        out.append((f"the CPU cap of {w.cores(k.max_cpu_util)}", f"{w.cores(cpu)} busy",
                    w.cores(k.max_cpu_util)))
    return out


def _keep_sequential_reason(best: Config, sequential: Config, margin: float) -> list[str]:
    if best is sequential:
        return [f"sequential ran {w.rps(sequential.throughput_rps)} records/s and no other "
                "configuration within the constraints was faster"]
    return [
        f"the fastest configuration, {best.label}, ran {w.rps(best.throughput_rps)} records/s, "
        f"{w.times(best.throughput_rps / sequential.throughput_rps)} sequential's "
        f"{w.rps(sequential.throughput_rps)}: within the {w.pct(margin)} noise margin, so "
        "concurrency is not worth its complexity"
    ]


def _prefer_simpler(eligible: list[Config], best: Config, margin: float) -> tuple[Config, list[str]]:
    """The simplest model within the margin of the best, then its lowest N within 5 %."""
    floor = best.throughput_rps * (1 - margin)
    close = [c for c in eligible if c.throughput_rps >= floor]
    model = min(close, key=lambda c: simplicity_rank(c.model)).model
    model_best = max((c for c in close if c.model == model), key=lambda c: c.throughput_rps)
    lower_floor = max(model_best.throughput_rps * (1 - LOWER_N_MARGIN), floor)
    choice = min((c for c in close if c.model == model and c.throughput_rps >= lower_floor),
                 key=lambda c: concurrency_key(c.concurrency))

    why: list[str] = []
    if model_best is best:
        repeats = f" over {best.repeats} repeats" if best.repeats > 1 else ""
        why.append(f"{best.label} had the highest mean throughput of the {len(eligible)} "
                   f"configurations within the constraints: {w.rps(best.throughput_rps)} records/s{repeats}")
    else:
        slower = 1 - model_best.throughput_rps / best.throughput_rps
        why.append(f"{best.label} was fastest ({w.rps(best.throughput_rps)} records/s), but "
                   f"{model_best.label} is within {w.pct(margin)} ({w.rps(model_best.throughput_rps)} "
                   f"records/s, {w.pct(slower)} slower) and {model} is the simpler model")
    if choice is not model_best:
        why.append(f"{choice.label} is within {w.pct(LOWER_N_MARGIN)} of {model_best.label} "
                   f"({w.rps(choice.throughput_rps)} vs {w.rps(model_best.throughput_rps)} records/s) "
                   "with fewer workers, which saves resources")
    return choice, why


def _simplicity(configs: list[Config]) -> list[str]:
    """The simplicity order, with measured models it does not list (dask) last."""
    extra = sorted({c.model for c in configs} - set(MODEL_SIMPLICITY))
    return [*MODEL_SIMPLICITY, *extra]


def _cluster_versus_local(eligible: list[Config]) -> list[str]:
    """When dask was measured: did the cluster beat one machine's models, and by how much?"""
    dask = [c for c in eligible if c.model == "dask"]
    local = [c for c in eligible if c.model != "dask"]
    if not dask or not local:
        return []
    best_dask = max(dask, key=lambda c: c.throughput_rps)
    best_local = max(local, key=lambda c: c.throughput_rps)
    if best_local.throughput_rps >= best_dask.throughput_rps:
        why = ""
        if dask_overhead_dominates(best_dask):
            overhead = dask_metric(best_dask, "task_overhead_ms") or 0.0
            task = dask_metric(best_dask, "task_compute_ms") or 0.0
            why = (f"; dask spent {w.milliseconds(overhead)} of overhead per task on "
                   f"{w.milliseconds(task)} of work (see the warnings)")
        return [f"{best_local.label} on one machine beat the dask cluster for this workload: "
                f"{w.rps(best_local.throughput_rps)} records/s, "
                f"{w.times(best_local.throughput_rps / max(best_dask.throughput_rps, 1e-12))} dask's "
                f"best ({best_dask.label}, {w.rps(best_dask.throughput_rps)} records/s){why}"]
    external = any((getattr(t, "model_metrics", None) or {}).get("cluster") == "external"
                   for t in best_dask.trials)
    where = (" on an external cluster (its cores need not be this machine's: compare like with "
             "like)") if external else ""
    return [f"the dask cluster beat one machine's best: {best_dask.label} ran "
            f"{w.rps(best_dask.throughput_rps)} records/s{where}, "
            f"{w.times(best_dask.throughput_rps / max(best_local.throughput_rps, 1e-12))} "
            f"{best_local.label}'s {w.rps(best_local.throughput_rps)}"]


def _others(eligible: list[Config], choice: Config, limit: int = 4) -> list[str]:
    rest = sorted((c for c in eligible if c is not choice), key=lambda c: -c.throughput_rps)
    if not rest:
        return []
    shown = ", ".join(f"{c.label} {w.rps(c.throughput_rps)}" for c in rest[:limit])
    more = f" and {len(rest) - limit} more" if len(rest) > limit else ""
    return [f"other configurations within the constraints: {shown}{more} records/s"]


def _sentence(choice: Config, best: Config, sequential: Config | None, margin: float) -> str:
    if choice.model == "sequential":
        if best is choice:
            return (f"keep it sequential — nothing within the constraints was faster "
                    f"({w.rps(choice.throughput_rps)} records/s)")
        return (f"keep it sequential — nothing beat it by more than {w.pct(margin)} (best: "
                f"{best.label}, {w.times(best.throughput_rps / choice.throughput_rps)}, "
                f"{w.rps(best.throughput_rps)} vs {w.rps(choice.throughput_rps)} records/s)")
    if sequential is None:
        return (f"use {choice.label} — {w.rps(choice.throughput_rps)} records/s, the best "
                "measured (no sequential trial to compare against)")
    speedup = choice.throughput_rps / sequential.throughput_rps
    return (f"use {choice.label} — {w.times(speedup)} faster than sequential "
            f"({w.rps(choice.throughput_rps)} vs {w.rps(sequential.throughput_rps)} records/s)")
