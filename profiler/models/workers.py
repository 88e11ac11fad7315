"""The per-worker runtime every model shares: setup, one record, teardown, the tally.

A worker calls the user's handler on one record at a time and counts the outcome in its
own `Tally` (merged after the window, so workers never share a lock). The user's own
exceptions are counted by type, never raised through: any BaseException, because a
handler's `sys.exit()` or `raise KeyboardInterrupt` would otherwise end its worker thread
silently and its records would pass for done. Only asyncio's CancelledError goes through
(it is the loop's, not the handler's). A record no worker accounted for is an error too
(`Tally.lost`), and a teardown that raises is recorded (`teardown_errors`), never lost.

For the first error of each type the tally keeps where it was raised (`tracebacks`: the
last frames of the handler's own code, and the library call that raised, as
`file:line in function`), so a handler that fails is shown failing in its own code.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import sysconfig
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from profiler.errors import ConfigError
from profiler.redact import redact
from profiler.workload import WorkerInfo, Workload, accepts_positional

MAX_MESSAGES_PER_TYPE = 3
MAX_TEARDOWN_ERRORS = 5
MAX_OWN_FRAMES = 3  # of the handler's own code, per error type (the deepest ones)
LOST = "RecordLost"  # the error type of records no worker reported on
RAISED_IN = "raised in "  # a library frame after the handler's own, in `Tally.tracebacks`
# Kinds of connection failure a record can die of (`connection_failure`), counted apart from
# the exception's class name: a driver raises the same class for many causes.
REFUSED, TIMEOUT, RESET = "refused", "timeout", "reset"
CONNECTION_FAILURE_KINDS = (REFUSED, TIMEOUT, RESET)
# SQLSTATE 53300 too_many_connections (asyncpg's `sqlstate`; psycopg's `sqlstate` or
# `diag.sqlstate` when the server's error came with a result), and what the server says
# when it refuses a connection for lack of a slot (psycopg raises a connection failure
# as a plain OperationalError with no SQLSTATE, the server's FATAL line in its message).
REFUSED_SQLSTATES = frozenset({"53300"})
REFUSED_MESSAGES = ("too many clients already", "remaining connection slots are reserved",
                    "too many connections for role", "too many connections for database")
RESET_SQLSTATES = frozenset({"08003", "08006"})  # connection_does_not_exist, connection_failure
_CHAIN_DEPTH = 5
_CONCUR_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_LIBRARY_DIRS = tuple(sorted({os.path.abspath(p) + os.sep for key in ("stdlib", "platstdlib", "purelib", "platlib")
                              if (p := sysconfig.get_paths().get(key))}, key=len, reverse=True))


def traceback_tail(exc: BaseException) -> list[str]:
    """Where `exc` was raised, as `file:line in function` lines, outermost first: the last
    MAX_OWN_FRAMES frames of the handler's own code (not concur's, not the standard
    library's or an installed package's), then, when the exception came out of a library
    call, that library's frame as `raised in …`. Empty when no frame is the user's."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(_CONCUR_DIR) or "/scenarios/" in f.filename]
    own = [f for f in frames if _library_path(f.filename) is None and not f.filename.startswith("<frozen")]
    out = [f"{_shown_path(f.filename)}:{f.lineno} in {f.name}" for f in own[-MAX_OWN_FRAMES:]]
    every = frames or traceback.extract_tb(exc.__traceback__)  # concur's own, when nothing else
    if every and every[-1] not in own[-1:]:
        deepest = every[-1]
        out.append(f"{RAISED_IN}{_library_path(deepest.filename) or deepest.filename}:{deepest.lineno} "
                   f"in {deepest.name}")
    return [redact(line)[:300] for line in out]


def connection_failure(exc: BaseException) -> str | None:
    """Whether a record died of a connection failure, and which: "refused" (the server had no
    slot: SQLSTATE 53300 or its message), "timeout" (a connect, pool or query timeout),
    "reset" (the connection broke under it), else None. Reads the exception and the ones it
    was raised from (a wrapped driver error counts), so any server and any driver that
    carries a SQLSTATE or the server's words is counted alike."""
    seen: BaseException | None = exc
    for _ in range(_CHAIN_DEPTH):
        if seen is None:
            return None
        sqlstate = getattr(seen, "sqlstate", None) or getattr(getattr(seen, "diag", None), "sqlstate", None)
        text = str(seen).lower()
        if sqlstate in REFUSED_SQLSTATES or any(m in text for m in REFUSED_MESSAGES):
            return REFUSED
        if isinstance(seen, TimeoutError) or type(seen).__name__.endswith(("Timeout", "TimeoutError")):
            return TIMEOUT
        if isinstance(seen, ConnectionResetError | BrokenPipeError | ConnectionAbortedError) \
                or sqlstate in RESET_SQLSTATES:
            return RESET
        seen = seen.__cause__ or seen.__context__
    return None


