"""Run-scoped services: what a workload needs running while its trials run (`Workload.service`).

`run_services(workloads)` enters each distinct service once, exports what it yields into
this process's environment for the duration (trial children inherit it; the parent's
probe reads it), and on the way out, on every path (normal, exception, Ctrl-C, and the
SIGTERM/SIGHUP that concur turns into Ctrl-C), restores the environment and exits the
services in reverse order. One run, one service: nothing here is cached across runs.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator

from profiler.measure.session import Progress
from profiler.workload import Workload, as_service_env


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


@contextlib.contextmanager
def run_services(workloads: Iterable[Workload], progress: Progress) -> Iterator[list[str]]:
    """Enter every distinct service of these workloads; yield their descriptions."""
    seen: list[object] = []
    described: list[str] = []
    with contextlib.ExitStack() as stack:
        for workload in workloads:
            if workload.service is None or workload.service in seen:
                continue  # two sides of a gate with the same service share one server
            seen.append(workload.service)
            started = time.monotonic()
            given = as_service_env(stack.enter_context(workload.service()))
            stack.enter_context(exported(dict(given.env)))
            if given.description:
                described.append(given.description)
                progress.note(f"{given.description} (ready in {time.monotonic() - started:.1f} s)")
        yield described
