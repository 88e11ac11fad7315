"""Caveats: what a reader of the recommendation must know, each with its numbers.

They name the failure modes of the story concur exists for (connections growing with N,
an event loop too busy to keep up, a machine that is the real limit) and anything that
makes the numbers less trustworthy (one run, noisy repeats, few records, crashed trials,
skipped models, a limit that could not be checked). A warning says what was seen and,
where there is one, what to do about it; it never changes the recommendation.
"""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING, Any

from profiler.analysis import wording as w
from profiler.analysis.configs import Config, concurrency_key, config_label
from profiler.results import Results

if TYPE_CHECKING:  # recommend.py imports this module; the type is only for annotations
    from profiler.analysis.recommend import Constraints

CONNECTION_GROWTH = 4.0  # highest-N connections ≥ this × lowest-N: warn
MEMORY_GROWTH = 2.0  # highest-N peak RSS > this × lowest-N: warn
CPU_SATURATED = 0.9  # cpu_util ≥ this × cpu_count: the machine is the limit
NOISY_CV = 0.10
FEW_RECORDS = 50
STILL_CLIMBING = 1.05  # top measured N this much above the next: more N may help
DASK_OVERHEAD_DOMINATES = 1.0  # per-task overhead ≥ this × per-task compute: warn
DASK_TARGET_OVERHEAD = 0.10  # the chunk we suggest keeps overhead near this share of a task

STATUS_WORDS = {"crashed": "crashed", "timeout": "timed out", "failed": "failed before its timed window"}


def choice_warnings(results: Results, configs: list[Config], choice: Config) -> list[str]:
    """Warnings about the recommended configuration itself: first, they matter most."""
    out: list[str] = []
    cpu = choice.mean_of("cpu_util")
    cpu_count = results.environment.cpu_count
    if cpu is not None and cpu_count and cpu >= CPU_SATURATED * cpu_count:
        out.append(f"CPU saturated at {choice.label}: {w.cores(cpu)} busy of {cpu_count} — the "
                   "machine, not the model, limits throughput; expect different numbers elsewhere")
    if choice.repeats == 1:
        out.append(f"{choice.label} measured once; noise unknown — repeat it (--repeat 3) before "
                   f"trusting differences under {w.pct(NOISY_CV)}")
    elif (cv := choice.throughput_cv) is not None and cv > NOISY_CV:
        out.append(f"{choice.label} is noisy: throughput varied {w.pct(cv)} (coefficient of "
                   f"variation) across {choice.repeats} repeats, above {w.pct(NOISY_CV)}")
    mine = workload_connections(choice)
    if mine is not None:
        heavy = [f"{c.label} {w.count(conns)} ({w.times(conns / max(mine, 1))})" for c in configs
                 if (conns := workload_connections(c)) is not None and c is not choice
                 and conns >= CONNECTION_GROWTH * max(mine, 1)]
        if heavy:
            out.append(f"far more connections than {choice.label}'s {w.count(mine)}: "
                       f"{', '.join(heavy)} — each would load the database that much more")
    same_model = sorted((c for c in configs if c.model == choice.model and c.concurrency >= 1),
                        key=lambda c: c.concurrency)
    # Processes stop at 2 × cores (the sweep's cap): beyond it they only queue for cores.
    at_cap = choice.model == "processes" and cpu_count and choice.concurrency >= 2 * cpu_count
    if (choice.model != "sequential" and len(same_model) >= 2 and same_model[-1] is choice
            and not at_cap
            and choice.throughput_rps > STILL_CLIMBING * same_model[-2].throughput_rps):
        out.append(f"{choice.label} is the highest concurrency measured for {choice.model} and "
                   f"still {w.pct(choice.throughput_rps / same_model[-2].throughput_rps - 1)} above "
                   f"{same_model[-2].label}: a higher N may be faster")
    return out


