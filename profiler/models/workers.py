"""The per-worker runtime every model shares: setup, one record, teardown, the tally.

A worker calls the user's handler on one record at a time and counts the outcome in its
own `Tally` (merged after the window, so workers never share a lock). The user's own
exceptions are counted by type, never raised through.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from profiler.workload import WorkerInfo, Workload, accepts_positional

MAX_MESSAGES_PER_TYPE = 3


@dataclass
class Tally:
    """Per-worker record outcomes; merged after the window so workers never share a lock."""

    latencies_s: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    messages: dict[str, list[str]] = field(default_factory=dict)
    # When each record finished (time.perf_counter(), shared by the trial's processes):
    # throughput over the window, to see drift (profiler.measure.drift).
    done_at: list[float] = field(default_factory=list)

    def ok(self, seconds: float) -> None:
        self.latencies_s.append(seconds)
        self.done_at.append(time.perf_counter())

    def error(self, exc: BaseException, seconds: float) -> None:
        self.latencies_s.append(seconds)
        self.done_at.append(time.perf_counter())
        kind = type(exc).__name__
        self.errors[kind] += 1
        seen = self.messages.setdefault(kind, [])
        if len(seen) < MAX_MESSAGES_PER_TYPE:
            seen.append(str(exc)[:300])

    def merge(self, other: Tally) -> None:
        self.latencies_s.extend(other.latencies_s)
        self.done_at.extend(other.done_at)
        self.errors.update(other.errors)
        for kind, msgs in other.messages.items():
            mine = self.messages.setdefault(kind, [])
            mine.extend(msgs[: MAX_MESSAGES_PER_TYPE - len(mine)])

    def to_wire(self) -> tuple[list[float], dict[str, int], dict[str, list[str]], list[float]]:
        return self.latencies_s, dict(self.errors), self.messages, self.done_at

    @classmethod
    def from_wire(cls, wire: tuple[Any, ...]) -> Tally:
        lat, errs, msgs, *done = wire  # a three-part wire (no completion times) still reads
        return cls(list(lat), Counter(errs), {k: list(v) for k, v in msgs.items()},
                   list(done[0]) if done else [])


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
        except Exception as exc:  # the user's error: counted, never raised through
            tally.error(exc, time.perf_counter() - start)
            return
        tally.ok(time.perf_counter() - start)

    def close(self) -> None:
        try:
            if self.workload.teardown is not None:
                self._resolve(self.workload.teardown(self.ctx))
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
        except Exception as exc:
            tally.error(exc, time.perf_counter() - start)
            return
        tally.ok(time.perf_counter() - start)

    async def close(self) -> None:
        if self.workload.teardown is not None:
            value = self.workload.teardown(self.ctx)
            if inspect.isawaitable(value):
                await value


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
