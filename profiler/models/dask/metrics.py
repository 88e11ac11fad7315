"""The dask model's numbers: per-task overhead, per-worker CPU and memory, lost workers.

Pure arithmetic over what the tasks, the workers' probes and the scheduler's event log
returned, so it is unit-tested with hand-made numbers. Every key lands in
`Trial.model_metrics` (see `profiler.models.dask_` for the list).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def task_metrics(wall_s: float, worker_threads: int, bodies_s: list[float],
                 latencies_s: list[float], tasks: int) -> dict[str, Any]:
    """Per-task overhead and compute (pure; see the module docstring for the formula)."""
    if not tasks or wall_s <= 0 or not bodies_s:
        return {"tasks": tasks}
    capacity = wall_s * worker_threads
    busy = sum(bodies_s)
    idle = max(0.0, capacity - busy)
    out: dict[str, Any] = {
        "tasks": tasks,
        "records_per_task": len(latencies_s) / len(bodies_s) if latencies_s else None,
        "task_overhead_ms": idle / tasks * 1000,
        "task_compute_ms": busy / len(bodies_s) * 1000,
        "overhead_share": idle / capacity,
    }
    if latencies_s:
        out["record_compute_ms"] = sum(latencies_s) / len(latencies_s) * 1000
    return out


def scheduler_events(client: Any, start: float, end: float) -> dict[str, Any]:
    """Workers that left the cluster during the window, from the scheduler's event log."""
    try:
        events = client.get_events("all")
    except Exception:
        return {}
    lost = [msg for ts, msg in events if start <= ts <= end + 1.0
            and isinstance(msg, dict) and msg.get("action") == "remove-worker"
            and not msg.get("expected")]
    return {"workers_lost": len(lost),
            "tasks_rerun": sum(len(m.get("processing-tasks") or ()) for m in lost)}


def worker_metrics(stats: Mapping[str, Any], by_worker: dict[str, list[int]],
                    wall_s: float) -> dict[str, Any]:
    """Per-worker CPU, memory, tasks and records; totals for the table."""
    per_worker = []
    for address in sorted(set(stats) | set(by_worker)):
        s = stats.get(address)
        row: dict[str, Any] = {"address": address}
        if isinstance(s, dict):
            row.update(s)
            row["cpu_util"] = (s["cpu_user_s"] + s["cpu_system_s"]) / wall_s if wall_s > 0 else None
        tasks, recs = by_worker.get(address, (0, 0))
        row.update(tasks=tasks, records=recs)
        per_worker.append(row)
    measured = [r for r in per_worker if "cpu_user_s" in r]
    out: dict[str, Any] = {"per_worker": per_worker}
    if measured:
        cpu = sum(r["cpu_user_s"] + r["cpu_system_s"] for r in measured)
        out.update(workers_cpu_s=cpu, workers_cpu_util=cpu / wall_s if wall_s > 0 else None,
                   workers_rss_peak_bytes=max(r["rss_peak_bytes"] for r in measured),
                   workers_rss_total_bytes=sum(r["rss_peak_bytes"] for r in measured),
                   hosts=len({r["host"] for r in measured}))
    return out
