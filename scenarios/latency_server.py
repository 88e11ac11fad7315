"""A small HTTP server on 127.0.0.1 that answers every request after a fixed delay.

It stands in for a remote service: each `GET /record/<id>` waits `delay_ms` (default
`CONCUR_HTTP_DELAY_MS`, 20) and returns a small JSON body; at most `limit` requests
(default `CONCUR_HTTP_LIMIT`, 64) are served at once, the rest queue, as a real service
with a worker limit does. Keep-alive is supported, so clients can reuse connections.

Why a detached process: the server must exist before the first worker's setup, be
shared by every worker of a trial (threads, processes or one event loop), and its own
CPU must not be billed to the workload (concur samples the trial's whole process
tree). `ensure_server()` therefore starts it once (under a file lock) as a daemon
outside the caller's process tree and returns its address; later callers, in any
process, find it through a small state file. It exits by itself after `idle_exit_s`
with no open connection (so it stops shortly after the trial), or on `stop_server()`.

Run by hand: `python -m profiler.scenarios.latency_server --delay-ms 20 --limit 64` (foreground).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DELAY_MS = 20.0
DEFAULT_LIMIT = 64
DEFAULT_IDLE_EXIT_S = 5.0
START_TIMEOUT_S = 10.0


def configured() -> tuple[float, int]:
    """(delay_ms, limit) from CONCUR_HTTP_DELAY_MS and CONCUR_HTTP_LIMIT."""
    delay = float(os.environ.get("CONCUR_HTTP_DELAY_MS") or DEFAULT_DELAY_MS)
    limit = int(os.environ.get("CONCUR_HTTP_LIMIT") or DEFAULT_LIMIT)
    if delay < 0 or limit < 1:
        raise ValueError(f"CONCUR_HTTP_DELAY_MS must be ≥ 0 and CONCUR_HTTP_LIMIT ≥ 1 "
                         f"(got {delay:g} and {limit})")
    return delay, limit


def _state_path(delay_ms: float, limit: int) -> Path:
    folder = Path(tempfile.gettempdir()) / "concur"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"latency-server-{os.getuid()}-{delay_ms:g}ms-{limit}.json"


def _read_state(path: Path) -> dict[str, int] | None:
    try:
        state = json.loads(path.read_text())
        return {"pid": int(state["pid"]), "port": int(state["port"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _alive(state: dict[str, int]) -> bool:
    try:
        os.kill(state["pid"], 0)
    except OSError:
        return False
    try:
        with socket.create_connection(("127.0.0.1", state["port"]), timeout=1.0):
            return True
    except OSError:
        return False


def ensure_server(delay_ms: float | None = None, limit: int | None = None,
                  idle_exit_s: float = DEFAULT_IDLE_EXIT_S) -> tuple[str, int]:
    """The address of a running server with this delay and limit, starting one if needed."""
    env_delay, env_limit = configured()
    delay_ms = env_delay if delay_ms is None else delay_ms
    limit = env_limit if limit is None else limit
    path = _state_path(delay_ms, limit)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one starter at a time, across processes
        state = _read_state(path)
        if state is None or not _alive(state):
            path.unlink(missing_ok=True)
            state = _spawn(path, delay_ms, limit, idle_exit_s)
    return "127.0.0.1", state["port"]


def _spawn(path: Path, delay_ms: float, limit: int, idle_exit_s: float) -> dict[str, int]:
    cmd = [sys.executable, "-m", __name__, "--delay-ms", f"{delay_ms:g}",
           "--limit", str(limit), "--idle-exit", f"{idle_exit_s:g}", "--state", str(path),
           "--daemon"]
    # The intermediate process forks the server and exits at once: the server is then
    # nobody's child here, so it is outside the trial's sampled (and killed) process tree.
    with open(path.with_suffix(".log"), "ab") as log:
        subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, check=True,
                       start_new_session=True, timeout=START_TIMEOUT_S,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        state = _read_state(path)
        if state is not None:
            return state
        time.sleep(0.02)
    raise RuntimeError(f"the latency server did not start within {START_TIMEOUT_S:g} s")


def stop_server(delay_ms: float | None = None, limit: int | None = None) -> bool:
    """Stop the server with this delay and limit, if one runs; True when one was stopped."""
    env_delay, env_limit = configured()
    path = _state_path(env_delay if delay_ms is None else delay_ms,
                       env_limit if limit is None else limit)
    state = _read_state(path)
    path.unlink(missing_ok=True)
    if state is None:
        return False
    try:
        os.kill(state["pid"], signal.SIGTERM)
    except OSError:
        return False
    return True


# ---------------------------------------------------------------- the server itself


class LatencyServer:
    def __init__(self, delay_ms: float, limit: int, idle_exit_s: float | None) -> None:
        self.delay_s = delay_ms / 1000
        self.limit = asyncio.Semaphore(limit)
        self.idle_exit_s = idle_exit_s
        self.open_connections = 0
        self.last_activity = time.monotonic()
        self.served = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open_connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                self.last_activity = time.monotonic()
                request_line, _, header_text = head.decode("latin-1").partition("\r\n")
                parts = request_line.split()
                path = parts[1] if len(parts) >= 2 else "/"
                async with self.limit:
                    await asyncio.sleep(self.delay_s)
                self.served += 1
                body = json.dumps({"path": path, "delay_ms": self.delay_s * 1000,
                                   "served": self.served, "items": list(range(16))}).encode()
                close = "connection: close" in header_text.lower()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n%s\r\n" % (
                                 len(body), b"Connection: close\r\n" if close else b"") + body)
                await writer.drain()
                self.last_activity = time.monotonic()
                if close:
                    return
        except ConnectionError:
            return
        finally:
            self.open_connections -= 1
            self.last_activity = time.monotonic()
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def serve(self, port: int = 0, state_path: Path | None = None) -> None:
        server = await asyncio.start_server(self.handle, "127.0.0.1", port, backlog=4096)
        bound = server.sockets[0].getsockname()[1]
        if state_path is not None:
            tmp = state_path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"pid": os.getpid(), "port": bound}))
            tmp.replace(state_path)
        else:
            print(f"listening on 127.0.0.1:{bound}", flush=True)
        async with server:
            while True:
                await asyncio.sleep(0.5)
                idle = time.monotonic() - self.last_activity
                if self.idle_exit_s and self.open_connections == 0 and idle > self.idle_exit_s:
                    break
        if state_path is not None:
            state = _read_state(state_path)
            if state is not None and state["pid"] == os.getpid():
                state_path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay-ms", type=float, default=None)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--idle-exit", type=float, default=0.0, help="exit after this many idle seconds (0: never)")
    parser.add_argument("--state", type=Path, default=None)
    parser.add_argument("--daemon", action="store_true", help="fork, let the parent exit at once")
    args = parser.parse_args(argv)
    env_delay, env_limit = configured()
    if args.daemon and os.fork() > 0:
        os._exit(0)
    server = LatencyServer(env_delay if args.delay_ms is None else args.delay_ms,
                           env_limit if args.limit is None else args.limit, args.idle_exit or None)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(server.serve(args.port, args.state))


if __name__ == "__main__":
    main()
