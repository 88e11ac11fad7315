"""Where did the workers' time go? On CPU, waiting for a CPU, or waiting for something else.

Worker-seconds (workers × wall seconds) is the time every worker could have spent on a
record. On-CPU is user + system CPU time; run-queue wait is time runnable but not
running (from /proc schedstat: too many runnable threads for the cores, or the GIL
handing off); the rest is waiting off CPU: I/O, locks, sleeps. The split tells a reader
whether adding workers can help (lots of waiting) or only adds queueing (run-queue).

Fractions sum to 1. When CPU + run-queue exceed the worker-seconds (a process pool whose
workers spawn helpers, sampling jitter) both are scaled down to fit and waiting is 0.
Without run-queue or CPU measurements there is no split: None, shown as "n/a".
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable

from profiler.results import Decomposition, Trial


def decompose(trial: Trial) -> Decomposition | None:
    """The split of one trial's worker-seconds; None when CPU or run-queue wait was not measured."""
    cpu = trial.cpu_s
    if cpu is None or trial.runqueue_wait_s is None or trial.wall_s <= 0:
        return None
    worker_s = max(trial.workers, 1) * trial.wall_s
    on_cpu = max(cpu, 0.0) / worker_s
    runqueue = max(trial.runqueue_wait_s, 0.0) / worker_s
    busy = on_cpu + runqueue
    if busy > 1.0:
        on_cpu, runqueue = on_cpu / busy, runqueue / busy
    return Decomposition(on_cpu, runqueue, max(1.0 - on_cpu - runqueue, 0.0), worker_s)


def mean_decomposition(trials: Iterable[Trial]) -> Decomposition | None:
    """The average split over repeats (no worker-seconds: they differ per repeat)."""
    splits = [d for d in map(decompose, trials) if d]
    if not splits:
        return None
    return Decomposition(*(statistics.fmean(getattr(d, k) for d in splits)
                           for k in ("on_cpu", "runqueue", "waiting")))
