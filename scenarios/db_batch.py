"""The seed job: read a row, process its JSON payload in Python, write the result back.

Three implementations of the same per-record job, as the story went:

- `sync_pool` — the original thread-pool job: one connection pool per process sized to
  the worker threads (psycopg 3 + psycopg_pool on PostgreSQL; one sqlite3 connection
  per worker thread on SQLite). `concur run scenarios/db_batch.py:sync_pool`
- `async_naive` — the rewrite as it was done: asyncpg (aiosqlite), one new connection
  per record. Run it unbounded to see the story:
  `concur run scenarios/db_batch.py:async_naive --models asyncio --concurrency 0`
- `async_pool` — the rewrite done right: one asyncpg pool (a pool of aiosqlite
  connections) per event loop, sized to the concurrency, bounded in-flight records.
- `story` — the thread-pool job and the naive rewrite in one target (sync handle =
  `sync_pool`, async handle = `async_naive`), so one run compares them:
  `concur run scenarios.db_batch:story --total 300000`
- `sqlite_story`, `sqlite_sync_pool`, `sqlite_async_naive`, `sqlite_async_pool` — the same
  jobs on an SQLite file: a single-writer store, where every implementation serialises.

The database: each PostgreSQL target's run-scoped service (`database`) uses the server
named by `--dsn`/`CONCUR_DSN` when there is one, and otherwise starts an embedded
PostgreSQL for the run (`scenarios.pg_embedded`: a real server from a pip wheel, on a
free 127.0.0.1 port, `max_connections` 100 or `--db-max-connections`), seeds the table
once, and stops it when the run ends. A server-side probe (`scenarios.pg_probe`) counts
this job's sessions in pg_stat_activity, the server's CPU and its wait events per trial,
and (on the embedded server) the connection attempts it refused.
Records are row ids (ints). Connection errors — "too many clients", pool timeouts,
"database is locked" — are raised from the handle, so concur counts them by type.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from typing import Any

from profiler.scenarios import db_store
from profiler.scenarios.db_store import Backend, drop_tables, ensure_table
from profiler.scenarios.record_work import transform
from profiler.workload import ServiceEnv, WorkerInfo, Workload

__all__ = ["async_naive", "async_pool", "database", "drop_tables", "records", "sqlite_story",
           "story", "sync_pool"]

POOL_TIMEOUT_S = 30.0  # waiting longer than this for a pooled connection is an error
DEFAULT_LOOP_POOL = 10  # pool size for an unbounded (N = 0) loop: the cap a pool exists for
LOOP_MODELS = ("asyncio", "uvloop")
THREAD_MODELS = ("threads", "asyncio-threads")


def records(n: int) -> list[int]:
    """Row ids 1..rows, cycling when a trial asks for more records than the table has.
    Read from the environment only: concur asks for a sample before the database runs."""
    rows = db_store.current().rows
    return [i % rows + 1 for i in range(n)]


# ---------------------------------------------------------------- the run's database


@contextlib.contextmanager
def database() -> Iterator[ServiceEnv]:
    """The run-scoped service of the PostgreSQL targets (`Workload.service`).

    With `--dsn`/`CONCUR_DSN`: that server, nothing started. Otherwise an embedded
    PostgreSQL for this run only, with the table seeded before the first trial; it stops
    when the run ends, however it ends."""
    if os.environ.get("CONCUR_DSN", "").strip() and os.environ.get("CONCUR_DB_BACKEND") != "sqlite":
        yield ServiceEnv({}, f"PostgreSQL given by --dsn/CONCUR_DSN ({db_store.current().describe()})")
        return
    from profiler.scenarios.pg_embedded import (
        DEFAULT_MAX_CONNECTIONS,
        ServiceError,
        embedded_postgres,
    )

    try:
        limit = db_store.env_int("CONCUR_DB_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS, low=4)
    except ValueError as exc:
        raise ServiceError(str(exc)) from None
    with embedded_postgres(max_connections=limit) as server:
        env = {"CONCUR_DB_BACKEND": "postgresql", "CONCUR_DSN": server.dsn,
               "CONCUR_PG_ADMIN_DSN": server.admin_dsn, "CONCUR_PG_LOG": str(server.log_path)}
        ensure_table(replace(db_store.current(), kind="postgresql", dsn=server.dsn))
        yield ServiceEnv(env, server.describe(), down=server.down)  # watched during every trial


@contextlib.contextmanager
def sqlite_file() -> Iterator[ServiceEnv]:
    """The run-scoped service of the `sqlite_*` targets: nothing to start, SQLite chosen."""
    yield ServiceEnv({"CONCUR_DB_BACKEND": "sqlite"}, "an SQLite file (one writer at a time)")


def _sql(backend: Backend, placeholder: str) -> tuple[str, str]:
    p1, p2, p3 = (placeholder.format(i) for i in (1, 2, 3))
    # updated_at makes every write a change: the result of a row is the same on every run,
    # and SQLite skips writing identical bytes, so without it every trial after the first
    # would commit nothing and never wait for the disk.
    return (f"SELECT payload FROM {backend.table} WHERE id = {p1}",
            f"UPDATE {backend.table} SET result = {p1}, updated_at = {p2} WHERE id = {p3}")


def _payload(row: Any, record_id: int, backend: Backend) -> str:
    if row is None:
        raise LookupError(f"row {record_id} is missing from {backend.table}")
    return row[0]


def probe() -> Any:
    """The per-trial server-side probe: a pg_stat_activity sampler on PostgreSQL, else None."""
    backend = db_store.current()
    if not backend.is_postgres:
        return None
    from profiler.scenarios.pg_probe import ActivityProbe

    return ActivityProbe.from_env(backend.dsn or "", application_name=backend.app_name)


# ---------------------------------------------------------------- sync_pool (thread pool)


class _SharedPool:
    """One psycopg pool per process, shared by its worker threads: opened by the first
    worker's setup (under a lock), closed by the last worker's teardown (a refcount)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: Any = None
        self._users = 0

    def acquire(self, backend: Backend, size: int) -> Any:
        from psycopg_pool import ConnectionPool

        with self._lock:
            if self._pool is None:
                pool = ConnectionPool(
                    backend.dsn or "", min_size=size, max_size=size, open=False,
                    timeout=POOL_TIMEOUT_S, name=backend.app_name,
                    kwargs={"application_name": backend.app_name},
                )
                pool.open(wait=True, timeout=POOL_TIMEOUT_S)  # all `size` connections, before the window
                self._pool = pool
            self._users += 1
            return self._pool

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users <= 0 and self._pool is not None:
                self._pool.close()
                self._pool, self._users = None, 0


