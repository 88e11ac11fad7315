"""Run-scoped services: what a workload needs running while its trials run (`Workload.service`).

`run_services(workloads)` enters each distinct service once, exports what it yields into
this process's environment for the duration (trial children inherit it; the parent's
probe reads it), and on the way out, on every path (normal, exception, Ctrl-C, and the
SIGTERM/SIGHUP that concur turns into Ctrl-C), restores the environment and exits the
services in reverse order, each within STOP_LIMIT_S (one that hangs is said and left
behind, never waited for). A service may say how to tell that it stopped while the run
still needs it (`ServiceEnv.down`): the trials watch it (`measure.trial`), and the run
stops, saying so, when it does. One run, one service: nothing here is cached across runs.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from profiler.measure.session import Progress
from profiler.workload import Workload, as_service_env

STOP_LIMIT_S = 30.0  # a service still stopping after this is left behind, and said


@contextlib.contextmanager
def exported(env: dict[str, str]) -> Iterator[None]:
    """Set these environment variables for the duration; put back what was there before."""
    before = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class RunningServices(list[str]):
    """What `run_services` yields: the services' descriptions (a list of lines) and `down()`,
    why one of them has stopped while the run still needs it."""

    def __init__(self) -> None:
        super().__init__()
        self.checks: list[Callable[[], str | None]] = []

    def down(self) -> str | None:
        for check in self.checks:
            why = check()
            if why:
                return why
        return None


@contextlib.contextmanager
def run_services(workloads: Iterable[Workload], progress: Progress,
                 stop_limit_s: float = STOP_LIMIT_S) -> Iterator[RunningServices]:
    """Enter every distinct service of these workloads; yield their descriptions and health.

    Leaving, each service gets `stop_limit_s` to stop; one that takes longer is left
    behind (said, never waited for), so a service that hangs cannot hang concur."""
    seen: list[object] = []
    described = RunningServices()
    with contextlib.ExitStack() as stack:
        for workload in workloads:
            if workload.service is None or workload.service in seen:
                continue  # two sides of a gate with the same service share one server
            seen.append(workload.service)
            started = time.monotonic()
            manager = workload.service()
            name = getattr(workload, "name", "the workload")
            given = as_service_env(manager.__enter__())
            stack.push(_bounded_exit(manager, f"{name}'s service", stop_limit_s, progress))
            stack.enter_context(exported(dict(given.env)))
            if given.down is not None:
                described.checks.append(given.down)
            if given.description:
                described.append(given.description)
                progress.note(f"{given.description} (ready in {time.monotonic() - started:.1f} s)")
        yield described


def _bounded_exit(manager: contextlib.AbstractContextManager[object], what: str, limit_s: float,
                  progress: Progress) -> Callable[..., bool]:
    """`manager.__exit__`, run on a thread and waited for at most `limit_s`."""

    def leave(*exc_info: object) -> bool:
        outcome: list[object] = []

        def run() -> None:
            try:
                outcome.append(bool(manager.__exit__(*exc_info)))
            except BaseException as exc:  # re-raised below, in the caller's thread
                outcome.append(exc)

        thread = threading.Thread(target=run, name="concur-service-stop", daemon=True)
        thread.start()
        thread.join(limit_s)
        if thread.is_alive():
            progress.note(f"{what} did not stop within {limit_s:g} s; concur goes on without "
                          "waiting (it may still be running)")
            return False
        result = outcome[0] if outcome else False
        if isinstance(result, BaseException):
            raise result
        return bool(result)

    return leave
