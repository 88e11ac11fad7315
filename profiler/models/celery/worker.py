"""The celery model's worker side: one `celery worker` (solo pool) per process, started by
the trial with `python -c` (never the trial's `__main__`) and a pipe as its control line.

A worker process:
1. receives its `WorkerSpec`, and asks the kernel to kill it when the trial dies
   (PR_SET_PDEATHSIG), so no worker outlives a trial however the trial ends;
2. loads the target by its string (the user's function is never pickled), runs setup and
   one warm-up record (and, for chunk=auto, a short calibration), and says "ready" with
   the time a record took;
3. on "go" (the broker's transport options, sized from that time) builds the Celery app,
   registers `run_chunk` and consumes the trial's own queue; "consuming" when it does;
4. runs tasks: each reports on the trial's reply queue, through the broker (see
   `profiler.models.celery.model` for why not a results backend);
5. on SIGTERM (Celery's warm shutdown) tears the context down and says "bye" with any
   teardown error.

`make_app` is also the producer's app, so both sides agree on serializer, queues and acks.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import signal
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from profiler.models.workers import SyncWorker, Tally, run_for
from profiler.workload import WorkerInfo, load_target

TASK_NAME = "concur.run_chunk"
QUEUE_EXPIRES_MS = 600_000  # RabbitMQ deletes a queue left by a killed trial after 10 min
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class QueueNames:
    """Every broker name a trial uses, unique to it (deleted after the trial)."""

    token: str

    @property
    def tasks(self) -> str:
        return f"concur.{self.token}.tasks"

    @property
    def reply(self) -> str:
        return f"concur.{self.token}.done"

    @property
    def keyprefix(self) -> str:
        """Redis: every kombu key of the trial (queues, bindings, the unacked index) under
        this prefix, so restoring unacked messages never touches another client's."""
        return f"concur.{self.token}:"


@dataclass(frozen=True)
class WorkerSpec:
    broker: str
    names: QueueNames
    target: str
    index: int
    concurrency: int
    acks_late: bool
    warm_file: str  # pickled records: the first is the warm-up, the rest calibrate
    calibrate_s: float  # chunk=auto: run records this long to time one
    parent_pid: int
    sys_path: list[str] = field(default_factory=list)


# (task id, worker index, pid, sent at, started at (epoch s), body s, records, tally wire,
#  redelivered, harness failure or None): one per execution, on the reply queue.
Reply = tuple[str, int, int, float, float, float, int, Any, bool, str | None]


def task_queue(names: QueueNames) -> Any:
    from kombu import Exchange, Queue

    # auto_delete: RabbitMQ drops the exchange with its last queue (a killed trial's too).
    return Queue(names.tasks, Exchange(names.tasks, "direct", auto_delete=True), routing_key=names.tasks,
                 queue_arguments={"x-expires": QUEUE_EXPIRES_MS})


def reply_queue(names: QueueNames) -> Any:
    from kombu import Exchange, Queue

    return Queue(names.reply, Exchange(names.reply, "direct", durable=False, auto_delete=True),
                 routing_key=names.reply,
                 durable=False, queue_arguments={"x-expires": QUEUE_EXPIRES_MS})


def make_app(broker: str, names: QueueNames, acks_late: bool, transport_options: dict[str, Any]) -> Any:
    """The Celery app of one trial, as both the producer and the workers configure it.

    Pickle, because records are Python objects (a tuple must stay a tuple) and the queue is
    the trial's own; no results backend; no remote control, task events, gossip or mingle
    (their fanout queues would outlive the trial and they are not the job's work). The
    worker heartbeat stays on, as Celery ships it: without it, a RabbitMQ worker here left
    a delivered task unstarted for 10–40 s at a time (the loop slept until some other
    traffic woke it); with it, such a wait ends within the heartbeat's 2 s, and shows in
    the pickup and enqueue→start p99."""
    from celery import Celery

    app = Celery("concur", broker=broker, set_as_current=False)
    app.conf.update(
        task_serializer="pickle", accept_content=["pickle"], task_ignore_result=True,
        task_acks_late=acks_late, task_reject_on_worker_lost=acks_late,
        task_queues=[task_queue(names)], task_default_queue=names.tasks,
        task_default_exchange=names.tasks, task_default_routing_key=names.tasks,
        task_create_missing_queues=False,
        worker_enable_remote_control=False, worker_send_task_events=False,
        task_send_sent_event=False, worker_hijack_root_logger=False,
        worker_redirect_stdouts=False, broker_connection_retry_on_startup=True,
        broker_transport_options=transport_options,
    )
    return app