_shared_pool = _SharedPool()


@dataclass
class SyncContext:
    backend: Backend
    select_sql: str
    update_sql: str
    pool: Any = None  # psycopg_pool.ConnectionPool (PostgreSQL)
    sqlite: sqlite3.Connection | None = None  # this thread's own connection (SQLite)


def _workers_in_this_process(info: WorkerInfo) -> int:
    """Threads of this process that run handlers: the pool is sized to them, not to N
    (under processes every worker process has one thread, so a pool of one each)."""
    return max(info.concurrency, 1) if info.model in THREAD_MODELS else 1


def sync_setup(info: WorkerInfo) -> SyncContext:
    backend = ensure_table()
    if backend.is_postgres:
        select_sql, update_sql = _sql(backend, "%s")
        return SyncContext(backend, select_sql, update_sql,
                           pool=_shared_pool.acquire(backend, _workers_in_this_process(info)))
    select_sql, update_sql = _sql(backend, "?")
    return SyncContext(backend, select_sql, update_sql, sqlite=db_store.connect_sqlite(backend))


def sync_handle(record_id: int, ctx: SyncContext) -> None:
    if ctx.pool is not None:
        # The pool's context commits on success and rolls back on an exception.
        with ctx.pool.connection(timeout=POOL_TIMEOUT_S) as conn:
            row = conn.execute(ctx.select_sql, (record_id,)).fetchone()
            result = transform(_payload(row, record_id, ctx.backend), ctx.backend.work_passes)
            conn.execute(ctx.update_sql, (result, time.time(), record_id))
        return
    conn = ctx.sqlite
    assert conn is not None
    try:
        # Read-modify-write as one write transaction: a deferred one that reads first can
        # fail with "database is locked" when it upgrades to write. SQLite has one writer,
        # so this is where the job serializes, and concur should say so.
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute(ctx.select_sql, (record_id,)).fetchone()
        result = transform(_payload(row, record_id, ctx.backend), ctx.backend.work_passes)
        conn.execute(ctx.update_sql, (result, time.time(), record_id))
        conn.commit()
    except BaseException:
        conn.rollback()  # never leave the write lock held by a failed record
        raise


def sync_teardown(ctx: SyncContext) -> None:
    if ctx.pool is not None:
        _shared_pool.release()
    elif ctx.sqlite is not None:
        ctx.sqlite.close()


# ---------------------------------------------------------------- async_naive (the rewrite)


@dataclass
class AsyncContext:
    backend: Backend
    select_sql: str
    update_sql: str
    pool: Any = None  # asyncpg.Pool or SqlitePool (async_pool only)


def _async_context(backend: Backend, pool: Any = None) -> AsyncContext:
    select_sql, update_sql = _sql(backend, "${}" if backend.is_postgres else "?")
    return AsyncContext(backend, select_sql, update_sql, pool)


def naive_setup() -> AsyncContext:
    return _async_context(ensure_table())


async def naive_handle(record_id: int, ctx: AsyncContext) -> None:
    """A connection of its own for every record: what the unbounded rewrite did."""
    backend = ctx.backend
    if backend.is_postgres:
        import asyncpg

        conn = await asyncpg.connect(db_store.asyncpg_dsn(backend.dsn or ""),
                                     server_settings={"application_name": backend.app_name})
        try:
            await _pg_record(conn, record_id, ctx)
        finally:
            await conn.close()
        return
    import aiosqlite

    async with aiosqlite.connect(backend.sqlite_path or "",
                                 timeout=db_store.SQLITE_BUSY_TIMEOUT_S) as db:
        await _sqlite_record(db, record_id, ctx)