def run_warnings(
    results: Results, configs: list[Config], k: Constraints, choice: Config | None = None
) -> list[str]:
    """Warnings about the whole run; the choice's own noise is in `choice_warnings`."""
    out: list[str] = []
    out += _growth(configs, "connections", CONNECTION_GROWTH, "connections grow with concurrency",
                   w.count, "each worker or task opens its own; cap them with a pool")
    lagging = [(c, c.peak("loop_lag_p99_ms")) for c in configs]
    over = [f"{c.label} ({w.milliseconds(v)})" for c, v in lagging
            if v is not None and k.max_loop_lag_p99_ms is not None and v > k.max_loop_lag_p99_ms]
    if over:
        out.append(f"event-loop lag p99 over {w.milliseconds(k.max_loop_lag_p99_ms or 0)}: "
                   f"{', '.join(over)} — the loop is busy with CPU work or too many tasks")
    out += dask_warnings(configs)
    for c in configs:
        if c.errors:
            kinds = ", ".join(f"{name} ×{n}" for name, n in
                              sorted(c.errors_by_type.items(), key=lambda kv: -kv[1]))
            out.append(f"errors in {c.label}: {w.count(c.errors)} of {w.count(c.records)} records "
                       f"({w.pct(c.error_rate)})" + (f": {kinds}" if kinds else ""))
    out += _growth(configs, "rss", MEMORY_GROWTH, "peak memory grows with concurrency",
                   w.mebibytes, "each worker holds its own copy of something")
    noisy = [f"{c.label} ({w.pct(cv)})" for c in configs
             if c is not choice and (cv := c.throughput_cv) is not None and cv > NOISY_CV]
    if noisy:
        other = "other " if choice is not None else ""
        out.append(f"{other}noisy measurements (throughput varied > {w.pct(NOISY_CV)} across repeats): "
                   + ", ".join(noisy))
    few = [f"{c.label} ({min(t.records for t in c.trials)})" for c in configs
           if any(t.records < FEW_RECORDS for t in c.trials)]
    if few:
        out.append(f"few records per trial (< {FEW_RECORDS}): {', '.join(few)} — throughput is "
                   "rough; raise --records")
    for i, t in enumerate(results.trials):
        if t.status != "ok":
            detail = f": {t.status_detail}" if t.status_detail else ""
            out.append(f"{config_label(t.model, t.concurrency)} (repeat {t.repeat}, trial {i}) "
                       f"{STATUS_WORDS.get(t.status, t.status)}{detail}")
    for s in results.skipped:
        name = s.model if s.concurrency is None else config_label(s.model, s.concurrency)
        out.append(f"skipped {name}: {s.reason}")
    for field_name, limit, flag in (("connections", k.max_connections, "--max-connections"),
                                    ("rss_peak_bytes", k.max_rss_bytes, "--max-rss")):
        if limit is None:
            continue
        unmeasured = [c.label for c in configs
                      if (workload_connections(c) if field_name == "connections" else c.peak(field_name)) is None]
        if unmeasured:
            out.append(f"{flag} not checked for {', '.join(unmeasured)}: not measured")
    return out


def _growth(configs: list[Config], what: str, factor: float, title: str,
            fmt: Any, hint: str) -> list[str]:
    """Per model, compare the resource at the lowest and highest N where it was measured."""
    out: list[str] = []
    for model in dict.fromkeys(c.model for c in configs):
        measured = []
        for c in configs:
            if c.model != model:
                continue
            value = workload_connections(c) if what == "connections" else c.peak("rss_peak_bytes")
            if value is not None:
                measured.append((c, value))
        if len(measured) < 2:
            continue
        measured.sort(key=lambda cv: concurrency_key(cv[0].concurrency))
        (low_c, low), (high_c, high) = measured[0], measured[-1]
        grew = high >= factor * max(low, 1) if what == "connections" else low > 0 and high > factor * low
        if grew:
            ratio = f" ({w.times(high / low)})" if low > 0 else ""
            out.append(f"{model}: {title} — {fmt(low)} at {low_c.label}, {fmt(high)} at "
                       f"{high_c.label}{ratio}: {hint}")
    return out


