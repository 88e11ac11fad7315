"""dask: the records submitted as tasks to a dask.distributed cluster.

By default a `LocalCluster` of N worker processes × `threads_per_worker` threads starts
inside the trial process before the timed window: its scheduler runs in the trial
process and its workers are the trial's children, so the parent's tree sampler sees
the whole cluster. With `scheduler="tcp://HOST:PORT"` the trial is a client of an
existing cluster instead: N is then informational (the cluster's workers are used) and
the parent's sampler sees only the client, so each worker's CPU and memory are also
measured on the worker itself (`client.run` + psutil) and returned in the model metrics.

`chunk` is the number of records per task (default 1; "auto" aims at ~100 ms per task
from a calibration round). Every task pays the cluster's price (scheduling, pickling,
the network round trip), and the model metrics say how much:

    task_overhead_ms = (window wall × worker threads − Σ task body time) ÷ tasks

i.e. the worker-thread time in the window that was not spent running the user's
function, per task. When it is as large as the work in a task, batching is the answer.

The user's function is never pickled: tasks name functions of
`profiler.models.dask.worker` by reference, and each worker loads the target by its string. Setup and a
warm-up record run on every worker thread before the window; teardown runs after it.
A worker that dies mid-trial is counted (dask re-runs its tasks elsewhere); tasks that
fail on every worker they are tried on count their records as errors; a cluster left
with no workers ends the trial as crashed, with the reason.

What the trial learns beyond the Tally goes to `hooks.model_metrics` (→ Trial.model_metrics):
cluster ("local" | "external"), scheduler_address, parent_sampled ("whole cluster" |
"client only"), dask_version, dask_workers, worker_threads, threads_per_worker,
concurrency_note (external: N was informational), chunk, chunk_option, chunk_auto_record_ms;
tasks, records_per_task, task_overhead_ms, task_compute_ms, record_compute_ms,
overhead_share; records_bytes, results_bytes (pickled payloads: records out, tallies
back); workers_cpu_s, workers_cpu_util (cores), workers_rss_peak_bytes (largest worker),
workers_rss_total_bytes, hosts, per_worker [{address, host, pid, cpu_user_s,
cpu_system_s, cpu_util, rss_peak_bytes, rss_lifetime_peak_bytes, threads, tasks,
records}]; workers_lost, tasks_rerun (scheduler event log); cluster_connections (the
trial tree's TCP connections just before and after the window, the larger: the cluster's
own plumbing); late_setups, teardown_errors.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from profiler.extras import install_hint, not_installed
from profiler.models.base import Hooks, Model, unpicklable_reason
from profiler.models.dask import worker as dw
from profiler.models.dask.metrics import scheduler_events, task_metrics, worker_metrics
from profiler.models.dask.options import DaskOptions, dask_options
from profiler.models.processes import WorkerCrashed
from profiler.models.workers import Tally, chunks
from profiler.workload import Workload, split_target

AUTO_TASK_S = 0.1  # chunk=auto aims at tasks of about this long
CALIBRATE_S = 0.2  # per worker, for chunk=auto
MIN_TASKS_PER_THREAD = 2  # chunk=auto never makes fewer tasks than this per worker thread
NO_WORKERS_GRACE_S = 8.0  # a cluster without workers this long ends the trial
CONNECT_TIMEOUT_S = 10.0
STARTUP_TIMEOUT_S = 60.0
CLEANUP_TIMEOUT_S = 15.0


class DaskModel(Model):
    name = "dask"
    simplicity = (6, 6)
    # Runs only when named (--models ...,dask): it starts a cluster per trial, or uses a
    # shared one; the default plan and sweep leave it out.
    opt_in = True
    handlers_in_other_processes = True
    option_flags = ("scheduler", "chunk", "threads_per_worker")

    def check_options(self, options: Mapping[str, Any]) -> None:
        dask_options(options)

    def max_concurrency(self, cpu_count: int) -> int:
        # N worker processes of a local cluster; with --scheduler, N is informational.
        return 2 * cpu_count

    def default_grid(self, cpu_count: int) -> list[int]:
        return [cpu_count]

    def cap_reason(self, cpu_count: int) -> str:
        return "2 worker processes per core in a local cluster started per trial (a safety bound)"

    def first_step(self, options: Mapping[str, Any]) -> tuple[int, int]:
        # An external cluster uses all its workers whatever N says: one trial, at N=1.
        return (1, 1) if options.get("scheduler") else (2, 0)

    def can_run(self, workload: Workload, sample: list[Any]) -> str | None:
        reason = not_installed("dask", "the dask model")
        if reason:
            return reason
        return unpicklable_reason(sample, self.name, "dask workers")

    def run(self, workload: Workload, records: list[Any], concurrency: int, hooks: Hooks,
            target: str) -> Tally:
        opts = dask_options(hooks.options)
        reason = unpicklable_reason(records, self.name, "dask workers")  # before a cluster starts
        if reason:
            raise RuntimeError(reason)
        try:
            import distributed
        except ImportError as exc:
            raise RuntimeError(f"the dask model needs dask.distributed ({exc}): "
                               f"{install_hint('dask')}") from None
        logging.getLogger("distributed").setLevel(logging.CRITICAL)  # we report what matters
        metrics: dict[str, Any] = {"chunk_option": opts.chunk_label}
        try:
            with _connect(distributed, opts, concurrency, metrics) as client:
                return _run_on(distributed, client, opts, records, concurrency, hooks, target, metrics)
        finally:
            hooks.model_metrics.update(metrics)


@contextlib.contextmanager
def _connect(distributed: Any, opts: DaskOptions, n: int, metrics: dict[str, Any]) -> Iterator[Any]:
    metrics["dask_version"] = distributed.__version__
    if opts.scheduler:
        try:
            _refuses(opts.scheduler)
            client = distributed.Client(opts.scheduler, timeout=CONNECT_TIMEOUT_S)
        except Exception as exc:
            raise RuntimeError(f"cannot reach the dask scheduler at {opts.scheduler}: "
                               f"{type(exc).__name__}: {exc}") from None
        metrics.update(cluster="external", scheduler_address=opts.scheduler,
                       parent_sampled="client only")
        try:
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.close(timeout=CLEANUP_TIMEOUT_S)
        return
    cluster = distributed.LocalCluster(
        n_workers=n, threads_per_worker=opts.threads_per_worker, processes=True,
        host="127.0.0.1", scheduler_port=0, dashboard_address=None,
        silence_logs=logging.CRITICAL,
    )
    metrics.update(cluster="local", scheduler_address=cluster.scheduler_address,
                   parent_sampled="whole cluster")
    try:
        client = distributed.Client(cluster)
        try:
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.close(timeout=CLEANUP_TIMEOUT_S)
    finally:
        with contextlib.suppress(Exception):
            cluster.close(timeout=CLEANUP_TIMEOUT_S)


def _refuses(address: str) -> None:
    """Fail at once on a TCP scheduler address nobody listens on: dask's client retries
    a refused connection until its timeout (10 s of a user's wait for a typo'd port)."""
    if not address.startswith("tcp://"):
        return  # tls:// or another transport: the client's own handshake decides
    host, _, port = address.removeprefix("tcp://").rpartition(":")
    with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
        pass


def _run_on(distributed: Any, client: Any, opts: DaskOptions, records: list[Any], n: int,
            hooks: Hooks, target: str, metrics: dict[str, Any]) -> Tally:
    external = opts.scheduler is not None
    threads = _workers(client, n, external)
    addresses = sorted(threads)
    slots = sum(threads.values())
    token = uuid.uuid4().hex
    spec: dw.TaskSpec = (token, absolute_target(target), len(addresses), opts.threads_per_worker)
    metrics.update(dask_workers=len(addresses), worker_threads=slots,
                   threads_per_worker=max(threads.values()))
    if external:
        metrics["concurrency_note"] = (f"N={n} is informational: the cluster's {len(addresses)} "
                                       f"workers ({slots} threads) ran the records")
    try:
        sys_path = [p for p in sys.path if p]
        client.run(dw.add_sys_path, sys_path)
        _warm_up(distributed, client, spec, threads, addresses, records)
        chunk = opts.chunk or _auto_chunk(distributed, client, spec, addresses, records, slots, metrics)
        metrics["chunk"] = chunk
        # The cluster's own TCP plumbing (client, scheduler, workers, nannies), counted the
        # way the parent's sampler counts, so the analysis can tell it from the workload's.
        metrics["cluster_connections"] = hooks.tree_connections()
        client.run(dw.probe_start, token)
        sizes = [len(c) for c in chunks(records, chunk)]
        with hooks.window():
            start_wall, start = time.time(), time.perf_counter()
            payloads = [pickle.dumps(c, protocol=pickle.HIGHEST_PROTOCOL) for c in chunks(records, chunk)]
            futures = client.map(dw.run_chunk, payloads, spec=spec, pure=False)
            lost = _wait_all(distributed, client, futures)
            outcome = _collect(client, futures, sizes) if lost is None else None
            wall_s = time.perf_counter() - start
        stats = client.run(dw.probe_stop, token, on_error="return")
        after = hooks.tree_connections()  # the client's pools grow during the window: keep the larger
        if after is not None:
            metrics["cluster_connections"] = max(metrics["cluster_connections"] or 0, after)
        metrics.update(scheduler_events(client, start_wall, start_wall + wall_s))
        if lost is not None:
            done = sum(1 for f in futures if f.status == "finished")
            raise WorkerCrashed(f"{lost} ({done} of {len(futures)} dask tasks had finished)")
        assert outcome is not None
        tally, bodies, by_worker, wires, late = outcome
        metrics.update(task_metrics(wall_s, slots, bodies, tally.latencies_s, len(futures)))
        metrics.update(records_bytes=sum(len(p) for p in payloads),
                       results_bytes=sum(len(pickle.dumps(wire)) for wire in wires),
                       late_setups=late)
        metrics.update(worker_metrics(stats, by_worker, wall_s))
        return tally
    finally:
        metrics["teardown_errors"] = _teardown(distributed, client, spec, token)


def absolute_target(target: str) -> str:
    """A file target as an absolute path: a worker's working directory is not ours."""
    base, attr = split_target(target)
    if (base.endswith(".py") or os.sep in base) and os.path.isfile(base):
        base = os.path.abspath(base)
    return base if attr is None else f"{base}:{attr}"


