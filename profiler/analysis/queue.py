"""A worker queue's own caveats (celery): per-task broker overhead against the work, tasks
lost or redelivered when a worker died, and whether one machine's models beat the queue.

The seed calls worker queues a simpler model than an async rewrite for batch jobs; what a
reader must weigh is what each task costs on the broker (a thread pool pays none of it)
against what a queue gives (workers on other machines, work that survives a dead worker).
The figures come from `Trial.model_metrics` (see `profiler.models.celery`), averaged over
a configuration's repeats by `Config.metric`.
"""

from __future__ import annotations

from profiler import format as fmt
from profiler.analysis.cluster import suggested_chunk
from profiler.results import Config

QUEUE_MODEL = "celery"
OVERHEAD_DOMINATES = 1.0  # per-task overhead ≥ this × the work in a task: warn
WHAT_A_QUEUE_GIVES = "a queue spreads work across machines and survives a worker's loss"


def overhead_dominates(c: Config) -> bool:
    overhead, task = c.metric("task_overhead_ms"), c.metric("task_compute_ms")
    return overhead is not None and task is not None and overhead >= OVERHEAD_DOMINATES * task


def _overhead_words(c: Config) -> str:
    """'per-task overhead 2.10 ms vs 1.00 ms of work (broker enqueue→start p50 0.80 ms)'."""
    overhead, task = c.metric("task_overhead_ms") or 0.0, c.metric("task_compute_ms") or 0.0
    latency = c.metric("broker_latency_p50_ms")
    idle = f" (enqueue→start on an idle queue: {fmt.ms(latency)} p50)" if latency is not None else ""
    return f"per-task overhead {fmt.ms(overhead)} vs {fmt.ms(task)} of work{idle}"


def queue_versus_local(eligible: list[Config]) -> list[str]:
    """When the queue was measured: did it beat one machine's in-process models, and why not."""
    queue = [c for c in eligible if c.model == QUEUE_MODEL]
    local = [c for c in eligible if c.model not in (QUEUE_MODEL, "dask")]
    if not queue or not local:
        return []
    best_queue = max(queue, key=lambda c: c.throughput_rps)
    best_local = max(local, key=lambda c: c.throughput_rps)
    ratio = best_local.throughput_rps / max(best_queue.throughput_rps, 1e-12)
    if best_local.throughput_rps >= best_queue.throughput_rps:
        return [f"{best_local.label} beat the {QUEUE_MODEL} queue on this machine: "
                f"{fmt.rate(best_local.throughput_rps)} vs {fmt.rate(best_queue.throughput_rps)} "
                f"records/s ({fmt.times(ratio)}) at {best_queue.label}, {_overhead_words(best_queue)}; "
                f"{WHAT_A_QUEUE_GIVES}, which is what it would be for"]
    return [f"the {QUEUE_MODEL} queue beat every pool on this machine: {best_queue.label} ran "
            f"{fmt.rate(best_queue.throughput_rps)} records/s, {fmt.times(1 / ratio)} "
            f"{best_local.label}'s {fmt.rate(best_local.throughput_rps)}, with "
            f"{_overhead_words(best_queue)}"]


def queue_warnings(configs: list[Config]) -> list[str]:
    """Overhead that dominates the work, and tasks lost or redelivered when workers died."""
    out: list[str] = []
    for c in configs:
        if c.model != QUEUE_MODEL:
            continue
        if overhead_dominates(c):
            record = c.metric("record_compute_ms")
            per_task = c.metric("records_per_task") or 1.0
            chunk = (f"--chunk {suggested_chunk(c.metric('task_overhead_ms') or 0.0, record)} keeps it "
                     "near 10 %, or " if record else "")
            out.append(f"{c.label}: the broker's per-task cost dominates — {_overhead_words(c)}"
                       f"{' (one record per task)' if round(per_task, 1) == 1 else ''}: a thread pool "
                       f"is faster on one machine; batch records per task ({chunk}--chunk auto), "
                       f"or keep the queue for what it gives ({WHAT_A_QUEUE_GIVES})")
        lost, died = c.metric("tasks_lost") or 0, c.metric("workers_lost") or 0
        redelivered = c.metric("tasks_redelivered") or 0
        if died or lost or redelivered:
            acks = next((t.model_metrics.get("acks") for t in c.trials if t.model_metrics.get("acks")), "?")
            out.append(f"{c.label}: {fmt.count(died)} worker(s) died during the timed window; the broker "
                       f"redelivered {fmt.count(redelivered)} task(s) and {fmt.count(lost)} were lost "
                       f"(acks {acks}: "
                       + ("a task is acknowledged after it ran, so a dead worker's tasks come back"
                          if acks == "late" else
                          "a task is acknowledged on receipt, so a dead worker's tasks are gone")
                       + "); the throughput includes the redeliveries")
    return out
