"""The celery model's numbers: what a queue costs per task, how deep it got, what was lost.

Pure arithmetic over the executions the workers reported (`worker.Reply`), the queue
depth the trial sampled and the task ids it sent, so it is unit-tested with hand-made
numbers. Every key lands in `Trial.model_metrics` (see `profiler.models.celery.model`).

Three views of the per-task cost, because they answer different questions:
- `broker_latency_*` — enqueue→start of a task sent to an idle worker on an empty queue
  (probes before the window): the broker's own round trip, nothing queued ahead;
- `pickup_*` — on one worker, from the end of a task to the start of the next one that
  was already waiting: what the worker pays per task under load (ack, fetch, decode,
  the reply);
- `enqueue_start_*` — enqueue→start of every task in the window: the above plus the
  time spent waiting behind other tasks (it grows with the queue, not with the broker).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from profiler.stats import percentile

MAX_DEPTH_POINTS = 300


@dataclass(frozen=True)
class Execution:
    """One run of one task on one worker, as its reply said."""

    task_id: str
    worker: int
    pid: int
    sent_at: float  # epoch s, by the producer
    started_at: float  # epoch s, by the worker
    body_s: float
    records: int
    tally: Any
    redelivered: bool
    failure: str | None = None

    @property
    def ended_at(self) -> float:
        return self.started_at + self.body_s

    @classmethod
    def from_reply(cls, reply: Sequence[Any]) -> Execution:
        return cls(*reply)


def percentiles_ms(values_s: Sequence[float], prefix: str) -> dict[str, float]:
    """{prefix_p50_ms, prefix_p99_ms} of durations in seconds; {} when there are none."""
    if not values_s:
        return {}
    ordered = sorted(values_s)
    return {f"{prefix}_p50_ms": percentile(ordered, 50) * 1000,
            f"{prefix}_p99_ms": percentile(ordered, 99) * 1000}


@dataclass
class Outcome:
    """Each task's first execution; what ran twice, came back redelivered, or never ran."""

    first: dict[str, Execution] = field(default_factory=dict)
    duplicates: int = 0  # executions beyond a task's first (a redelivered task that had run)
    redelivered: int = 0  # executions the broker marked as redelivered
    lost: list[str] = field(default_factory=list)  # task ids that never completed


def outcome(sent: Sequence[str], executions: Sequence[Execution]) -> Outcome:
    out = Outcome()
    for e in executions:
        if e.redelivered:
            out.redelivered += 1
        if e.task_id in out.first:
            out.duplicates += 1
        else:
            out.first[e.task_id] = e
    out.lost = [t for t in sent if t not in out.first]
    return out


def pickup_gaps(executions: Sequence[Execution]) -> list[float]:
    """Per worker, seconds from the end of a task to the start of the next, counted only
    when that next task had been sent before the previous one ended (it was waiting)."""
    by_worker: dict[int, list[Execution]] = {}
    for e in executions:
        by_worker.setdefault(e.pid, []).append(e)
    gaps: list[float] = []
    for runs in by_worker.values():
        runs.sort(key=lambda e: e.started_at)
        for prev, nxt in zip(runs, runs[1:], strict=False):
            if nxt.sent_at <= prev.ended_at:
                gaps.append(max(0.0, nxt.started_at - prev.ended_at))
    return gaps


def queue_metrics(executions: Sequence[Execution], probe_latencies_s: Sequence[float]) -> dict[str, Any]:
    """The three per-task latencies of the module docstring, in ms at p50 and p99."""
    out: dict[str, Any] = {}
    out.update(percentiles_ms(probe_latencies_s, "broker_latency"))
    out.update(percentiles_ms(pickup_gaps(executions), "pickup"))
    out.update(percentiles_ms([max(0.0, e.started_at - e.sent_at) for e in executions],
                              "enqueue_start"))
    return out


def depth_metrics(t_s: Sequence[float], depth: Sequence[int]) -> dict[str, Any]:
    """Queue depth over the window: its peak, mean and the series (thinned to ≤ 300 points)."""
    if not depth:
        return {}
    step = max(1, -(-len(depth) // MAX_DEPTH_POINTS))
    return {"queue_depth_peak": max(depth), "queue_depth_mean": sum(depth) / len(depth),
            "queue_depth": {"t_s": [round(t, 3) for t in t_s[::step]], "depth": list(depth[::step])}}
