"""celery: a worker queue — records sent as tasks through a real broker to N worker processes.

The seed story's "simpler model" for batch jobs: the job's function stays synchronous, a
broker (Redis or RabbitMQ, `--broker`) holds the work, and N `celery worker` processes
(solo pool: each runs one task at a time, so N is the number of records in flight, as
for processes) take tasks from it. The workers are the trial's children, started before
the timed window and stopped after it, so the parent's tree sampler bills their CPU and
memory to the trial; they load the target by its string (never pickled), run setup and a
warm-up record, and only records travel (pickled: the queue is the trial's own).

Everything the trial creates on the broker is its own and deleted afterwards: a task
queue and a reply queue named after a per-trial token, and on Redis every kombu key under
a per-trial prefix (so restoring unacknowledged messages never touches another client's).
On RabbitMQ the queues also expire 10 minutes after a trial that was killed left them.

Completions come back on the reply queue, through the broker — not a results backend,
and not the control pipe. A producer that must know when its batch is done pays for that
news (Celery's rpc:// backend is the same reply queue); the same path would work with
workers on other machines; and every *execution* reports, so a task that ran twice
(redelivered after its worker died) is counted twice instead of overwriting one result.
Its cost — one small message per task — is part of the per-task overhead reported.

Acknowledgements are late by default (after the task ran): a worker killed mid-task
leaves its tasks to the broker, which redelivers them (RabbitMQ at once; Redis after the
visibility timeout, sized here from the measured task time). `acks="early"`, Celery's own
default, loses them instead; either way the trial ends and says which tasks it lost.

What the trial learns beyond the Tally goes to `hooks.model_metrics` (→ Trial.model_metrics):
broker (password redacted), broker_kind ("redis" | "amqp"), celery_version, acks, chunk,
chunk_option, chunk_auto_record_ms, visibility_timeout_s (Redis), queue, celery_workers,
worker_threads; tasks, records_per_task, task_overhead_ms, task_compute_ms,
record_compute_ms, overhead_share (as for dask); broker_latency_p50/p99_ms, pickup_p50/p99_ms,
enqueue_start_p50/p99_ms (see `metrics`), publish_ms (the producer's
wall time per task sent: Celery's send_task, one thread); queue_depth_peak, queue_depth_mean, queue_depth
{t_s, depth}; workers_cpu_s, workers_cpu_util, workers_rss_peak_bytes,
workers_rss_total_bytes, per_worker [{address, pid, host, cpu_user_s, cpu_system_s,
cpu_util, rss_peak_bytes, tasks, records}]; broker_cpu_s and broker_process (a broker on
this machine: its whole CPU in the window, other clients included); cluster_connections
(the trial tree's TCP connections before and after the window, the larger: the queue's
own plumbing), broker_connections (those to the broker); tasks_sent, tasks_done,
tasks_lost, tasks_redelivered, duplicate_executions, workers_lost, worker_exits;
teardown_errors.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from typing import Any

import psutil

from profiler.extras import install_hint
from profiler.models.base import Hooks, Model, unpicklable_reason
from profiler.models.celery import worker as cw
from profiler.models.celery.metrics import Execution, depth_metrics, outcome, queue_metrics
from profiler.models.celery.options import (
    CeleryOptions,
    broker_address,
    broker_reason,
    celery_options,
    redact,
)
from profiler.models.celery.plumbing import Broker, WorkerSet
from profiler.models.dask.metrics import task_metrics, worker_metrics
from profiler.models.processes import ProcessesModel, WorkerCrashed
from profiler.models.workers import Tally, chunks
from profiler.workload import Workload

AUTO_TASK_S = 0.1  # chunk=auto aims at tasks of about this long
CALIBRATE_S = 0.2  # per worker, for chunk=auto
MIN_TASKS_PER_WORKER = 2  # chunk=auto never makes fewer tasks than this per worker
PROBE_TASKS = 30  # empty tasks, one at a time, before the window: the broker's own latency
PREFETCH = 4  # Celery's default worker_prefetch_multiplier: reserved tasks per worker
VISIBILITY_MIN_S = 5.0  # Redis: redeliver a dead worker's tasks after at least this long
VISIBILITY_FACTOR = 10  # … or this many times the time its reserved tasks should take
STALL_AFTER_DEATH_S = 3.0  # no completion this long after a worker died (+ visibility): lost


class CeleryModel(Model):
    name = "celery"
    # A worker queue is processes plus a broker to run: one step less simple than processes
    # for either handler form (an async handler runs in a loop per worker, as there), and
    # simpler than any async rewrite — the seed's "simpler model" for batch jobs.
    simplicity = tuple(rank + 0.5 for rank in ProcessesModel.simplicity)  # type: ignore[assignment]
    opt_in = True  # it needs a broker: only when named (--models …,celery)
    handlers_in_other_processes = True
    option_flags = ("broker", "chunk")

    def max_concurrency(self, cpu_count: int) -> int:
        return 16 * cpu_count  # worker processes; an I/O-bound queue runs many per core

    def climb_cap(self, cpu_count: int) -> int:
        return 4 * cpu_count  # each worker is a process (~40 MiB): the sweep stops here

    def cap_reason(self, cpu_count: int) -> str:
        return ("4 worker processes per core, a safety bound on start-up within the budget "
                "(--concurrency goes to 16 per core)")

    def default_grid(self, cpu_count: int) -> list[int]:
        return [cpu_count]

    def check_options(self, options: Mapping[str, Any]) -> None:
        celery_options(options)

    def options_reason(self, options: Mapping[str, Any]) -> str | None:
        return broker_reason(celery_options(options))

    def public_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(options)
        if isinstance(out.get("broker"), str):
            out["broker"] = redact(out["broker"])
        return out

    def can_run(self, workload: Workload, sample: list[Any]) -> str | None:
        import importlib.util

        if importlib.util.find_spec("celery") is None:
            return f"celery needs celery and a broker client: {install_hint('celery')}"
        return unpicklable_reason(sample, self.name, "celery workers")

    def run(self, workload: Workload, records: list[Any], concurrency: int, hooks: Hooks,
            target: str) -> Tally:
        opts = celery_options(hooks.options)
        reason = unpicklable_reason(records, self.name, "celery workers") or broker_reason(opts)
        if reason:
            raise RuntimeError(reason)
        import celery

        metrics: dict[str, Any] = {
            "broker": redact(opts.broker), "broker_kind": "redis" if opts.is_redis else "amqp",
            "celery_version": celery.__version__, "acks": opts.acks, "chunk_option": opts.chunk_label,
        }
        folder = tempfile.mkdtemp(prefix="concur-celery-")
        names = cw.QueueNames(uuid.uuid4().hex[:16])
        try:
            return _run(opts, names, folder, records, concurrency, hooks, target, metrics)
        finally:
            hooks.model_metrics.update(metrics)
            shutil.rmtree(folder, ignore_errors=True)


def _run(opts: CeleryOptions, names: cw.QueueNames, folder: str, records: list[Any], n: int,
         hooks: Hooks, target: str, metrics: dict[str, Any]) -> Tally:
    warm_file = os.path.join(folder, "warm.pickle")
    with open(warm_file, "wb") as fh:
        pickle.dump(records[:50], fh, protocol=pickle.HIGHEST_PROTOCOL)
    spec = cw.WorkerSpec(opts.broker, names, target, 0, n, opts.acks == "late", warm_file,
                         CALIBRATE_S if opts.chunk is None else 0.0, os.getpid(),
                         [p or os.getcwd() for p in sys.path])  # "" = the trial's cwd
    workers = WorkerSet(spec, n, folder)
    broker: Broker | None = None
    try:
        record_s = workers.start()
        chunk = opts.chunk or _auto_chunk(record_s, len(records), n, metrics)
        visibility = opts.visibility_timeout_s or max(
            VISIBILITY_MIN_S, VISIBILITY_FACTOR * PREFETCH * chunk * record_s)
        transport = _transport_options(opts, names, visibility)
        metrics.update(chunk=chunk, celery_workers=n, worker_threads=n, queue=names.tasks)
        if opts.is_redis:
            metrics["visibility_timeout_s"] = visibility
        broker = Broker(opts, names, transport)
        broker.group = n  # a task per worker per round trip: none waits for the producer
        workers.go(transport)
        probes = broker.probe(PROBE_TASKS)
        metrics["cluster_connections"] = hooks.tree_connections()
        metrics["broker_connections"] = _broker_connections(opts)
        sizes = [len(c) for c in chunks(records, chunk)]
        stall_s = STALL_AFTER_DEATH_S + (visibility if opts.is_redis and opts.acks == "late" else 0.0)
        batches = list(chunks(records, chunk))
        broker_cpu0 = _broker_cpu(opts)
        broker.start_sampling(workers.pids(), workers)
        with hooks.window():
            start = time.perf_counter()
            broker.publish_all(batches)
            published_s = time.perf_counter() - start
            gone = broker.collect(workers, stall_s)
            wall_s = time.perf_counter() - start
        sampled = broker.stop_sampling()
        metrics["publish_ms"] = published_s / max(len(batches), 1) * 1000
        after = hooks.tree_connections()
        if after is not None:
            metrics["cluster_connections"] = max(metrics["cluster_connections"] or 0, after)
        if broker_cpu0 is not None and (broker_cpu1 := _broker_cpu(opts)) is not None:
            metrics.update(broker_process=broker_cpu0[0], broker_cpu_s=broker_cpu1[1] - broker_cpu0[1])
        return _tally(broker, list(broker.sent), sizes, sampled, probes, workers, wall_s, gone, metrics)
    finally:
        metrics["teardown_errors"] = workers.stop()
        if broker is not None:
            broker.close()


def _tally(broker: Broker, sent: list[str], sizes: list[int], sampled: dict[str, Any],
           probes: list[float], workers: WorkerSet, wall_s: float, gone: str | None,
           metrics: dict[str, Any]) -> Tally:
    """Merge each task's first execution; a task that never completed is an error per record."""
    executions = [Execution.from_reply(r) for r in broker.replies if r[0] in broker.sent_ids]
    result = outcome(sent, executions)
    metrics.update(tasks_sent=len(sent), tasks_done=len(result.first), tasks_lost=len(result.lost),
                   tasks_redelivered=result.redelivered, duplicate_executions=result.duplicates,
                   workers_lost=len(workers.exits), worker_exits=list(workers.exits.values()))
    if gone:
        raise WorkerCrashed(f"{gone} ({len(result.first)} of {len(sent)} celery tasks had finished)")
    tally = Tally()
    by_worker: dict[str, list[int]] = {}
    bodies: list[float] = []
    for e in result.first.values():
        if e.failure:
            _chunk_failed(tally, "TaskFailed", e.failure, e.records)
        else:
            tally.merge(Tally.from_wire(e.tally))
        bodies.append(e.body_s)
        counts = by_worker.setdefault(f"worker-{e.worker}", [0, 0])
        counts[0] += 1
        counts[1] += e.records
    size_of = dict(zip(sent, sizes, strict=True))
    why = ("its worker died and the broker did not redeliver it (acks early)" if metrics["acks"] == "early"
           else "no worker completed it after a worker died")
    for task_id in result.lost:
        _chunk_failed(tally, "TaskLost", f"celery task {task_id} never completed: {why}", size_of[task_id])
    metrics.update(task_metrics(wall_s, workers.n, bodies, tally.latencies_s, len(sent)))
    metrics.update(queue_metrics(executions, probes))
    metrics.update(depth_metrics(sampled["t_s"], sampled["depth"]))
    metrics.update(worker_metrics(workers.usage(sampled["rss_peak"]), by_worker, wall_s))
    return tally