def workload_connections(c: Config) -> float | None:
    """Peak connections the workload opened: for dask, less the cluster's own plumbing
    (client, scheduler, worker and nanny sockets, counted just before and after the window)."""
    conns = c.connections
    if conns is not None and c.model == "dask":
        plumbing = dask_metric(c, "cluster_connections")
        if plumbing is not None:
            conns = max(conns - plumbing, 0.0)
    return conns


def dask_metric(c: Config, key: str) -> float | None:
    """Mean of a numeric `Trial.model_metrics[key]` over the configuration's repeats."""
    vals = [float(v) for t in c.trials
            if isinstance(v := (getattr(t, "model_metrics", None) or {}).get(key), int | float)
            and not isinstance(v, bool)]
    return statistics.fmean(vals) if vals else None


def suggested_chunk(overhead_ms: float, record_ms: float) -> int:
    """Records per task that bring the per-task overhead down to about 10 % of a task."""
    if record_ms <= 0:
        return 100
    exact = round(overhead_ms * (1 - DASK_TARGET_OVERHEAD) / DASK_TARGET_OVERHEAD / record_ms, 6)
    step = 10 ** max(0, math.floor(math.log10(max(exact, 1))) - 1)  # two significant digits
    return max(2, math.ceil(exact / step) * step)  # 1,952 -> 2,000; 450 stays 450


def dask_overhead_dominates(c: Config) -> bool:
    overhead, task = dask_metric(c, "task_overhead_ms"), dask_metric(c, "task_compute_ms")
    return overhead is not None and task is not None and overhead >= DASK_OVERHEAD_DOMINATES * task


def dask_warnings(configs: list[Config]) -> list[str]:
    """Per-task overhead that dominates the work, workers lost, an external cluster's blind spot."""
    out: list[str] = []
    for c in configs:
        if c.model != "dask":
            continue
        metrics = [getattr(t, "model_metrics", None) or {} for t in c.trials]
        overhead, task = dask_metric(c, "task_overhead_ms"), dask_metric(c, "task_compute_ms")
        record = dask_metric(c, "record_compute_ms")
        per_task = dask_metric(c, "records_per_task") or 1.0
        if dask_overhead_dominates(c) and overhead is not None and task is not None:
            share = dask_metric(c, "overhead_share")
            each = ""
            if record is not None:
                each = (" (one record per task)" if round(per_task, 1) == 1 else
                        f" ({_records(per_task)} of {w.milliseconds(record)} each)")
            chunk = (f"--chunk {suggested_chunk(overhead, record)} keeps it near "
                     f"{w.pct(DASK_TARGET_OVERHEAD)}, or " if record else "")
            spent = f"; {w.pct(share)} of the workers' time went to overhead" if share is not None else ""
            out.append(
                f"{c.label}: dask's per-task overhead dominates — each task cost "
                f"{w.milliseconds(overhead)} of worker time outside the function (scheduling, "
                f"serialisation, transfer, waiting) against {w.milliseconds(task)} of work{each}"
                f"{spent}: batch records per task ({chunk}--chunk auto for ~100 ms tasks) or use a "
                "local model")
        lost = dask_metric(c, "workers_lost")
        if lost:
            rerun = dask_metric(c, "tasks_rerun") or 0
            out.append(f"{c.label}: {w.count(lost)} dask worker(s) died during the timed window; dask "
                       f"re-ran {w.count(rerun)} task(s) elsewhere, and the throughput includes the "
                       "re-runs and the restart")
        external = [m for m in metrics if m.get("cluster") == "external"]
        if external:
            m = external[0]
            cpu, rss = dask_metric(c, "workers_cpu_util"), dask_metric(c, "workers_rss_peak_bytes")
            own = ", ".join(part for part in (
                f"{w.cores(cpu)} busy" if cpu is not None else "",
                f"peak RSS {w.mebibytes(rss)} per worker" if rss is not None else "") if part)
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