def _library_path(path: str) -> str | None:
    """`psycopg/connection.py` for a file of an installed package or the standard library."""
    for base in _LIBRARY_DIRS:
        if path.startswith(base):
            return path[len(base):]
    return None


def _shown_path(path: str) -> str:
    """A path as the user would type it: relative to the current folder when inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if not rel.startswith("..") else path


@dataclass
class Tally:
    """Per-worker record outcomes; merged after the window so workers never share a lock."""

    latencies_s: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    messages: dict[str, list[str]] = field(default_factory=dict)
    timed_errors: int = 0  # errors that also have a latency (the rest never ran: a task died)
    teardown_errors: list[str] = field(default_factory=list)  # "Type: message", distinct
    # When each record finished (time.perf_counter(), shared by the trial's processes):
    # throughput over the window, to see drift (profiler.measure.drift).
    done_at: list[float] = field(default_factory=list)
    # Per error type, where its first one was raised (`traceback_tail`).
    tracebacks: dict[str, list[str]] = field(default_factory=dict)
    # Records that died of a connection failure, by kind (`connection_failure`).
    connection_failures: Counter[str] = field(default_factory=Counter)

    def ok(self, seconds: float) -> None:
        self.latencies_s.append(seconds)
        self.done_at.append(time.perf_counter())

    def error(self, exc: BaseException, seconds: float) -> None:
        self.latencies_s.append(seconds)
        self.done_at.append(time.perf_counter())
        self.timed_errors += 1
        kind = type(exc).__name__
        failure = connection_failure(exc)
        if failure is not None:
            self.connection_failures[failure] += 1
        if kind not in self.tracebacks:
            self.tracebacks[kind] = traceback_tail(exc)
        self._count(kind, 1, str(exc))

    def lost(self, kind: str, count: int, message: str) -> None:
        """`count` records that failed without being timed (their worker or task died).
        (Adding to `errors` directly means the same: an error without a latency.)"""
        self._count(kind, count, message)

    def _count(self, kind: str, count: int, message: str) -> None:
        self.errors[kind] += count
        seen = self.messages.setdefault(kind, [])
        if len(seen) < MAX_MESSAGES_PER_TYPE:
            seen.append(redact(message)[:300])

    @property
    def outcomes(self) -> int:
        """Records this tally accounts for: every timed one (succeeded or failed) and every
        error counted without a latency."""
        return len(self.latencies_s) + sum(self.errors.values()) - self.timed_errors

    def teardown_failed(self, exc: BaseException) -> None:
        text = redact(f"{type(exc).__name__}: {exc}")[:300]
        if text not in self.teardown_errors and len(self.teardown_errors) < MAX_TEARDOWN_ERRORS:
            self.teardown_errors.append(text)

    def note_teardown(self, text: str) -> None:
        """Something that went wrong after the window, in words (a straggler killed)."""
        if text not in self.teardown_errors and len(self.teardown_errors) < MAX_TEARDOWN_ERRORS:
            self.teardown_errors.append(redact(text)[:300])

    def merge(self, other: Tally) -> None:
        self.latencies_s.extend(other.latencies_s)
        self.done_at.extend(other.done_at)
        self.errors.update(other.errors)
        self.timed_errors += other.timed_errors
        for kind, msgs in other.messages.items():
            mine = self.messages.setdefault(kind, [])
            mine.extend(msgs[: MAX_MESSAGES_PER_TYPE - len(mine)])
        for text in other.teardown_errors:
            if text not in self.teardown_errors and len(self.teardown_errors) < MAX_TEARDOWN_ERRORS:
                self.teardown_errors.append(text)
        for kind, frames in other.tracebacks.items():
            self.tracebacks.setdefault(kind, list(frames))
        self.connection_failures.update(other.connection_failures)

    def to_wire(self) -> tuple[Any, ...]:
        return (self.latencies_s, dict(self.errors), self.messages, self.timed_errors,
                self.teardown_errors, self.done_at, self.tracebacks, dict(self.connection_failures))

    @classmethod
    def from_wire(cls, wire: tuple[Any, ...]) -> Tally:
        lat, errs, msgs, *rest = wire  # a 3-item wire: errors timed as far as latencies go
        timed = rest[0] if rest else min(sum(errs.values()), len(lat))
        teardown = rest[1] if len(rest) > 1 else []
        done = rest[2] if len(rest) > 2 else []
        frames = rest[3] if len(rest) > 3 else {}
        failures = rest[4] if len(rest) > 4 else {}
        return cls(list(lat), Counter(errs), {k: list(v) for k, v in msgs.items()}, timed,
                   list(teardown), list(done), {k: list(v) for k, v in frames.items()},
                   Counter(failures))


def merged(tallies: list[Tally]) -> Tally:
    """One tally of many (workers' own, merged after the window)."""
    total = Tally()
    for t in list(tallies):
        total.merge(t)
    return total


def _call_shape(fn: Callable[..., Any]) -> bool:
    """True when fn takes (record, ctx), False when (record)."""
    return accepts_positional(fn, 2)


def _setup_args(setup: Callable[..., Any], info: WorkerInfo) -> tuple[Any, ...]:
    return (info,) if accepts_positional(setup, 1) else ()


class SyncWorker:
    """One thread's or process's view of the workload, for the models without a shared loop.

    An async handle still runs here: through an event loop owned by this worker (the
    "one loop per worker" way of running coroutines under threads and processes).
    """

    def __init__(self, workload: Workload, info: WorkerInfo) -> None:
        self.workload = workload
        self.info = info
        self._runner: asyncio.Runner | None = None
        handle = workload.sync_handle
        if handle is None:
            handle = workload.coroutine_handle
            self._runner = asyncio.Runner()
        assert handle is not None
        self._handle = handle
        self._with_ctx = _call_shape(handle)
        self.ctx: Any = None

    def _resolve(self, value: Any) -> Any:
        if inspect.isawaitable(value):
            if self._runner is None:
                self._runner = asyncio.Runner()
            return self._runner.run(_await(value))
        return value

    def open(self) -> None:
        if self.workload.setup is not None:
            self.ctx = self._resolve(self.workload.setup(*_setup_args(self.workload.setup, self.info)))

    def call(self, record: Any, tally: Tally) -> None:
        start = time.perf_counter()
        try:
            result = self._handle(record, self.ctx) if self._with_ctx else self._handle(record)
            if self._runner is not None and inspect.isawaitable(result):
                self._runner.run(_await(result))
        except BaseException as exc:  # the user's error, sys.exit() included: counted, never raised
            tally.error(exc, time.perf_counter() - start)
            return
        tally.ok(time.perf_counter() - start)

    def run_one(self, record: Any) -> Any:
        """The handler on one record with nothing caught: its result, or its exception
        (`python -m profiler.run.foreground`, where the traceback is the point)."""
        result = self._handle(record, self.ctx) if self._with_ctx else self._handle(record)
        return self._resolve(result)

    def close(self, tally: Tally | None = None) -> None:
        """Teardown. With a tally, a teardown that raises is recorded there, not raised:
        the window is over, a cleanup failure must not lose the trial."""
        try:
            if self.workload.teardown is not None:
                self._resolve(self.workload.teardown(self.ctx))
        except BaseException as exc:
            if tally is None:
                raise
            tally.teardown_failed(exc)
        finally:
            if self._runner is not None:
                self._runner.close()


async def _await(value: Awaitable[Any]) -> Any:
    return await value


class AsyncWorker:
    """The workload inside one event loop (asyncio, uvloop): one setup per loop."""

    def __init__(self, workload: Workload, info: WorkerInfo) -> None:
        handle = workload.coroutine_handle
        assert handle is not None
        self.workload = workload
        self.info = info
        self._handle = handle
        self._with_ctx = _call_shape(handle)
        self.ctx: Any = None

    async def open(self) -> None:
        if self.workload.setup is not None:
            value = self.workload.setup(*_setup_args(self.workload.setup, self.info))
            self.ctx = await value if inspect.isawaitable(value) else value

    async def call(self, record: Any, tally: Tally) -> None:
        start = time.perf_counter()
        try:
            if self._with_ctx:
                await self._handle(record, self.ctx)
            else:
                await self._handle(record)
        except asyncio.CancelledError:
            raise  # the loop cancelling its task, not the handler failing
        except BaseException as exc:  # SystemExit/KeyboardInterrupt would stop the whole loop
            tally.error(exc, time.perf_counter() - start)
            return
        tally.ok(time.perf_counter() - start)

    async def close(self, tally: Tally | None = None) -> None:
        """Teardown; with a tally, a failure is recorded there instead of raised."""
        try:
            if self.workload.teardown is not None:
                value = self.workload.teardown(self.ctx)
                if inspect.isawaitable(value):
                    await value
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            if tally is None:
                raise
            tally.teardown_failed(exc)


def run_for(worker: SyncWorker, records: list[Any], budget_s: float) -> tuple[int, float]:
    """Run records until `budget_s` has passed: (records run, seconds). How a remote worker
    (dask, celery) times its own per-record cost before a chunk size is chosen."""
    done, start = 0, time.perf_counter()
    for record in records:
        worker.call(record, Tally())
        done += 1
        if time.perf_counter() - start >= budget_s:
            break
    return done, time.perf_counter() - start


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def chunk_option(raw: Any) -> int | None:
    """--chunk for the models that send records in tasks: records per task, None = auto."""
    if isinstance(raw, str) and raw.strip().lower() == "auto":
        return None
    try:
        chunk = int(raw)
    except (TypeError, ValueError):
        chunk = 0
    if chunk < 1:
        raise ConfigError(f"--chunk takes records per task (an integer ≥ 1) or 'auto', not {raw!r}")
    return chunk
