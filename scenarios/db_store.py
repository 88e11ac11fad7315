"""Where the database batch job's rows live: backend choice, schema, seeding, clean-up.

The backend is chosen from the environment at call time, in every process that asks
(the concur parent, the trial child, each worker process), so they all agree:

- `CONCUR_DB_BACKEND=sqlite` (the `sqlite_*` targets' service sets it): SQLite in a file
  (`CONCUR_SQLITE_PATH`, default `<tempdir>/concur/concur_db_batch.sqlite3`).
- otherwise `CONCUR_DSN` (e.g. `postgresql://postgres@127.0.0.1:5432/test`): PostgreSQL.
  Under `concur run` it is always set for the PostgreSQL targets: from `--dsn`, or by
  their service (`db_batch.database`), which starts an embedded server for the run.
- neither (a handle called outside concur, with no server given): the SQLite file.
- `CONCUR_RECORDS`: rows in the table (default 50,000); `records(n)` cycles over them.
- `CONCUR_DB_WORK`: passes of the per-record Python work (default 1, about 1 ms of CPU;
  0 = none, so a record is only its read and its write).
- `CONCUR_DB_TABLE`: the table (default `concur_db_batch`). It is also the
  `application_name` of every PostgreSQL connection, which is how the server-side
  probe tells this job's connections from everyone else's; tests running beside other
  work use a table (and so a name) of their own.

Seeding is idempotent and fast: only when the table is missing or has fewer rows than
asked, the missing ids are written in one transaction (COPY on PostgreSQL, executemany
on SQLite), under a lock that keeps concurrent seeders from writing the same rows.
"""

from __future__ import annotations

import os
import re
import sqlite3
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from profiler.redact import redact
from profiler.scenarios.record_work import PENDING_RESULT, make_payload

if TYPE_CHECKING:
    import psycopg

DEFAULT_TABLE = "concur_db_batch"
DEFAULT_ROWS = 50_000
SQLITE_BUSY_TIMEOUT_S = 30.0  # how long a SQLite writer waits for the lock before "database is locked"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Backend:
    """The database this process should use, as the environment says now."""

    kind: str  # "postgresql" or "sqlite"
    table: str
    rows: int
    dsn: str | None = None
    sqlite_path: str | None = None
    work_passes: int = 1

    @property
    def app_name(self) -> str:
        return self.table

    @property
    def is_postgres(self) -> bool:
        return self.kind == "postgresql"

    def describe(self) -> str:
        where = redact(self.dsn or "") if self.is_postgres else self.sqlite_path
        return f"{self.kind} table {self.table} ({self.rows:,} rows) at {where}"


def current() -> Backend:
    table = os.environ.get("CONCUR_DB_TABLE", DEFAULT_TABLE).strip() or DEFAULT_TABLE
    if not _IDENTIFIER.match(table):
        raise ValueError(f"CONCUR_DB_TABLE={table!r} is not a plain lower-case SQL identifier")
    rows = env_int("CONCUR_RECORDS", DEFAULT_ROWS, low=1)
    work = env_int("CONCUR_DB_WORK", 1, low=0)
    kind = os.environ.get("CONCUR_DB_BACKEND", "").strip().lower()
    if kind not in ("", "sqlite", "postgresql"):
        raise ValueError(f"CONCUR_DB_BACKEND={kind!r} is neither sqlite nor postgresql")
    dsn = os.environ.get("CONCUR_DSN", "").strip()
    if kind == "postgresql" and not dsn:
        raise ValueError("CONCUR_DB_BACKEND=postgresql needs CONCUR_DSN (or run under concur, "
                         "which starts an embedded server)")
    if dsn and kind != "sqlite":
        return Backend("postgresql", table, rows, dsn=dsn, work_passes=work)
    path = os.environ.get("CONCUR_SQLITE_PATH", "").strip() or str(
        Path(tempfile.gettempdir()) / "concur" / f"{table}.sqlite3")
    return Backend("sqlite", table, rows, sqlite_path=path, work_passes=work)


