"""What a concurrency model is: its facts, and the one `run` every model implements.

A model runs inside the trial's child process. It sets up its workers, warms each up on
one record, then enters `hooks.window()` — the timed window, during which the parent
samples the process tree — and processes every record exactly once. Setup, warm-up and
teardown stay outside the window, so they are never billed to the records.

Everything the rest of concur needs to know about a model is a fact on it (how simple
it is to own for a sync or an async handler, whether handlers run on an event loop,
which N it takes, where the sweep stops climbing, which N a plain grid tries, whether it
can run these records at all), so adding a model is one module and one registry line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from profiler.models.workers import Tally
from profiler.workload import Workload

MAX_LOOP_CONCURRENCY = 10_000


class LoopWatch(Protocol):
    def task_started(self) -> None: ...

    def task_finished(self) -> None: ...

    async def run(self) -> None: ...

    def stop(self) -> None: ...


class Hooks(Protocol):
    """What the trial gives a model: the timed window, the loop monitor, its options."""

    options: dict[str, Any]
    model_metrics: dict[str, Any]  # what a model measures beyond the Tally (→ Trial.model_metrics)

    def window(self, counted: Callable[[], Tally] | None = None) -> contextlib.AbstractContextManager[None]:
        """The timed window. `counted`, when the model can give it, returns how every record
        went once the window closes: the trial's result is sent then, before teardown."""

    def watch_loop(self, loop: asyncio.AbstractEventLoop) -> LoopWatch: ...

    def tree_connections(self) -> int | None:
        """TCP connections of the trial's process tree now, counted as the sampler counts."""


class Model:
    """Base of every model: the facts (class attributes) and their defaults.

    `simplicity` ranks (sync handle, async handle): lower is simpler to write, debug and
    own; the recommendation prefers the simpler model when two tie. The handler's form
    decides: an `async def` handler runs as written on an event loop, while threads and
    processes must wrap it in a loop of their own per worker, so for async handlers the
    loop models rank first after sequential; for sync ones threads do."""

    name: str = ""
    simplicity: tuple[float, float] = (0, 0)
    has_loop = False  # handlers run on one event loop: loop lag and tasks are measured
    opt_in = False  # runs only when named in --models (it starts a cluster, needs a broker)
    same_as_sequential_at_one = False  # N=1 is the sequential job: anchors the USL fit at N=1
    handlers_in_other_processes = False  # handlers run in worker processes, not the trial's own
    unbounded = False  # accepts N=0: every record in flight at once
    option_flags: tuple[str, ...] = ()  # the model options it reads (--chunk → "chunk")

    def rank(self, handle_kind: str) -> float:
        """Simplicity for this handler form ("sync", "async" or "both")."""
        return self.simplicity[1 if handle_kind == "async" else 0]

    def max_concurrency(self, cpu_count: int) -> int:
        return 1

    def climb_cap(self, cpu_count: int) -> int:
        """Where the adaptive sweep stops climbing this model."""
        return self.max_concurrency(cpu_count)

    def wraps(self, handle_kind: str) -> str:
        """The simpler model this one runs the same work on, plus machinery of its own, for
        this handler form ("" = none): it must beat that model clearly to be recommended."""
        return ""

    def cap_reason(self, cpu_count: int) -> str:
        """Why `climb_cap` is where it is: a safety bound, said in the sweep log when a climb
        reaches it (the caps that stop climbs sooner are measured: `run.climb`)."""
        return ""

    def first_step(self, options: Mapping[str, Any]) -> tuple[int, int]:
        """(first N, cap override or 0): where a sweep's climb starts for these options."""
        return 2, 0

    def default_grid(self, cpu_count: int) -> list[int]:
        """The N a plain run without --concurrency tries."""
        return [1]

    def can_run(self, workload: Workload, sample: list[Any]) -> str | None:
        """None when this model can run this handler on these records, else why not."""
        return None

    def check_options(self, options: Mapping[str, Any]) -> None:
        """Raise one `ConfigError` naming the flag when an option this model reads is bad."""

    def options_reason(self, options: Mapping[str, Any]) -> str | None:
        """None when the run's model options let this model run here, else why not (a
        broker that does not answer): checked once per run, like `can_run`."""
        return None

    def public_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """The model options as results.json may keep them (no credential)."""
        return dict(options)

    def concurrency_error(self, concurrency: int, cpu_count: int | None = None) -> str | None:
        """None when the model takes this concurrency, else the one-line reason."""
        high = self.max_concurrency(cpu_count or machine_cores())
        if self.unbounded:
            if 0 <= concurrency <= high:
                return None
            return f"{self.name} takes concurrency 0 (unbounded) or 1..{high}, not {concurrency}"
        if 1 <= concurrency <= high:
            return None
        extra = (" (0 = unbounded exists only for asyncio and uvloop)" if concurrency == 0 else "")
        return f"{self.name} takes concurrency 1..{high}, not {concurrency}{extra}"

    def workers(self, concurrency: int, records: int) -> int:
        """How many threads/processes run handlers (for the time decomposition)."""
        return max(concurrency, 1)

    def run(self, workload: Workload, records: list[Any], concurrency: int, hooks: Hooks,
            target: str) -> Tally:
        """Process every record once inside hooks.window(); return the merged tally."""
        raise NotImplementedError


def machine_cores() -> int:
    return os.cpu_count() or 1


def async_reason(workload: Workload, model: str) -> str | None:
    if workload.coroutine_handle is None:
        return (f"{model} needs an async handle; this workload's handle is synchronous "
                "(asyncio-threads runs it through to_thread instead)")
    return None


def unpicklable_reason(records: list[Any], model: str, where: str) -> str | None:
    """A model that sends records to other processes: which record cannot travel, and why."""
    import pickle

    for i, rec in enumerate(records[:50]):
        try:
            pickle.dumps(rec)
        except Exception as exc:
            return (f"{model} skipped: record {i} ({type(rec).__name__}) cannot be pickled "
                    f"to send to {where} ({type(exc).__name__}: {exc})")
    return None
