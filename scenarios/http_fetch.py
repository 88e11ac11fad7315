"""Network I/O: fetch one JSON document per record from a slow HTTP service.

The service is `scenarios.latency_server`, started on 127.0.0.1 by the first worker's
setup (and shared by every worker and process of the trial); it answers after
`CONCUR_HTTP_DELAY_MS` (default 20 ms) and serves at most `CONCUR_HTTP_LIMIT` (64)
requests at once. Per record the client sends a GET, reads and parses the body and
checks it: a few hundred microseconds of CPU against 20 ms of waiting, so the work
is I/O-bound and concurrency, not more cores, is what speeds it up — until the
service's own limit caps it.

- `sync_fetch`: `http.client`, one keep-alive connection per worker.
- `async_fetch`: asyncio streams, keep-alive connections reused per event loop (as
  many as there are requests in flight).
- `fetch` (the default `workload`): both handles, so one run compares every model:
  `concur run scenarios/http_fetch.py --concurrency 4,16,64`
"""

from __future__ import annotations

import asyncio
import http.client
import json
from typing import Any

from profiler.scenarios.latency_server import ensure_server
from profiler.workload import WorkerInfo, Workload

TIMEOUT_S = 30.0


def _check(body: bytes, record: int) -> int:
    doc = json.loads(body)
    if doc.get("path") != f"/record/{record}":
        raise ValueError(f"record {record}: the service answered for {doc.get('path')!r}")
    return sum(doc["items"])


class SyncClient:
    """One keep-alive connection (http.client reconnects by itself if the server closed it)."""

    def __init__(self, host: str, port: int) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT_S)

    def get(self, path: str) -> bytes:
        self.conn.request("GET", path)
        response = self.conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise http.client.HTTPException(f"GET {path}: HTTP {response.status}")
        return body

    def close(self) -> None:
        self.conn.close()


def sync_setup() -> SyncClient:
    return SyncClient(*ensure_server())


def sync_handle(record: int, client: SyncClient) -> int:
    return _check(client.get(f"/record/{record}"), record)


def sync_teardown(client: SyncClient) -> None:
    client.close()


class AsyncClient:
    """HTTP/1.1 GETs over asyncio streams; an idle keep-alive connection is reused, else a
    new one is opened, so a loop holds as many connections as it has requests in flight."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._all: list[asyncio.StreamWriter] = []

    async def get(self, path: str) -> bytes:
        if self._idle:
            reader, writer = self._idle.pop()
        else:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, limit=2**20), TIMEOUT_S)
            self._all.append(writer)
        try:
            body = await asyncio.wait_for(self._exchange(reader, writer, path), TIMEOUT_S)
        except BaseException:
            writer.close()
            raise
        self._idle.append((reader, writer))
        return body

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        path: str) -> bytes:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        await writer.drain()
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        status_line, _, headers = head.partition("\r\n")
        status = int(status_line.split()[1])
        length = 0
        for line in headers.split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        body = await reader.readexactly(length)
        if status != 200:
            raise http.client.HTTPException(f"GET {path}: HTTP {status}")
        return body

    async def close(self) -> None:
        for writer in self._all:
            writer.close()
        self._idle.clear()
        self._all.clear()


async def async_setup() -> AsyncClient:
    host, port = await asyncio.to_thread(ensure_server)  # may start the server: not on the loop
    return AsyncClient(host, port)


async def async_handle(record: int, client: AsyncClient) -> int:
    return _check(await client.get(f"/record/{record}"), record)


async def async_teardown(client: AsyncClient) -> None:
    await client.close()


def _setup(info: WorkerInfo) -> Any:
    return async_setup() if info.model in ("asyncio", "uvloop") else sync_setup()


def _teardown(ctx: Any) -> Any:
    return async_teardown(ctx) if isinstance(ctx, AsyncClient) else sync_teardown(ctx)


sync_fetch = Workload(name="http_fetch.sync", handle=sync_handle, setup=sync_setup,
                      teardown=sync_teardown)
async_fetch = Workload(name="http_fetch.async", handle=async_handle, setup=async_setup,
                       teardown=async_teardown)
fetch = Workload(name="http_fetch", handle=sync_handle, async_handle=async_handle,
                 setup=_setup, teardown=_teardown)
workload = fetch
