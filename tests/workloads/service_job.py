"""A workload with a run-scoped service: the service exports a variable the handle needs,
and writes what happened to it into CONCUR_TEST_SERVICE_LOG (one line per event)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from profiler.workload import ServiceEnv, Workload


def _log(event: str) -> None:
    with open(os.environ["CONCUR_TEST_SERVICE_LOG"], "a", encoding="utf-8") as fh:
        fh.write(f"{event} {os.getpid()}\n")


@contextlib.contextmanager
def service() -> Iterator[ServiceEnv]:
    _log("enter")
    try:
        yield ServiceEnv({"CONCUR_TEST_SERVICE_TOKEN": "granted"}, "the test service")
    finally:
        _log("exit")


def handle(record: int) -> None:
    if os.environ.get("CONCUR_TEST_SERVICE_TOKEN") != "granted":
        raise RuntimeError("the service's environment did not reach the trial")


job = Workload("service_job", handle=handle, service=service)