def _chunk_failed(tally: Tally, kind: str, message: str, size: int) -> None:
    tally.errors[kind] += size
    seen = tally.messages.setdefault(kind, [])
    if len(seen) < 3:
        seen.append(message[:300])


def _auto_chunk(record_s: float, records: int, n: int, metrics: dict[str, Any]) -> int:
    """Records per task for ~AUTO_TASK_S tasks, from the workers' calibration."""
    cap = max(1, records // (n * MIN_TASKS_PER_WORKER))
    metrics["chunk_auto_record_ms"] = record_s * 1000
    return max(1, min(cap, round(AUTO_TASK_S / max(record_s, 1e-9))))


def _transport_options(opts: CeleryOptions, names: cw.QueueNames, visibility_s: float) -> dict[str, Any]:
    if not opts.is_redis:
        return {}
    # Restore a dead worker's unacknowledged tasks within a second of the visibility
    # timeout, and only this trial's (the prefix).
    return {"global_keyprefix": names.keyprefix, "visibility_timeout": visibility_s,
            "unacked_restore_interval": 1, "unacked_restore_throttle": 1}


def _broker_pids(opts: CeleryOptions) -> list[int]:
    """The process listening on the broker's port, when the broker runs on this machine."""
    host, port = broker_address(opts.broker)
    try:
        local = {socket.gethostbyname(host)} & {"127.0.0.1", "0.0.0.0"} or host in ("localhost", "::1")
    except OSError:
        return []
    if not local:
        return []
    with contextlib.suppress(psutil.Error, OSError):
        return sorted({c.pid for c in psutil.net_connections("tcp")
                       if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid})
    return []


def _broker_cpu(opts: CeleryOptions) -> tuple[str, float] | None:
    for pid in _broker_pids(opts)[:1]:
        with contextlib.suppress(psutil.Error):
            p = psutil.Process(pid)
            cpu = p.cpu_times()
            return p.name(), cpu.user + cpu.system
    return None


def _broker_connections(opts: CeleryOptions) -> int | None:
    """TCP connections from this trial's process tree to the broker's port."""
    _, port = broker_address(opts.broker)
    try:
        me = psutil.Process()
        family = [me, *me.children(recursive=True)]
    except psutil.Error:
        return None
    count = 0
    for p in family:
        with contextlib.suppress(psutil.Error):
            count += sum(1 for c in p.net_connections("tcp") if c.raddr and c.raddr.port == port
                         and c.status == psutil.CONN_ESTABLISHED)
    return count

