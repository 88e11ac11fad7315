"""Database jobs for the stability and accuracy benchmarks (issue 13), on PostgreSQL.

`psycopg_pool64`: the "psycopg threads job" — each record runs one query that waits
20 ms in the server (`pg_sleep`: a slow index lookup, a remote database's round trip),
through a psycopg_pool shared by the threads of one process and capped at 64 sessions.
Its best configuration is threads×64: 2× threads×32, and nothing above 64 gains
(more workers only queue for a session). Under processes each worker process has its
own pool and one thread, so one session each.

The DSN comes from CONCUR_DSN (default postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import os
import threading
from typing import Any

POOL_MAX = 64
SERVER_WAIT_S = 0.020
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"

_pool: Any = None
_lock = threading.Lock()


def _shared_pool() -> Any:
    global _pool
    with _lock:
        if _pool is None:
            from psycopg_pool import ConnectionPool

            _pool = ConnectionPool(os.environ.get("CONCUR_DSN") or DEFAULT_DSN, min_size=1,
                                   max_size=POOL_MAX, timeout=60, open=True,
                                   kwargs={"application_name": "concur-bench-psycopg"})
        return _pool


def psycopg_pool64(record: int) -> None:
    with _shared_pool().connection() as conn:
        conn.execute("SELECT pg_sleep(%s), %s::int", (SERVER_WAIT_S, record)).fetchone()


def postgres_available() -> str | None:
    """None when the server answers, else why not (one line)."""
    try:
        import psycopg

        with psycopg.connect(os.environ.get("CONCUR_DSN") or DEFAULT_DSN, connect_timeout=3) as c:
            c.execute("SELECT 1")
    except Exception as exc:  # any failure means: no database for this benchmark
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    return None