async def _pg_record(conn: Any, record_id: int, ctx: AsyncContext) -> None:
    async with conn.transaction():
        row = await conn.fetchrow(ctx.select_sql, record_id)
        result = transform(_payload(row, record_id, ctx.backend), ctx.backend.work_passes)  # on the loop, as written
        await conn.execute(ctx.update_sql, result, time.time(), record_id)


async def _sqlite_record(db: Any, record_id: int, ctx: AsyncContext) -> None:
    try:
        await db.execute("BEGIN IMMEDIATE")  # one write transaction, as in sync_handle
        async with db.execute(ctx.select_sql, (record_id,)) as cursor:
            row = await cursor.fetchone()
        result = transform(_payload(row, record_id, ctx.backend), ctx.backend.work_passes)
        await db.execute(ctx.update_sql, (result, time.time(), record_id))
        await db.commit()
    except BaseException:
        await db.rollback()
        raise


# ---------------------------------------------------------------- async_pool (done right)


class SqlitePool:
    """A fixed set of aiosqlite connections handed out one task at a time."""

    def __init__(self, connections: list[Any]) -> None:
        self._all = connections
        self._idle: asyncio.Queue[Any] = asyncio.Queue()
        for conn in connections:
            self._idle.put_nowait(conn)

    @classmethod
    async def open(cls, path: str, size: int) -> SqlitePool:
        import aiosqlite

        return cls([await aiosqlite.connect(path, timeout=db_store.SQLITE_BUSY_TIMEOUT_S)
                    for _ in range(size)])

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        conn = await asyncio.wait_for(self._idle.get(), POOL_TIMEOUT_S)
        try:
            yield conn
        finally:
            self._idle.put_nowait(conn)

    async def close(self) -> None:
        for conn in self._all:
            await conn.close()


def loop_pool_size(info: WorkerInfo) -> int:
    """N connections for a loop running N records at once; a fixed cap when unbounded;
    one under threads/processes, where each worker's own loop runs one record at a time."""
    if info.model in LOOP_MODELS:
        return info.concurrency if info.concurrency > 0 else DEFAULT_LOOP_POOL
    return 1


async def pool_setup(info: WorkerInfo) -> AsyncContext:
    backend = ensure_table()
    size = loop_pool_size(info)
    if backend.is_postgres:
        import asyncpg

        pool = await asyncpg.create_pool(
            db_store.asyncpg_dsn(backend.dsn or ""), min_size=size, max_size=size,
            server_settings={"application_name": backend.app_name})
    else:
        pool = await SqlitePool.open(backend.sqlite_path or "", size)
    return _async_context(backend, pool)


async def pool_handle(record_id: int, ctx: AsyncContext) -> None:
    if ctx.backend.is_postgres:
        async with ctx.pool.acquire(timeout=POOL_TIMEOUT_S) as conn:
            await _pg_record(conn, record_id, ctx)
        return
    async with ctx.pool.acquire() as db:
        await _sqlite_record(db, record_id, ctx)


async def pool_teardown(ctx: AsyncContext) -> None:
    await ctx.pool.close()


# ---------------------------------------------------------------- story (both in one target)


def story_setup(info: WorkerInfo) -> SyncContext | AsyncContext:
    """Loop models run the naive rewrite; every other model runs the thread-pool job."""
    return naive_setup() if info.model in LOOP_MODELS else sync_setup(info)


def story_teardown(ctx: SyncContext | AsyncContext) -> None:
    if isinstance(ctx, SyncContext):
        sync_teardown(ctx)


THREAD_POOL_SIZE = 16  # the original job's ThreadPoolExecutor(16)

sync_pool = Workload(
    name="db_batch.sync_pool", handle=sync_handle, records=records,
    setup=sync_setup, teardown=sync_teardown, probe=probe, service=database,
    deployed=f"threads:{THREAD_POOL_SIZE}",
)
async_naive = Workload(
    name="db_batch.async_naive", handle=naive_handle, records=records,
    setup=naive_setup, probe=probe, service=database,
    deployed="asyncio:0",  # the rewrite as it ran: asyncio.gather over every record
)
async_pool = Workload(
    name="db_batch.async_pool", handle=pool_handle, records=records,
    setup=pool_setup, teardown=pool_teardown, probe=probe, service=database,
)
story = Workload(
    name="db_batch.story", handle=sync_handle, async_handle=naive_handle, records=records,
    setup=story_setup, teardown=story_teardown, probe=probe, service=database,
)


def _on_sqlite(job: Workload) -> Workload:
    return replace(job, name=job.name.replace("db_batch.", "db_batch.sqlite_"), service=sqlite_file)


sqlite_sync_pool = _on_sqlite(sync_pool)
sqlite_async_naive = _on_sqlite(async_naive)
sqlite_async_pool = _on_sqlite(async_pool)
sqlite_story = _on_sqlite(story)
workload = sync_pool