def env_int(name: str, default: int, low: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number") from None
    if value < low:
        raise ValueError(f"{name} must be ≥ {low}, not {value}")
    return value


# ---------------------------------------------------------------- connections


def connect_sqlite(backend: Backend) -> sqlite3.Connection:
    """A plain sqlite3 connection with the library's defaults (rollback journal, full
    sync): the job as it is usually written. Only the busy timeout is longer than the
    default 5 s, so that waiting for the write lock shows as time, not as errors."""
    assert backend.sqlite_path is not None
    return sqlite3.connect(backend.sqlite_path, timeout=SQLITE_BUSY_TIMEOUT_S)


def asyncpg_dsn(dsn: str) -> str:
    """asyncpg takes only URLs; turn a `key=value` conninfo into one."""
    if "://" in dsn:
        return dsn
    from urllib.parse import quote

    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(dsn)
    user = quote(str(info.get("user", "")), safe="")
    password = info.get("password")
    auth = f"{user}:{quote(str(password), safe='')}@" if password else (f"{user}@" if user else "")
    host = info.get("host", "localhost")
    port = f":{info['port']}" if info.get("port") else ""
    return f"postgresql://{auth}{host}{port}/{info.get('dbname', '')}"


# ---------------------------------------------------------------- schema and seeding

_seeded: set[Backend] = set()
_seed_lock = threading.Lock()


def ensure_table(backend: Backend | None = None) -> Backend:
    """Create and seed the table when missing or too small; cheap after the first call."""
    backend = backend or current()
    if backend in _seeded:
        return backend
    with _seed_lock:
        if backend not in _seeded:
            if backend.is_postgres:
                _ensure_postgres(backend)
            else:
                _ensure_sqlite(backend)
            _seeded.add(backend)
    return backend


def _ensure_sqlite(backend: Backend) -> None:
    assert backend.sqlite_path is not None
    Path(backend.sqlite_path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(backend.sqlite_path, timeout=120, isolation_level=None)
    try:
        if _sqlite_max_id(conn, backend.table) >= backend.rows:
            return
        conn.execute("BEGIN IMMEDIATE")  # one seeder at a time; the others re-check after
        conn.execute(f"CREATE TABLE IF NOT EXISTS {backend.table} "
                     "(id INTEGER PRIMARY KEY, payload TEXT NOT NULL, result TEXT, updated_at REAL)")
        have = _sqlite_max_id(conn, backend.table)
        conn.executemany(f"INSERT INTO {backend.table} (id, payload, result) VALUES (?, ?, ?)",
                         ((i, make_payload(i), PENDING_RESULT)
                          for i in range(have + 1, backend.rows + 1)))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()


def _sqlite_max_id(conn: sqlite3.Connection, table: str) -> int:
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                          (table,)).fetchone()
    if not exists:
        return 0
    return conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]


def _ensure_postgres(backend: Backend) -> None:
    import psycopg

    with psycopg.connect(backend.dsn, application_name=backend.app_name, connect_timeout=10) as conn:
        if _pg_max_id(conn, backend.table) >= backend.rows:
            return
        # One seeder at a time across processes and machines; the others re-check after.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (backend.table,))
        if conn.execute("SELECT to_regclass(%s)", (backend.table,)).fetchone()[0] is None:
            # Created only when missing: a role without CREATE on the schema can still
            # use a table someone else created for it.
            conn.execute(f"CREATE TABLE IF NOT EXISTS {backend.table} "
                         "(id integer PRIMARY KEY, payload text NOT NULL, result text, "
                         "updated_at double precision)")
        have = _pg_max_id(conn, backend.table)
        if have < backend.rows:
            with conn.cursor().copy(f"COPY {backend.table} (id, payload, result) FROM STDIN") as copy:
                for i in range(have + 1, backend.rows + 1):
                    copy.write_row((i, make_payload(i), PENDING_RESULT))
        conn.commit()
        if have < backend.rows:
            conn.autocommit = True
            conn.execute(f"ANALYZE {backend.table}")


def _pg_max_id(conn: psycopg.Connection, table: str) -> int:
    if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is None:
        return 0
    return conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]


def drop_tables(backend: Backend | None = None) -> None:
    """Drop the job's table (and, for SQLite, the database file when nothing else is in it)."""
    backend = backend or current()
    with _seed_lock:
        _seeded.discard(backend)
    if backend.is_postgres:
        import psycopg

        with psycopg.connect(backend.dsn, application_name=backend.app_name, autocommit=True,
                             connect_timeout=10) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {backend.table}")
        return
    path = Path(backend.sqlite_path or "")
    if not path.exists():
        return
    conn = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S, isolation_level=None)
    try:
        conn.execute(f"DROP TABLE IF EXISTS {backend.table}")
        others = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    finally:
        conn.close()
    if not others:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
