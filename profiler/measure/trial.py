"""One trial = one model x concurrency x records x repeat, in a fresh child process.

Why a fresh process: one model's threads, loop or leaked connections must not skew the
next trial, and a workload that hangs or crashes must take down only its own trial.

The parent and child speak over a pipe:
    child: "ready" (setup + warm-up done)  -> parent starts the sampler, answers "go"
    child: "done"  (records processed)      -> parent stops the sampler, answers "ack"
    child: "result" (latencies, errors, loop lag) or "failed" (why)
    child: "closed" (teardown's errors), when its "result" came before teardown
so the sampler's window is exactly the records' window, and teardown is never billed.
The models send the result as soon as the records are counted, before teardown: a
teardown that hangs is killed after TEARDOWN_LIMIT_S and said, and the trial stands.
Whatever the trial's processes print goes to a pipe of its own (`measure.output`), and
the parent reads the message pipe itself, frame by frame (`_Channel`): a handler that
writes into either can neither block concur nor end the run; unreadable bytes are that
trial's crash.

Nothing outlives a trial. The child leads its own process group (a terminal's Ctrl-C
reaches only concur), and every way out of `run_trial` (result, crash, timeout, memory
ceiling, an interrupt or a signal in concur) kills that whole group. If concur itself
dies, even by SIGKILL, the child sees its end of the pipe close and kills its group
(`profiler.measure.child`). A tree whose RSS passes `max_rss_bytes` is killed and
recorded with status "over-memory", so one leaking handler cannot take the machine.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing as mp
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil

from profiler import format as fmt
from profiler.measure.output import OutputTail
from profiler.measure.sampling import CHILDREN_RESCAN_S, TreeSampler, TreeSummary
from profiler.models import get_model, model_ref
from profiler.models.processes import describe_exit
from profiler.redact import redact
from profiler.results import Trial
from profiler.results.trial import TREE_FIELDS

KILL_GRACE_S = 1.0
POLL_S = 0.1  # how often the parent checks the child's liveness, deadline and memory
TEARDOWN_LIMIT_S = 10.0  # a teardown still running this long after the records is killed, and said
MAX_MESSAGE_BYTES = 512 * 2**20  # a longer "message" on the trial's pipe is garbage, not a result
CHILD_ENTRY = "from profiler.measure.child import child_entry"  # also how py-spy finds the child
MESSAGES = ("ready", "done", "result", "closed", "failed", "crashed")


@dataclass(frozen=True)
class TrialSpec:
    target: str
    model: str
    concurrency: int
    records: int
    repeat: int = 0
    records_file: str | None = None  # pickled chunks of records (from --input), else generated
    timeout_s: float = 120.0
    sample_interval_s: float = 0.05
    # Model-specific settings (e.g. dask: scheduler address, threads per worker, chunk),
    # handed to the model as `hooks.options` and recorded in Trial.model_options.
    options: tuple[tuple[str, Any], ...] = ()
    # The trial tree is killed when its RSS passes this (None: no ceiling); the source
    # says whose limit it is in the trial's status detail.
    max_rss_bytes: int | None = None
    max_rss_source: str = "--max-rss"
    # Whose limit `timeout_s` is, in the words of a timed-out trial's detail.
    timeout_source: str = "--timeout"
    # How long teardown may run once the records are counted (then killed, and said).
    teardown_limit_s: float = TEARDOWN_LIMIT_S


@dataclass
class TrialOutcome:
    trial: Trial
    samples: dict[str, list[Any]]


def run_trial(spec: TrialSpec, probe: Any = None,
              service_down: Callable[[], str | None] | None = None) -> TrialOutcome:
    """Run one trial in a fresh process; never raises for the workload's misbehaviour.

    `probe` (from `Workload.probe`) is started and stopped here, around the window.
    `service_down` (from the run's services) says why a service the trial needs has stopped,
    checked every POLL_S: the trial ends at once with status "service-lost". An exception
    in this process (KeyboardInterrupt, SIGTERM's `Stopped`) propagates after the trial's
    tree is killed."""
    parent_conn, child_conn = mp.Pipe()
    started = time.monotonic()
    deadline = started + spec.timeout_s
    proc: subprocess.Popen[bytes] | None = None
    output: OutputTail | None = None
    sampler: TreeSampler | None = None
    summary: TreeSummary | None = None
    window_start: float | None = None
    wall_s: float | None = None
    status, detail, result = "ok", "", None
    phase = "setup"  # setup → records → teardown
    after: list[str] = []  # what went wrong after the records were counted
    closed: dict[str, Any] = {}
    probe_started, probe_start_error = False, None
    probe_metrics: dict[str, Any] = {}
    grace_s = 0.0  # how long the child may take to exit by itself once it has said its last word
    try:
        fd = child_conn.fileno()
        proc = subprocess.Popen(
            [sys.executable, "-c", f"{CHILD_ENTRY}; child_entry({fd})"],
            pass_fds=(fd,), stdin=subprocess.DEVNULL,
            # What the handler prints is the trial's, never concur's own output (--json -).
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            # Own process group: a terminal's Ctrl-C reaches only concur, which keeps what
            # was measured and kills this group itself (no half-dead child printing tracebacks).
            process_group=0,
        )
        assert proc.stdout is not None
        output = OutputTail(proc.stdout)
        child_conn.close()
        channel = _Channel(parent_conn)
        parent_conn.send((spec, list(sys.path), model_ref(spec.model)))
        memory = TreeMemory(proc.pid, spec.max_rss_bytes)
        while True:
            msg = _recv(channel, proc, deadline, functools.partial(memory.over, sampler), service_down)
            kind = msg[0]
            if phase == "teardown" and kind in (_TIMEOUT, _DIED, _OVER_MEMORY, _GARBLED, _SERVICE):
                # The records are counted: what goes wrong now is said, and the trial stands.
                after.append(_after_teardown(kind, msg, proc, spec.teardown_limit_s))
                break
            if kind == _TIMEOUT:
                status, detail = "timeout", _timeout_detail(spec, phase)
                break
            if kind == _DIED:
                status = "crashed"
                detail = f"trial process died ({describe_exit(_wait_exit(proc, KILL_GRACE_S))})"
                break
            if kind == _GARBLED:
                status, detail = "crashed", (
                    f"the trial's pipe to concur carried something that is not concur's message "
                    f"({msg[1]}): something in the trial wrote into concur's descriptor")
                break
            if kind == _SERVICE:
                status, detail = "service-lost", msg[1]  # session.SERVICE_LOST
                break
            if kind == _OVER_MEMORY:
                status = "over-memory"
                detail = (f"its processes held {fmt.mib(msg[1])}, over the "
                          f"{fmt.mib(spec.max_rss_bytes)} limit ({spec.max_rss_source})")
                break
            if kind == "ready":
                phase = "records"
                sampler = TreeSampler(proc.pid, spec.sample_interval_s)
                sampler.start()
                if probe is not None:
                    probe_start_error = _probe_call(probe.start)
                    probe_started = True
                window_start = time.perf_counter()
                parent_conn.send("go")
            elif kind == "done":
                wall_s = msg[1]
                summary = sampler.stop() if sampler else None
                sampler = None
                if probe_started:
                    probe_metrics = {**(_probe_call(probe.stop) or {}), **(probe_start_error or {})}
                    probe_started = False
                parent_conn.send("ack")
            elif kind == "result":
                result = msg[1]
                if len(msg) > 2 and msg[2]:  # sent before teardown: the teardown is bounded
                    phase, deadline = "teardown", time.monotonic() + spec.teardown_limit_s
                    continue
                grace_s = KILL_GRACE_S
                break
            elif kind == "closed":
                closed, grace_s = msg[1], KILL_GRACE_S
                break
            elif kind in ("failed", "crashed"):
                status, detail, grace_s = kind, msg[1], KILL_GRACE_S
                if len(msg) > 2 and isinstance(msg[2], dict):
                    closed = {"error_tracebacks": msg[2]}
                break
    finally:
        if proc is not None:  # first, before anything that could be interrupted again
            _kill_tree(proc, grace_s)
        if sampler is not None:  # the window never closed: keep what was sampled
            summary = sampler.stop()
            if probe_started:
                probe_metrics = {**(_probe_call(probe.stop) or {}), **(probe_start_error or {})}
            if wall_s is None and window_start is not None:
                wall_s = time.perf_counter() - window_start
        parent_conn.close()
        child_conn.close()
        tail = output.close() if output is not None else []
    down = service_down() if service_down is not None and status != "service-lost" else None
    if down:  # whatever the trial saw (refused connections, a failed setup), this is why
        status, detail = "service-lost", f"{down}{f'; the trial: {detail}' if detail else ''}"
    trial_outcome = _build(spec, status, detail, result, summary, wall_s)
    trial = trial_outcome.trial
    trial.output_tail = tail
    trial.error_tracebacks = {**closed.get("error_tracebacks", {}), **trial.error_tracebacks}
    teardown = [*(closed.get("teardown_errors") or []), *after]
    if teardown:
        seen = trial.model_metrics.setdefault("teardown_errors", [])
        seen.extend(redact(t) for t in teardown if t not in seen)
    if probe_metrics:
        _take_probe_metrics(trial, probe_metrics)
    return trial_outcome


def _seconds(value: float) -> str:
    """A limit as a person gave it: `8 s`, `0.5 s` (never `7.99993 s`)."""
    return f"{round(value, 1):g} s"


def _timeout_detail(spec: TrialSpec, phase: str) -> str:
    limit = f"{_seconds(spec.timeout_s)} ({spec.timeout_source})"
    if phase == "setup":
        return (f"setup did not finish within {limit}: importing the target, setup() and the "
                "warm-up record ran longer than the whole trial may")
    return f"killed after {limit} with records still running"


def _after_teardown(kind: str, msg: tuple[Any, ...], proc: Any, limit_s: float) -> str:
    """What happened after the records were counted (the trial stands), in words."""
    if kind == _TIMEOUT:
        return (f"teardown did not finish within {_seconds(limit_s)} after the records: "
                "the trial's processes were killed")
    if kind == _DIED:
        return f"the trial process died during teardown ({describe_exit(_wait_exit(proc, KILL_GRACE_S))})"
    if kind == _OVER_MEMORY:
        return f"teardown passed the memory limit ({fmt.mib(msg[1])}): killed"
    if kind == _SERVICE:
        return f"during teardown: {msg[1]}"
    return f"during teardown the trial's pipe carried garbage ({msg[1]})"


def _take_probe_metrics(trial: Trial, metrics: dict[str, Any]) -> None:
    """The probe's figures that have a typed field go there; the rest stay in probe_metrics."""
    trial.db_connections_peak = _whole(metrics.pop("db_connections_peak", None))
    trial.db_refused = _whole(metrics.pop("db_refused", None))
    cpu = metrics.pop("db_server_cpu_s", None)
    trial.db_server_cpu_s = float(cpu) if isinstance(cpu, int | float) and not isinstance(cpu, bool) else None
    trial.probe_metrics = metrics


def _whole(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _probe_call(fn: Any) -> Any:
    """A probe's failure is reported in its metrics, never allowed to sink the trial."""
    try:
        return fn() if fn is not None else None
    except Exception as exc:
        return {"probe_error": f"{type(exc).__name__}: {exc}"}


_TIMEOUT, _DIED, _OVER_MEMORY = "concur:timeout", "concur:died", "concur:over-memory"
_GARBLED, _SERVICE = "concur:garbled", "concur:service-lost"


class _Garbled(Exception):
    """Bytes on the trial's pipe that are not one of the child's messages."""


class _Channel:
    """The parent's end of the trial pipe, read so that no byte the trial writes can block
    concur or crash it: frames (multiprocessing's: a 4-byte big-endian length, or -1 and
    an 8-byte one) are assembled from what is there, never waited for past a deadline, and
    anything that does not unpickle to a known message is `_Garbled`."""

    def __init__(self, conn: Any) -> None:
        self.fd = conn.fileno()
        self.buf = bytearray()
        self.eof = False

    def next(self, timeout_s: float) -> tuple[Any, ...] | None:
        """A whole message, or None when none is complete within `timeout_s`; EOFError once
        the pipe is closed and drained."""
        msg = self._parse()
        if msg is not None:
            return msg
        if self.eof:
            raise EOFError
        ready, _, _ = select.select([self.fd], [], [], max(timeout_s, 0.0))
        if ready:
            try:
                data = os.read(self.fd, 1 << 20)
            except OSError:
                data = b""
            if not data:
                self.eof = True
            self.buf += data
        return self._parse()

    def _parse(self) -> tuple[Any, ...] | None:
        if len(self.buf) < 4:
            return None
        (size,), head = struct.unpack("!i", self.buf[:4]), 4
        if size == -1:
            if len(self.buf) < 12:
                return None
            (size,), head = struct.unpack("!Q", self.buf[4:12]), 12
        if size < 0 or size > MAX_MESSAGE_BYTES:
            raise _Garbled(f"a message of {size} bytes")
        if len(self.buf) < head + size:
            if self.eof:
                raise _Garbled("a message cut short")
            return None
        payload = bytes(self.buf[head:head + size])
        del self.buf[:head + size]
        try:
            msg = pickle.loads(payload)
        except Exception as exc:
            raise _Garbled(f"{type(exc).__name__}: {str(exc)[:100]}") from None
        if isinstance(msg, str):
            msg = (msg,)
        if not isinstance(msg, tuple) or not msg or msg[0] not in MESSAGES:
            raise _Garbled(f"an unknown message {str(msg)[:60]!r}")
        return msg


def _recv(channel: _Channel, proc: Any, deadline: float, over_memory: Any,
          service_down: Callable[[], str | None] | None = None) -> tuple[Any, ...]:
    """The child's next message, or why none will come: (_TIMEOUT,), (_DIED,), (_GARBLED,
    why), (_SERVICE, why) or (_OVER_MEMORY, rss_bytes), checked every POLL_S."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return (_TIMEOUT,)
        try:
            msg = channel.next(min(remaining, POLL_S))
        except EOFError:
            return (_DIED,)
        except _Garbled as exc:
            return (_GARBLED, str(exc))
        if msg is not None:
            return msg
        if _exit_status(proc) is not None and not select.select([channel.fd], [], [], 0)[0]:
            return (_DIED,)
        down = service_down() if service_down is not None else None
        if down:
            return (_SERVICE, down)
        rss = over_memory()
        if rss is not None:
            return (_OVER_MEMORY, rss)


class TreeMemory:
    """The trial tree's RSS against a ceiling, checked every POLL_S for the whole trial
    (setup and warm-up leak too). While the window's sampler runs, its reading is used,
    so the tree is not read twice."""

    def __init__(self, pid: int, limit_bytes: int | None) -> None:
        self.pid = pid
        self.limit = limit_bytes
        self._procs: list[psutil.Process] = []
        self._next_scan = 0.0

    def over(self, sampler: TreeSampler | None) -> int | None:
        """The tree's RSS when it is over the ceiling, else None."""
        if self.limit is None:
            return None
        rss = sampler.rss_bytes if sampler is not None and sampler.rss_bytes else self.read()
        return rss if rss > self.limit else None

    def read(self) -> int:
        now = time.monotonic()
        if now >= self._next_scan:  # scanning /proc for children is the dear part
            self._next_scan = now + CHILDREN_RESCAN_S
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(self.pid)
                self._procs = [root, *root.children(recursive=True)]
        total = 0
        for p in self._procs:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total


def _kill_tree(proc: Any, grace_s: float) -> None:
    """Kill the trial's process group (every descendant that stayed in it, even one
    orphaned and re-parented) and every descendant psutil finds (one that left it with
    setsid), then reap the child. `grace_s`: how long a child that has sent its result
    may take to exit by itself (0 when concur is being interrupted)."""
    try:
        root = psutil.Process(proc.pid)
        family = [*root.children(recursive=True), root]
    except psutil.Error:
        family = []
    _wait_exit(proc, grace_s)
    # The child is not reaped yet (only WNOWAIT looked at it), so its pid still names its
    # group: no other group can have taken the number.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    for p in family:
        with contextlib.suppress(psutil.Error):
            if p.is_running():
                p.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


def _exit_status(proc: Any) -> int | None:
    """The child's exit as Popen.returncode says it (negative: the signal that killed it),
    read without reaping it (WNOWAIT); None while it runs."""
    try:
        done = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # reaped already
        return proc.returncode if proc.returncode is not None else 0
    if done is None:
        return None
    return done.si_status if done.si_code == os.CLD_EXITED else -done.si_status


def _wait_exit(proc: Any, timeout_s: float) -> int | None:
    """Wait up to `timeout_s` for the child to exit, without reaping it; its exit status."""
    end = time.monotonic() + timeout_s
    while (status := _exit_status(proc)) is None and time.monotonic() < end:
        time.sleep(0.01)
    return status


def _build(spec: TrialSpec, status: str, detail: str, result: dict[str, Any] | None,
           summary: TreeSummary | None, wall_s: float | None) -> TrialOutcome:
    model = get_model(spec.model)
    r = result or {}
    records = r.get("records", spec.records)
    errors = r.get("errors", 0)
    wall = wall_s or r.get("wall_s") or 0.0
    ok_records = records - errors if status == "ok" else 0
    s = summary or TreeSummary()
    user, system = s.get("cpu_user_s"), s.get("cpu_system_s")
    cpu_util = (user + system) / wall if user is not None and system is not None and wall > 0 else None
    trial = Trial(
        model=spec.model,
        concurrency=spec.concurrency,
        repeat=spec.repeat,
        records=records,
        errors=errors,
        wall_s=wall,
        throughput_rps=ok_records / wall if wall > 0 else 0.0,
        **{name: s.get(name) for name in TREE_FIELDS},
        cpu_util=cpu_util,
        latency_p50_ms=r.get("latency_p50_ms"),
        latency_p99_ms=r.get("latency_p99_ms"),
        loop_lag_p50_ms=r.get("loop_lag_p50_ms"),
        loop_lag_p99_ms=r.get("loop_lag_p99_ms"),
        loop_lag_max_ms=r.get("loop_lag_max_ms"),
        tasks_peak=r.get("tasks_peak"),
        status=status,
        status_detail=redact(detail),
        workers=(r.get("model_metrics") or {}).get("worker_threads")
        or model.workers(spec.concurrency, records),
        errors_by_type=r.get("errors_by_type", {}),
        error_messages=r.get("error_messages", {}),
        error_tracebacks=r.get("error_tracebacks", {}),
        connection_failures=r.get("connection_failures"),
        samples_taken=len(s.samples.get("t_s", [])),
        model_options=model.public_options(dict(spec.options)),
        model_metrics=r.get("model_metrics", {}),
        throughput_series_rps=r.get("throughput_series_rps") or [],
        drift=r.get("drift"),
        sampler_cpu_s=s.sampler_cpu_s if summary is not None else None,
    )
    return TrialOutcome(trial, s.samples)