def _workers(client: Any, n: int, external: bool) -> dict[str, int]:
    """{worker address: threads}, once the cluster has its workers."""
    try:
        client.wait_for_workers(1 if external else n,
                                timeout=CONNECT_TIMEOUT_S if external else STARTUP_TIMEOUT_S)
    except Exception as exc:
        where = "the cluster" if external else "the local cluster"
        raise RuntimeError(f"{where} has no workers ready ({type(exc).__name__}: {exc})") from None
    return dict(client.nthreads())


def _warm_up(distributed: Any, client: Any, spec: dw.TaskSpec, threads: dict[str, int],
             addresses: list[str], records: list[Any]) -> None:
    """Setup and one record on every worker thread, pinned, before the window."""
    futures, i = [], 0
    for rank, address in enumerate(addresses):
        for _ in range(threads[address]):
            payload = pickle.dumps(records[i % len(records)])
            i += 1
            futures.append(client.submit(dw.warm, spec, rank, payload, workers=[address],
                                         allow_other_workers=False, pure=False))
    _wait_pinned(distributed, client, futures, addresses, "setup or warm-up")
    for future, address in zip(futures, [a for a in addresses for _ in range(threads[a])], strict=True):
        if future.status == "error":
            exc = future.exception()
            raise RuntimeError(f"setup on dask worker {address} failed: {type(exc).__name__}: {exc}")
        if future.status != "finished":
            raise RuntimeError(f"warm-up on dask worker {address} ended {future.status}")


