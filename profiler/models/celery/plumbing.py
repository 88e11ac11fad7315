"""The celery model's moving parts on the trial's side: the worker processes (`WorkerSet`)
and the broker (`Broker`: the producer, the reply consumer, the queue-depth sampler, and
deleting everything the trial created).

Workers are `subprocess.Popen` children of the trial, so the trial's tree sampler sees
them and the trial's kill takes them down; each also dies with the trial by itself
(PR_SET_PDEATHSIG, see `worker`). Kombu connections are not thread-safe: the producer
(Celery's own pool, in the publisher thread), the reply consumer (the trial's main
thread) and the depth sampler (its thread) each have their own.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import replace
from typing import Any

import psutil

from profiler.models.celery import worker as cw
from profiler.models.celery.options import CeleryOptions, redact
from profiler.models.processes import describe_exit

STARTUP_TIMEOUT_S = 60.0
PROBE_TIMEOUT_S = 15.0
CLEANUP_TIMEOUT_S = 15.0
SAMPLE_INTERVAL_S = 0.05
EXPIRE_EVERY_S = 2.0  # Redis: refresh a TTL on the trial's keys, so a killed trial's vanish
LEFTOVER_TTL_S = 600
PIPELINE_COMMANDS = 10_000  # a publish batch is flushed at the end of its group, not by size


class WorkerSet:
    """N `celery worker` processes: started, told to consume, watched, stopped."""

    def __init__(self, spec: cw.WorkerSpec, n: int, folder: str) -> None:
        self.spec, self.n, self.folder = spec, n, folder
        self.procs: list[subprocess.Popen[bytes]] = []
        self.conns: list[Any] = []
        self.exits: dict[int, str] = {}  # worker index → how it ended, for workers that died
        self.cpu0: dict[int, Any] = {}

    def _log(self, i: int) -> str:
        return os.path.join(self.folder, f"worker-{i}.log")

    def _last_words(self, i: int) -> str:
        with contextlib.suppress(OSError), open(self._log(i), "rb") as fh:
            lines = [ln for ln in fh.read().decode(errors="replace").splitlines() if ln.strip()]
            return redact(lines[-1].strip())[:300] if lines else ""
        return ""

    def start(self) -> float:
        """Start every worker and wait for its setup and warm-up: mean seconds per record."""
        for i in range(self.n):
            parent, child = mp.Pipe()
            fd = child.fileno()
            with open(self._log(i), "wb") as err:
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-c", f"from profiler.models.celery.worker import main; main({fd})"],
                    pass_fds=(fd,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                    env=_worker_env()))
            child.close()
            parent.send(replace(self.spec, index=i))
            self.conns.append(parent)
        times = [self._expect(i, "ready", "setup or warm-up")[2] for i in range(self.n)]
        return statistics.fmean(times)

    def go(self, transport_options: dict[str, Any]) -> None:
        """Start consuming the trial's queue; return when every worker's consumer runs."""
        for conn in self.conns:
            conn.send(("go", transport_options))
        for i in range(self.n):
            self._expect(i, "consuming", "the start of its consumer")

    def _expect(self, i: int, kind: str, stage: str) -> tuple[Any, ...]:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.conns[i].poll(0.1):
                try:
                    msg = self.conns[i].recv()
                except (EOFError, OSError):
                    msg = None
                if msg and msg[0] == kind:
                    return tuple(msg)
                if msg and msg[0] == "failed":
                    raise RuntimeError(f"setup in celery worker {i} failed: {msg[1]}")
            code = self.procs[i].poll()
            if code is not None:
                words = self._last_words(i)
                raise RuntimeError(f"celery worker {i} died during {stage} ({describe_exit(code)})"
                                   + (f": {words}" if words else ""))
        raise RuntimeError(f"{stage} of celery worker {i} took over {STARTUP_TIMEOUT_S:g} s")

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def mark(self) -> None:
        """CPU of every worker now: the start of the window."""
        for i, p in enumerate(self.procs):
            with contextlib.suppress(psutil.Error):
                self.cpu0[i] = psutil.Process(p.pid).cpu_times()

    def poll(self) -> None:
        for i, p in enumerate(self.procs):
            if i not in self.exits and (code := p.poll()) is not None:
                self.exits[i] = f"worker {i} (pid {p.pid}) {describe_exit(code)}"

    @property
    def alive(self) -> int:
        return self.n - len(self.exits)

    def usage(self, rss_peak: dict[int, int]) -> dict[str, dict[str, Any]]:
        """Per worker: CPU seconds since `mark` and peak RSS (dead workers: what was seen)."""
        out: dict[str, dict[str, Any]] = {}
        host = os.uname().nodename
        for i, p in enumerate(self.procs):
            row: dict[str, Any] = {"pid": p.pid, "host": host, "cpu_user_s": 0.0, "cpu_system_s": 0.0,
                                   "rss_peak_bytes": rss_peak.get(p.pid, 0)}
            with contextlib.suppress(psutil.Error):
                now = psutil.Process(p.pid).cpu_times()
                if i in self.cpu0:
                    row.update(cpu_user_s=now.user - self.cpu0[i].user,
                               cpu_system_s=now.system - self.cpu0[i].system)
            out[f"worker-{i}"] = row
        return out

    def stop(self) -> list[str]:
        """Warm shutdown (SIGTERM), teardown errors from the workers, then kill what is left."""
        errors: list[str] = []
        for p in self.procs:
            if p.poll() is None:
                with contextlib.suppress(OSError):
                    p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + CLEANUP_TIMEOUT_S
        for i, (p, conn) in enumerate(zip(self.procs, self.conns, strict=True)):
            while p.poll() is None and time.monotonic() < deadline:
                with contextlib.suppress(EOFError, OSError):
                    if conn.poll(0.1) and (msg := conn.recv())[0] == "bye":
                        errors += [f"worker {i} teardown: {e}" for e in msg[1]]
                        with contextlib.suppress(subprocess.TimeoutExpired):
                            p.wait(max(0.1, deadline - time.monotonic()))
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(5)
        for conn in self.conns:
            conn.close()
        return errors[:5]


class Broker:
    """The trial's side of the broker: publish tasks, receive executions, sample the queue."""

    def __init__(self, opts: CeleryOptions, names: cw.QueueNames, transport: dict[str, Any]) -> None:
        from kombu import Connection, Consumer

        self.opts, self.names, self.transport = opts, names, transport
        self.app = cw.make_app(opts.broker, names, opts.acks == "late", transport)
        self.conn = Connection(opts.broker, transport_options=transport)
        channel = self.conn.default_channel
        cw.task_queue(names)(channel).declare()
        self.consumer = Consumer(channel, queues=[cw.reply_queue(names)], callbacks=[self._on_reply],
                                 accept=["pickle"], no_ack=True)
        self.consumer.consume()
        self.replies: list[cw.Reply] = []
        self.group = 1  # tasks per publish round trip (`publish_all`): the trial sets it to N
        self.done: set[str] = set()
        self.sent: list[str] = []
        self.sent_ids: set[str] = set()
        self._sampler: threading.Thread | None = None
        self._stop = threading.Event()
        self._samples: dict[str, Any] = {"t_s": [], "depth": [], "rss_peak": {}}

    def _on_reply(self, body: Any, message: Any) -> None:
        self.replies.append(body)
        self.done.add(body[0])

    def _drain(self, timeout: float) -> None:
        with contextlib.suppress(socket.timeout, TimeoutError):
            self.conn.drain_events(timeout=timeout)

    def send(self, records: list[Any], producer: Any = None) -> str:
        """One task. `declare=[]`: the task queue was declared once, here (`__init__`);
        kombu re-declares a queue with x-expires on every publish otherwise, a broker round
        trip per task that halved the producer's rate on Redis (issue 23)."""
        return self.app.send_task(cw.TASK_NAME, args=(records, time.time()), declare=[],
                                  producer=producer).id

    def probe(self, k: int) -> list[float]:
        """Enqueue→start of k empty tasks, each sent when the previous one came back."""
        latencies = []
        for _ in range(k):
            task_id = self.send([])
            deadline = time.monotonic() + PROBE_TIMEOUT_S
            while task_id not in self.done:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no celery worker ran a probe task within {PROBE_TIMEOUT_S:g} s "
                                       f"(broker {redact(self.opts.broker)})")
                self._drain(0.05)
            reply = next(r for r in reversed(self.replies) if r[0] == task_id)
            latencies.append(max(0.0, reply[4] - reply[3]))
        return latencies

    def publish_all(self, chunk_list: list[list[Any]]) -> None:
        """Send every chunk as a task, from this thread; replies wait on their queue.

        Not from a second thread while this one collects: the two traded the GIL on every
        socket call and sending a task took ~4× as long (a cost of ours, not the queue's)."""
        with self.app.producer_or_acquire() as producer:  # one producer for the batch
            group = max(1, self.group)
            for start in range(0, len(chunk_list), group):
                # Redis: a group goes in one pipeline (kombu's Producer.batch; one round trip,
                # not one per task); other transports publish at once (batch is a no-op).
                with _batched(producer):
                    for records in chunk_list[start:start + group]:
                        task_id = self.send(records, producer)
                        self.sent_ids.add(task_id)
                        self.sent.append(task_id)

    def collect(self, workers: WorkerSet, stall_s: float) -> str | None:
        """Wait for every task's execution. None when all came back, or when tasks stopped
        coming back for `stall_s` after a worker died (they are lost); the reason when
        every worker died."""
        last = died_at = None
        restored = 0.0
        remaining = set(self.sent) - self.done
        while True:
            before = len(self.replies)
            self._drain(0.05)
            now = time.monotonic()
            if len(self.replies) > before or last is None:
                last = now
            remaining -= self.done
            if not remaining:
                return None
            workers.poll()
            if workers.exits:
                died_at = died_at or now
                if workers.alive == 0:
                    return "every celery worker died: " + "; ".join(workers.exits.values())
                if now - max(last, died_at) > stall_s:
                    return None  # what is missing is lost
                if self.opts.is_redis and now - restored > 1.0:
                    restored = now  # Redis: put dead workers' tasks back once their time is up
                    with contextlib.suppress(Exception):
                        self.conn.default_channel.qos.restore_visible(num=1000, interval=1)

    def start_sampling(self, pids: list[int], workers: WorkerSet | None = None) -> None:
        from kombu import Connection

        t0 = time.perf_counter()
        conn = Connection(self.opts.broker, transport_options=self.transport)
        channel = conn.channel()
        procs = {}
        for pid in pids:
            with contextlib.suppress(psutil.Error):
                procs[pid] = psutil.Process(pid)
        redis = _redis_client(self.opts)
        samples = self._samples

        def run() -> None:
            expired = 0.0
            try:
                while not self._stop.is_set():
                    with contextlib.suppress(Exception):
                        depth = _depth(channel, self.names.tasks, redis is not None)
                        samples["t_s"].append(time.perf_counter() - t0)
                        samples["depth"].append(int(depth))
                    for pid, p in procs.items():
                        with contextlib.suppress(psutil.Error):
                            rss = p.memory_info().rss
                            samples["rss_peak"][pid] = max(samples["rss_peak"].get(pid, 0), rss)
                    if redis is not None and time.monotonic() - expired > EXPIRE_EVERY_S:
                        expired = time.monotonic()
                        with contextlib.suppress(Exception):
                            for key in redis.scan_iter(match=self.names.keyprefix + "*"):
                                redis.expire(key, LEFTOVER_TTL_S)
                    self._stop.wait(SAMPLE_INTERVAL_S)
            finally:
                with contextlib.suppress(Exception):
                    conn.release()

        if workers is not None:
            workers.mark()
        self._sampler = threading.Thread(target=run, name="concur-celery-depth", daemon=True)
        self._sampler.start()

    def stop_sampling(self) -> dict[str, Any]:
        self._stop.set()
        if self._sampler is not None:
            self._sampler.join(5)
        return self._samples

    def close(self) -> None:
        """Delete the trial's queues, exchanges and (Redis) keys; close every connection."""
        self.stop_sampling()
        with contextlib.suppress(Exception):
            self.consumer.cancel()
        from kombu import Connection

        with contextlib.suppress(Exception), Connection(self.opts.broker,
                                                        transport_options=self.transport) as conn:
            for queue in (cw.task_queue(self.names), cw.reply_queue(self.names)):
                for entity in (queue, queue.exchange):  # each on a fresh channel: an AMQP
                    with contextlib.suppress(Exception):  # error closes the one it hit
                        entity(conn.channel()).delete()
        redis = _redis_client(self.opts)
        if redis is not None:
            with contextlib.suppress(Exception):
                keys = list(redis.scan_iter(match=self.names.keyprefix + "*"))
                if keys:
                    redis.delete(*keys)
            with contextlib.suppress(Exception):
                redis.close()
        with contextlib.suppress(Exception):
            self.conn.release()
        with contextlib.suppress(Exception):
            self.app.close()


def _batched(producer: Any) -> Any:
    """kombu's publish batch where this kombu has one (5.7+), else nothing."""
    batch = getattr(producer, "batch", None)
    return batch(max_size=PIPELINE_COMMANDS) if batch is not None else contextlib.nullcontext()


def _depth(channel: Any, queue: str, is_redis: bool) -> int:
    """Messages waiting in the queue (not yet delivered to a worker)."""
    if is_redis:  # a passive declare of an empty Redis list says "no such queue"
        return int(channel._size(queue))
    return int(channel.queue_declare(queue=queue, passive=True).message_count)


def _worker_env() -> dict[str, str]:
    """Celery refuses to run a worker as root that accepts pickle. Ours consume only the
    trial's own queue (a name with a 64-bit random token) and live only for the trial, so
    root (a container, CI) is allowed to run them."""
    env = dict(os.environ)
    if os.geteuid() == 0:
        env["C_FORCE_ROOT"] = "1"
    return env


def _redis_client(opts: CeleryOptions) -> Any:
    if not opts.is_redis:
        return None
    try:
        import redis

        return redis.Redis.from_url(opts.broker, socket_timeout=5)
    except Exception:
        return None
