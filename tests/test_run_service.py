"""Run-scoped services (`Workload.service`): entered once per run, their environment reaches
every trial, and they are exited on every way out."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

from profiler import profile
from profiler.errors import WorkloadError
from profiler.measure.session import SilentProgress
from profiler.run.service import run_services
from profiler.workload import ServiceEnv, Workload
from tests.conftest import TESTS

JOB = f"{TESTS / 'workloads' / 'service_job.py'}:job"


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []

    @contextlib.contextmanager
    def service(self) -> Iterator[ServiceEnv]:
        self.events.append("enter")
        try:
            yield ServiceEnv({"CONCUR_TEST_SERVICE_TOKEN": "granted"}, "recorder")
        finally:
            self.events.append("exit")


def noop(record):
    return None


def test_the_environment_is_exported_for_the_run_and_restored_after(monkeypatch):
    monkeypatch.delenv("CONCUR_TEST_SERVICE_TOKEN", raising=False)
    rec = Recorder()
    with run_services([Workload("a", handle=noop, service=rec.service)], SilentProgress()) as described:
        assert os.environ["CONCUR_TEST_SERVICE_TOKEN"] == "granted"
        assert described == ["recorder"]
    assert "CONCUR_TEST_SERVICE_TOKEN" not in os.environ
    assert rec.events == ["enter", "exit"]


@pytest.mark.parametrize("exc", [RuntimeError("a trial blew up"), KeyboardInterrupt()])
def test_the_service_is_exited_when_the_run_raises(monkeypatch, exc):
    monkeypatch.setenv("CONCUR_TEST_SERVICE_TOKEN", "before")
    rec = Recorder()
    with pytest.raises(type(exc)), run_services([Workload("a", handle=noop, service=rec.service)],
                                                SilentProgress()):
        raise exc
    assert rec.events == ["enter", "exit"]
    assert os.environ["CONCUR_TEST_SERVICE_TOKEN"] == "before"


def test_two_sides_with_the_same_service_share_one():
    rec = Recorder()
    sides = [Workload("a", handle=noop, service=rec.service), Workload("b", handle=noop, service=rec.service)]
    with run_services(sides, SilentProgress()):
        assert rec.events == ["enter"]
    assert rec.events == ["enter", "exit"]


def test_a_service_that_yields_something_else_is_one_clear_error():
    @contextlib.contextmanager
    def odd() -> Iterator[int]:
        yield 42

    with pytest.raises(WorkloadError, match="yielded a int"), run_services(
            [Workload("a", handle=noop, service=odd)], SilentProgress()):
        pass


@pytest.mark.slow
def test_every_trial_of_a_run_sees_the_service_entered_once(tmp_path, monkeypatch):
    log = tmp_path / "service.log"
    monkeypatch.setenv("CONCUR_TEST_SERVICE_LOG", str(log))
    results = profile(JOB, models=["sequential", "threads"], concurrency=[1, 2], records=30)
    assert [t.errors for t in results.trials] == [0, 0, 0]  # the handle raises without the token
    events = [line.split()[0] for line in log.read_text().splitlines()]
    assert events == ["enter", "exit"]
    assert results.workload.service == "the test service"
    assert "CONCUR_TEST_SERVICE_TOKEN" not in os.environ