def _wait_pinned(distributed: Any, client: Any, futures: list[Any], addresses: list[str],
                 stage: str) -> None:
    """Wait for tasks pinned to workers; a pinned task waits for a dead worker forever."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        try:
            distributed.wait(futures, timeout=0.5)
            return
        except TimeoutError:
            gone = sorted(set(addresses) - set(client.nthreads()))
            if gone:
                raise RuntimeError(f"dask worker {gone[0]} died during {stage}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"{stage} on the dask workers took over {STARTUP_TIMEOUT_S:g} s") from None


def _auto_chunk(distributed: Any, client: Any, spec: dw.TaskSpec, addresses: list[str], records: list[Any],
                slots: int, metrics: dict[str, Any]) -> int:
    """Records per task for ~AUTO_TASK_S tasks, from a short timed run on each worker."""
    payload = pickle.dumps(records[:50])
    futures = [client.submit(dw.calibrate, spec, payload, CALIBRATE_S, workers=[a],
                             allow_other_workers=False, pure=False) for a in addresses]
    _wait_pinned(distributed, client, futures, addresses, "the chunk=auto calibration")
    runs = client.gather(futures)
    count, seconds = sum(r[0] for r in runs), sum(r[1] for r in runs)
    per_record = seconds / count if count else AUTO_TASK_S
    cap = max(1, len(records) // (slots * MIN_TASKS_PER_THREAD))
    chunk = max(1, min(cap, round(AUTO_TASK_S / max(per_record, 1e-9))))
    metrics["chunk_auto_record_ms"] = per_record * 1000
    return chunk


def _wait_all(distributed: Any, client: Any, futures: list[Any]) -> str | None:
    """Wait for every task; None, or why the trial cannot finish (no workers, no scheduler)."""
    stop = threading.Event()
    reason: list[str] = []

    def watch() -> None:
        empty_since: float | None = None
        while not stop.wait(0.5):
            try:
                alive = len(client.nthreads())
            except Exception as exc:
                reason.append(f"lost the dask scheduler ({type(exc).__name__}: {exc})")
                break
            if alive:
                empty_since = None
                continue
            empty_since = empty_since or time.monotonic()
            if time.monotonic() - empty_since >= NO_WORKERS_GRACE_S:
                reason.append(f"every dask worker left the cluster and none came back within "
                              f"{NO_WORKERS_GRACE_S:g} s")
                break
        if reason:
            with contextlib.suppress(Exception):
                client.cancel(futures)

    watcher = threading.Thread(target=watch, name="concur-dask-watch", daemon=True)
    watcher.start()
    try:
        distributed.wait(futures)
    except Exception:  # FuturesCancelledError: the watcher cancelled them, and says why
        if not reason:
            raise
    finally:
        stop.set()
        watcher.join(5)
    return reason[0] if reason else None


def _collect(client: Any, futures: list[Any],
             sizes: list[int]) -> tuple[Tally, list[float], dict[str, list[int]], list[Any], int]:
    """Merge the tasks' tallies; a failed task counts each of its records as an error."""
    ok = [f for f in futures if f.status == "finished"]
    values = iter(client.gather(ok))
    tally, bodies = Tally(), []
    by_worker: dict[str, list[int]] = {}
    wires: list[Any] = []
    late = 0
    for future, size in zip(futures, sizes, strict=True):
        if future.status == "finished":
            wire, body_s, address, late_setups = next(values)
            tally.merge(Tally.from_wire(wire))
            bodies.append(body_s)
            counts = by_worker.setdefault(address, [0, 0])
            counts[0] += 1
            counts[1] += size
            wires.append(wire)  # sized after the window: pickling them here would bill it
            late = max(late, late_setups)
        else:
            exc = future.exception() if future.status == "error" else None
            _chunk_failed(tally, exc, future.status, size)
    return tally, bodies, by_worker, wires, late


def _chunk_failed(tally: Tally, exc: BaseException | None, status: str, size: int) -> None:
    """Every record of a task that never returned is an error of the task's failure type
    (KilledWorker: every worker that tried it died). No latency: none was measured."""
    kind = type(exc).__name__ if exc is not None else f"Task{status.capitalize()}"
    tally.lost(kind, size, str(exc) if exc is not None else f"dask task {status}")


def _teardown(distributed: Any, client: Any, spec: dw.TaskSpec, token: str) -> list[str]:
    """Teardown on every thread of the workers still alive, bounded in time; never raises."""
    errors: list[str] = []
    try:
        threads = dict(client.nthreads())
        futures = [client.submit(dw.teardown, spec, workers=[a], allow_other_workers=False,
                                 pure=False) for a, t in threads.items() for _ in range(t)]
        distributed.wait(futures, timeout=CLEANUP_TIMEOUT_S)
        for f in futures:
            if f.status == "finished":
                errors += f.result()
        for result in client.run(dw.forget, token, on_error="return").values():
            if isinstance(result, list):
                errors += result
    except Exception as exc:  # the window is over: a cleanup failure must not lose the trial
        errors.append(f"teardown: {type(exc).__name__}: {exc}")
    return errors[:5]
