"""Workloads of the three shapes the sweep used to get wrong (issue 23), on real services.

- `pool_per_process`: a job with one connection pool per *process* (max 4 connections,
  as an ORM engine keeps), each record mostly waiting on PostgreSQL (`pg_sleep`). Threads
  share the process's pool, so they plateau at 4 in flight; processes bring a pool each,
  so their best lies beyond 2 × cores.
- `redis_client`: an `async def` Redis client (redis.asyncio) whose event loop's CPU per
  record falls as N grows (each wake-up serves more replies); a short `asyncio.sleep`
  keeps it mostly waiting so it scales on any machine.
- `fast_then_hangs`: sequential does 10 ms per record; threads×2's first trial returns at
  once (an impossible speed-up: the sweep re-measures it), every later threads×2 trial
  hangs (its re-measurement times out). `CONCUR_SHAPES_MARKER` names the marker file
  that says the first trial has run.

The services come from `CONCUR_TEST_DSN` and `CONCUR_TEST_REDIS` (defaults: the local
PostgreSQL and Redis on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

from profiler.workload import WorkerInfo, Workload

DSN = os.environ.get("CONCUR_TEST_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("CONCUR_TEST_REDIS", "redis://127.0.0.1:6379/0")
WAIT_S = 0.04  # each record's wait on the database
POOL_SIZE = 4

_pool: Any = None
_pool_lock = threading.Lock()


def _process_pool() -> Any:
    """The process's one pool (created by its first worker, shared by its threads)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            from psycopg_pool import ConnectionPool

            _pool = ConnectionPool(DSN, min_size=1, max_size=POOL_SIZE, open=True, timeout=30)
        return _pool


def _pg_setup() -> Any:
    return _process_pool()


def _pg_handle(record: Any, pool: Any) -> int:
    with pool.connection() as conn:
        conn.execute("SELECT pg_sleep(%s)", (WAIT_S,))
    return sum(i * i for i in range(2000))  # a little CPU of its own, as an ORM's unit of work has


pool_per_process = Workload("pool_per_process", _pg_handle, setup=_pg_setup)


async def _redis_setup() -> Any:
    import redis.asyncio as aioredis

    client = aioredis.from_url(REDIS)
    await client.set("concur:shapes", "x" * 64)
    return client


async def _redis_handle(record: Any, client: Any) -> None:
    await client.get("concur:shapes")
    await asyncio.sleep(0.004)


async def _redis_teardown(client: Any) -> None:
    await client.aclose()


redis_client = Workload("redis_client", _redis_handle, setup=_redis_setup, teardown=_redis_teardown)


_mode: list[str] = []
_mode_lock = threading.Lock()


def _hang_setup(info: WorkerInfo) -> str:
    """Decided once per trial process: threads×2's first trial is fast, the rest hang."""
    with _mode_lock:
        if not _mode:
            mode = "normal"
            if (info.model, info.concurrency) == ("threads", 2):
                try:
                    os.close(os.open(os.environ["CONCUR_SHAPES_MARKER"], os.O_CREAT | os.O_EXCL))
                    mode = "fast"
                except FileExistsError:
                    mode = "hang"
            _mode.append(mode)
        return _mode[0]


def _hang_handle(record: Any, mode: str) -> None:
    if mode == "fast":
        return
    time.sleep(60 if mode == "hang" else 0.010)


fast_then_hangs = Workload("fast_then_hangs", _hang_handle, setup=_hang_setup)
