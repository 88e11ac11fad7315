"""A cluster model's own caveats (dask): per-task overhead against the work, workers lost,
an external cluster's blind spot, and whether one machine's models beat the cluster.

The figures come from `Trial.model_metrics` (see `profiler.models.dask`), averaged over
a configuration's repeats by `Config.metric`.
"""

from __future__ import annotations

import math

from profiler import format as fmt
from profiler.results import Config

DASK_OVERHEAD_DOMINATES = 1.0  # per-task overhead ≥ this × per-task compute: warn
DASK_TARGET_OVERHEAD = 0.10  # the chunk we suggest keeps overhead near this share of a task


def cluster_versus_local(eligible: list[Config]) -> list[str]:
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
            overhead = best_dask.metric("task_overhead_ms") or 0.0
            task = best_dask.metric("task_compute_ms") or 0.0
            why = (f"; dask spent {fmt.ms(overhead)} of overhead per task on "
                   f"{fmt.ms(task)} of work (see the warnings)")
        return [f"{best_local.label} on one machine beat the dask cluster for this workload: "
                f"{fmt.rate(best_local.throughput_rps)} records/s, "
                f"{fmt.times(best_local.throughput_rps / max(best_dask.throughput_rps, 1e-12))} dask's "
                f"best ({best_dask.label}, {fmt.rate(best_dask.throughput_rps)} records/s){why}"]
    external = any(t.model_metrics.get("cluster") == "external"
                   for t in best_dask.trials)
    where = (" on an external cluster (its cores need not be this machine's: compare like with "
             "like)") if external else ""
    return [f"the dask cluster beat one machine's best: {best_dask.label} ran "
            f"{fmt.rate(best_dask.throughput_rps)} records/s{where}, "
            f"{fmt.times(best_dask.throughput_rps / max(best_local.throughput_rps, 1e-12))} "
            f"{best_local.label}'s {fmt.rate(best_local.throughput_rps)}"]


def suggested_chunk(overhead_ms: float, record_ms: float) -> int:
    """Records per task that bring the per-task overhead down to about 10 % of a task."""
    if record_ms <= 0:
        return 100
    exact = round(overhead_ms * (1 - DASK_TARGET_OVERHEAD) / DASK_TARGET_OVERHEAD / record_ms, 6)
    step = 10 ** max(0, math.floor(math.log10(max(exact, 1))) - 1)  # two significant digits
    return max(2, math.ceil(exact / step) * step)  # 1,952 -> 2,000; 450 stays 450


def dask_overhead_dominates(c: Config) -> bool:
    overhead, task = c.metric("task_overhead_ms"), c.metric("task_compute_ms")
    return overhead is not None and task is not None and overhead >= DASK_OVERHEAD_DOMINATES * task


def dask_warnings(configs: list[Config]) -> list[str]:
    """Per-task overhead that dominates the work, workers lost, an external cluster's blind spot."""
    out: list[str] = []
    for c in configs:
        if c.model != "dask":
            continue
        metrics = [t.model_metrics for t in c.trials]
        overhead, task = c.metric("task_overhead_ms"), c.metric("task_compute_ms")
        record = c.metric("record_compute_ms")
        per_task = c.metric("records_per_task") or 1.0
        if dask_overhead_dominates(c) and overhead is not None and task is not None:
            share = c.metric("overhead_share")
            each = ""
            if record is not None:
                each = (" (one record per task)" if round(per_task, 1) == 1 else
                        f" ({_records(per_task)} of {fmt.ms(record)} each)")
            chunk = (f"--chunk {suggested_chunk(overhead, record)} keeps it near "
                     f"{fmt.pct(DASK_TARGET_OVERHEAD)}, or " if record else "")
            spent = f"; {fmt.pct(share)} of the workers' time went to overhead" if share is not None else ""
            out.append(
                f"{c.label}: dask's per-task overhead dominates — each task cost "
                f"{fmt.ms(overhead)} of worker time outside the function (scheduling, "
                f"serialisation, transfer, waiting) against {fmt.ms(task)} of work{each}"
                f"{spent}: batch records per task ({chunk}--chunk auto for ~100 ms tasks) or use a "
                "local model")
        lost = c.metric("workers_lost")
        if lost:
            rerun = c.metric("tasks_rerun") or 0
            out.append(f"{c.label}: {fmt.count(lost)} dask worker(s) died during the timed window; dask "
                       f"re-ran {fmt.count(rerun)} task(s) elsewhere, and the throughput includes the "
                       "re-runs and the restart")
        external = [m for m in metrics if m.get("cluster") == "external"]
        if external:
            m = external[0]
            cpu, rss = c.metric("workers_cpu_util"), c.metric("workers_rss_peak_bytes")
            own = ", ".join(part for part in (
                f"{fmt.cores(cpu)} busy" if cpu is not None else "",
                f"peak RSS {fmt.mib(rss)} per worker" if rss is not None else "") if part)
            note = f"; {m['concurrency_note']}" if m.get("concurrency_note") else ""
            out.append(
                f"{c.label} ran on an external dask cluster ({m.get('scheduler_address', '?')}, "
                f"{m.get('dask_workers', '?')} workers, {m.get('worker_threads', '?')} threads): the "
                "CPU, memory and connection figures in the table are the client's only"
                + (f"; the workers measured themselves: {own}" if own else "") + note)
    return out


def _records(n: float) -> str:
    n_text = f"{n:,.0f}" if abs(n - round(n)) < 0.05 else f"{n:,.1f}"
    return f"{n_text} record{'' if n_text == '1' else 's'}"