_STATE: dict[str, Any] = {}  # this worker process's SyncWorker, index and names


def run_chunk(task: Any, records: list[Any], sent_at: float) -> None:
    """One task: every record of the chunk, then one reply (the execution, not a result)."""
    started = time.time()
    t0 = time.perf_counter()
    tally = Tally()
    failure = None
    try:
        worker: SyncWorker = _STATE["worker"]
        for record in records:
            worker.call(record, tally)  # the user's exceptions are counted, not raised
    except Exception as exc:  # the harness itself failed: the chunk's records are errors
        failure = f"{type(exc).__name__}: {exc}"
    body_s = time.perf_counter() - t0
    info = task.request.delivery_info or {}
    reply: Reply = (task.request.id, _STATE["index"], os.getpid(), sent_at, started, body_s,
                    len(records), tally.to_wire(), bool(info.get("redelivered")), failure)
    queue = _STATE["reply_queue"]
    # The default exchange routes by queue name: no binding lookup per reply (Redis).
    _STATE["producer"].publish(reply, exchange="", routing_key=queue.name, serializer="pickle",
                               retry=True)


def _die_with_parent(parent_pid: int) -> None:
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the trial died before we asked
        os._exit(1)


def _calibrate(worker: SyncWorker, records: list[Any], budget_s: float) -> float | None:
    done, seconds = run_for(worker, records, budget_s)
    return seconds / done if done else None


def main(fd: int) -> None:
    """Entry point of a worker process (see the module docstring for the protocol)."""
    conn = Connection(fd)
    spec: WorkerSpec = conn.recv()
    sys.path[:] = spec.sys_path or sys.path
    _die_with_parent(spec.parent_pid)
    try:
        workload = load_target(spec.target)
        worker = SyncWorker(workload, WorkerInfo("celery", spec.concurrency, spec.index))
        worker.open()
        with open(spec.warm_file, "rb") as fh:
            sample = pickle.load(fh)
        start = time.perf_counter()
        worker.call(sample[0], Tally())
        record_s = time.perf_counter() - start
        if spec.calibrate_s > 0:
            record_s = _calibrate(worker, sample[1:] or sample, spec.calibrate_s) or record_s
    except BaseException as exc:
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", os.getpid(), record_s))
    errors: list[str] = []
    try:
        msg = conn.recv()
        if msg[0] == "go":
            _STATE.update(worker=worker, index=spec.index, reply_queue=reply_queue(spec.names))
            _consume(conn, spec, msg[1])
    finally:
        try:
            worker.close()
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        with contextlib.suppress(OSError):
            conn.send(("bye", errors))


def _consume(conn: Connection, spec: WorkerSpec, transport_options: dict[str, Any]) -> None:
    """Run a solo-pool Celery worker on the trial's queue until SIGTERM (warm shutdown)."""
    from celery.signals import worker_ready
    from kombu import Connection, Producer

    app = make_app(spec.broker, spec.names, spec.acks_late, transport_options)
    app.task(name=TASK_NAME, bind=True)(run_chunk)
    # Replies go out on a connection of their own, blocking, outside Celery's event loop:
    # its pooled producers share the loop with the consumer, where a reply published from
    # inside a task stalled RabbitMQ deliveries for seconds.
    replies = Connection(spec.broker, transport_options=transport_options)
    _STATE["reply_queue"](replies.default_channel).declare()
    _STATE["producer"] = Producer(replies.default_channel)

    def ready(**_: Any) -> None:
        conn.send(("consuming",))

    worker_ready.connect(ready, weak=False)
    worker = app.Worker(
        hostname=f"concur{spec.index}.{spec.names.token}@{os.uname().nodename}",
        pool_cls="solo", concurrency=1, queues=[spec.names.tasks], without_gossip=True,
        without_mingle=True, loglevel="ERROR", quiet=True,
        redirect_stdouts=False,
    )
    worker.start()
