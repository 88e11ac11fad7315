"""A record that died of a connection failure is counted by kind from the driver's error, on
any server: refused (SQLSTATE 53300 or the server's words), timed out, reset.

The refusals are real: a role with CONNECTION LIMIT 0 on the system PostgreSQL is turned
away at once ("too many connections for role", SQLSTATE 53300), by psycopg (a plain
OperationalError with no SQLSTATE: only the server's words say why) and by asyncpg
(TooManyConnectionsError, `sqlstate` "53300"). The timeout is real too: a server that
accepts and never answers.
"""

from __future__ import annotations

import asyncio
import errno

import pytest

from profiler.models.workers import Tally, connection_failure
from tests.test_scenarios_db_postgres import ADMIN_DSN, _reachable_or_skip

REFUSED_ROLE = "concur_refused"


class DriverError(Exception):
    """An error as a driver raises it: a SQLSTATE attribute, a message."""

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def test_sqlstate_53300_is_a_refusal_whatever_the_class_or_the_words():
    assert connection_failure(DriverError("no", sqlstate="53300")) == "refused"


@pytest.mark.parametrize("words", ["FATAL:  sorry, too many clients already",
                                   "FATAL:  remaining connection slots are reserved for roles "
                                   "with the SUPERUSER attribute",
                                   'FATAL:  too many connections for role "app"'])
def test_the_servers_words_are_a_refusal_when_no_sqlstate_came_with_them(words):
    assert connection_failure(DriverError(f"connection failed: {words}")) == "refused"


def test_timeouts_and_resets_are_kinds_of_their_own_and_other_errors_are_none():
    assert connection_failure(TimeoutError()) == "timeout"
    assert connection_failure(type("PoolTimeout", (Exception,), {})("no connection in 30 s")) == "timeout"
    assert connection_failure(ConnectionResetError(errno.ECONNRESET, "reset by peer")) == "reset"
    assert connection_failure(BrokenPipeError()) == "reset"
    assert connection_failure(DriverError("connection lost", sqlstate="08006")) == "reset"
    assert connection_failure(ValueError("bad payload")) is None
    assert connection_failure(DriverError("duplicate key", sqlstate="23505")) is None


def test_a_refusal_wrapped_by_the_handler_is_still_a_refusal():
    try:
        try:
            raise DriverError("too many", sqlstate="53300")
        except DriverError as exc:
            raise RuntimeError("record 7 failed") from exc
    except RuntimeError as wrapped:
        assert connection_failure(wrapped) == "refused"


def test_the_tally_counts_kinds_and_keeps_them_through_the_wire():
    tally = Tally()
    for exc in (DriverError("x", "53300"), DriverError("y", "53300"), TimeoutError(), ValueError()):
        tally.error(exc, 0.01)
    back = Tally.from_wire(tally.to_wire())
    assert dict(back.connection_failures) == {"refused": 2, "timeout": 1}
    back.merge(tally)
    assert back.connection_failures["refused"] == 4


@pytest.fixture(scope="module")
def refused_dsn() -> str:
    """A role the system PostgreSQL admits no session of."""
    _reachable_or_skip()
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{REFUSED_ROLE}') "
            f"THEN CREATE ROLE {REFUSED_ROLE} LOGIN NOSUPERUSER; END IF; END $$")
        conn.execute(f"ALTER ROLE {REFUSED_ROLE} CONNECTION LIMIT 0")
    info = conninfo_to_dict(ADMIN_DSN)
    port = f":{info['port']}" if info.get("port") else ""
    return f"postgresql://{REFUSED_ROLE}@{info.get('host', '127.0.0.1')}{port}/{info.get('dbname', 'test')}"


@pytest.mark.postgres
def test_a_real_refusal_from_psycopg_is_counted_from_the_servers_words(refused_dsn):
    import psycopg

    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(refused_dsn, connect_timeout=5)
    assert connection_failure(caught.value) == "refused"


@pytest.mark.postgres
def test_a_real_refusal_from_asyncpg_is_counted_from_its_sqlstate(refused_dsn):
    import asyncpg

    with pytest.raises(asyncpg.PostgresError) as caught:
        asyncio.run(asyncpg.connect(refused_dsn, timeout=5))
    assert caught.value.sqlstate == "53300"
    assert connection_failure(caught.value) == "refused"


def test_a_real_connect_timeout_from_asyncpg_is_a_timeout(hold_server):
    import asyncpg

    with pytest.raises(TimeoutError) as caught:  # the server accepts and never answers
        asyncio.run(asyncpg.connect(f"postgresql://x@127.0.0.1:{hold_server.port}/x", timeout=0.3))
    assert connection_failure(caught.value) == "timeout"
