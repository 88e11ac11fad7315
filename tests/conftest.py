"""Shared fixtures: real servers on 127.0.0.1, paths to the labelled workloads."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.battery import Concur
from tests.machine_share import alone_first, machine, runs_alone

TESTS = Path(__file__).parent
CORE = TESTS / "workloads" / "core.py"
# Marks every process this test run starts (inherited), so a check for leftovers counts
# ours, not another program's on the same machine.
os.environ.setdefault("CONCUR_TEST_RUN", uuid.uuid4().hex)

REPORTS = (TESTS.parent / "reports", Path.cwd() / "reports")  # concur's default output folder


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    alone_first(items)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Setup, call and teardown hold the machine alone or shared (tests/machine_share.py)."""
    with machine(runs_alone(item), item.nodeid):
        yield


def _reports_listing() -> set[Path]:
    return {entry for folder in REPORTS if folder.is_dir() for entry in folder.iterdir()}


@pytest.fixture(scope="session", autouse=True)
def nothing_written_to_reports() -> Iterator[None]:
    """Tests write to tmp_path only: the session fails if one leaves anything in reports/
    (a command run without --out writes its report there, as a user's would)."""
    before = _reports_listing()
    yield
    added = sorted(map(str, _reports_listing() - before))
    assert not added, f"the tests wrote into reports/: {added}"


def target(name: str) -> str:
    return f"{CORE}:{name}"


class HoldServer:
    """Accepts TCP connections and keeps each open until the client closes it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.read(1024):
                pass
        finally:
            writer.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> None:
            server = await asyncio.start_server(self.handle, "127.0.0.1", 0, backlog=4096)
            self.port = server.sockets[0].getsockname()[1]
            self.ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()
        # Stopped: end the handlers still waiting on their clients while the loop can run
        # their `finally`, then close it (left pending, the garbage collector destroyed
        # them later, in whichever test was running, with a warning and a traceback).
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    def __enter__(self) -> HoldServer:
        self.thread.start()
        self.ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def hold_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[HoldServer]:
    with HoldServer() as server:
        monkeypatch.setenv("CONCUR_TEST_PORT", str(server.port))
        yield server


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`concur ARGS` as a user runs it: a separate process, real exit code and stderr."""
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "profiler", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout, env=env)


class DelayServer(HoldServer):
    """Answers each line with b"pong\\n" after `delay_s`, many connections at once."""

    def __init__(self, delay_s: float = 0.010) -> None:
        super().__init__()
        self.delay_s = delay_s

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readline():
                await asyncio.sleep(self.delay_s)
                writer.write(b"pong\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


@pytest.fixture
def delay_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[DelayServer]:
    with DelayServer() as server:
        monkeypatch.setenv("CONCUR_TEST_PORT", str(server.port))
        yield server


@pytest.fixture(scope="module")
def concur() -> Iterator[Concur]:
    """The bad-input battery's runner (tests/battery.py), one per test module: its table
    is appended to $CONCUR_BATTERY_TABLE, and what a failed case left running is killed."""
    runner = Concur()
    yield runner
    runner.finish()
