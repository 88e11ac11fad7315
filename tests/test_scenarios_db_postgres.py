"""The founding story on a real PostgreSQL: the naive asyncio rewrite drowns the database
in connections that the thread-pool job never opened, and concur's verdict says so.

Needs PostgreSQL at CONCUR_TEST_DSN (default postgresql://postgres@127.0.0.1:5432/test):
skipped when it is unreachable, a failure when CI=true. The jobs connect as a role of
their own, `concur_story`, with CONNECTION LIMIT 60: the unbounded rewrite then runs
out of connections at that limit (PostgreSQL answers "too many connections for role",
the same TooManyConnectionsError as "too many clients") instead of taking every slot of
a server that other tests share. The table is private to this test session and dropped
afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from profiler.api import compare, load_results
from profiler.measure.trial import TrialSpec, run_trial
from tests.conftest import run_cli

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ADMIN_DSN = os.environ.get("CONCUR_TEST_DSN", "postgresql://postgres@127.0.0.1:5432/test")
ROLE = "concur_story"
ROLE_CONNECTION_LIMIT = 60
RECORDS = 2000


def _role_dsn(admin_dsn: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(admin_dsn)
    port = f":{info['port']}" if info.get("port") else ""
    return f"postgresql://{ROLE}@{info.get('host', '127.0.0.1')}{port}/{info.get('dbname', 'test')}"


def _reachable_or_skip() -> None:
    import psycopg

    try:
        psycopg.connect(ADMIN_DSN, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL unreachable at {ADMIN_DSN}: {str(exc).strip().splitlines()[0]}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: the PostgreSQL tests must run)")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A seeded private table, the limited role, and the environment the jobs read."""
    _reachable_or_skip()
    import psycopg

    from profiler.scenarios import db_store

    table = f"concur_db_batch_t{os.getpid()}"
    env = {"CONCUR_DSN": _role_dsn(ADMIN_DSN), "CONCUR_DB_TABLE": table,
           "CONCUR_RECORDS": str(RECORDS), "CONCUR_DB_WORK": "1"}
    admin = db_store.Backend("postgresql", table, RECORDS, dsn=ADMIN_DSN)
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') "
            f"THEN CREATE ROLE {ROLE} LOGIN NOSUPERUSER; END IF; END $$")
        conn.execute(f"ALTER ROLE {ROLE} CONNECTION LIMIT {ROLE_CONNECTION_LIMIT}")
        db_store.ensure_table(admin)
        conn.execute(f"GRANT SELECT, INSERT, UPDATE ON {table} TO {ROLE}")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        yield env
    db_store.drop_tables(admin)


def _trial(target: str, model: str, n: int, records: int = RECORDS):
    from profiler.scenarios import db_batch

    probe = db_batch.probe()
    assert probe is not None, "CONCUR_DSN is set: the PostgreSQL variants must have a probe"
    return run_trial(TrialSpec(target, model, n, records, timeout_s=60), probe=probe).trial


def test_probe_counts_only_this_jobs_sessions(pg):
    import psycopg

    from profiler.scenarios.pg_probe import ActivityProbe

    mine = [psycopg.connect(pg["CONCUR_DSN"], application_name=pg["CONCUR_DB_TABLE"])
            for _ in range(3)]
    other = psycopg.connect(pg["CONCUR_DSN"], application_name="someone_else")
    try:
        probe = ActivityProbe(pg["CONCUR_DSN"], pg["CONCUR_DB_TABLE"], interval_s=0.02)
        probe.start()
        mine[0].execute("SELECT pg_sleep(0.15)")  # one session active for a few samples
        metrics = probe.stop()
    finally:
        for conn in [*mine, other]:
            conn.close()
    assert metrics["db_connections_peak"] == 3
    assert metrics["db_active_peak"] == 1 and metrics["db_idle_peak"] >= 2
    assert metrics["db_waits"].get("Timeout", 0) >= 1  # pg_sleep waits on a timeout event
    assert metrics["db_samples"] >= 3 and "db_probe_error" not in metrics


def test_unbounded_asyncio_opens_far_more_connections_than_the_thread_pool(pg):
    pool = _trial("scenarios.db_batch:sync_pool", "threads", 8)
    naive = _trial("scenarios.db_batch:async_naive", "asyncio", 0)
    print(f"\nsync_pool threads×8: {pool.throughput_rps:.0f} rec/s, server peak "
          f"{pool.db_connections_peak}, {pool.probe_metrics}"
          f"\nasync_naive asyncio×unbounded: {naive.throughput_rps:.0f} rec/s, server peak "
          f"{naive.db_connections_peak}, client TCP peak {naive.connections_peak}, errors "
          f"{naive.errors_by_type}, loop lag p99 {naive.loop_lag_p99_ms} ms, {naive.probe_metrics}")

    assert pool.status == "ok" and pool.errors == 0
    assert pool.db_connections_peak == 8  # the pool, sized to the 8 worker threads
    assert naive.status == "ok"
    assert naive.db_connections_peak >= 5 * pool.db_connections_peak
    assert naive.errors > 0 or naive.throughput_rps < pool.throughput_rps
    if naive.errors:  # refused connections surface from handle, counted by type
        assert "TooManyConnectionsError" in naive.errors_by_type


def test_the_pooled_rewrite_keeps_connections_to_its_pool(pg):
    pooled = _trial("scenarios.db_batch:async_pool", "asyncio", 8, records=600)
    assert pooled.status == "ok" and pooled.errors == 0
    assert pooled.db_connections_peak == 8


def test_story_verdict_is_not_unbounded_asyncio_and_warns_about_connections(pg, tmp_path: Path):
    out = tmp_path / "story.json"
    proc = run_cli("run", "scenarios.db_batch:story", "--concurrency", "8,0", "--records", "400",
                   "--dsn", pg["CONCUR_DSN"], "--total", "300000",
                   "--json", str(out), "--no-report", "-q", timeout=120)
    assert proc.returncode == 0, proc.stderr
    results = load_results(out)
    rec = results.recommendation
    print("\n" + proc.stdout)

    unbounded = [t for t in results.trials if t.concurrency == 0]
    assert {t.model for t in unbounded} >= {"asyncio"}
    assert rec.model is not None
    assert not (rec.model in ("asyncio", "uvloop") and rec.concurrency == 0)
    session_warnings = [w for w in rec.warnings if "database sessions" in w]  # the server's count
    assert any("unbounded" in w for w in session_warnings), rec.warnings
    by_label = {t.label: t for t in results.trials}
    assert by_label["asyncio×unbounded"].db_connections_peak >= 5 * by_label["threads×8"].db_connections_peak
    # --dsn: the server's log is not read; refusals are counted from the driver's error (400
    # records at once against the role's 60 sessions: "too many connections for role")
    r = results.story.rewrite
    assert r.config == "asyncio×unbounded" and r.db_refused_source == "driver errors"
    assert r.db_refused > 0 and r.db_refused_server_log is None
    assert r.error_rate >= 0.5 and r.batch_s is None and "would not finish" in results.story.headline
    assert results.story.rewrite_bounded.config in ("asyncio×8", "uvloop×8")


def _run_json(tmp_path: Path, name: str, target: str, model: str, n: int, records: int = 300) -> Path:
    out = tmp_path / f"{name}.json"
    proc = run_cli("run", target, "--models", model, "--concurrency", str(n), "--records", str(records),
                   "--repeat", "2", "--json", str(out), "--no-report", "-q", timeout=180)
    assert proc.returncode == 0, proc.stderr
    return out


def test_compare_tells_the_seed_story(pg, tmp_path: Path):
    """Thread pool (baseline) vs the naive rewrite (candidate), side by side: the rewrite is
    slower, holds many times the connections, and its loop lags."""
    from profiler.report.compare import render_compare

    pool = load_results(_run_json(tmp_path, "pool", "scenarios.db_batch:sync_pool", "threads", 8))
    naive = load_results(_run_json(tmp_path, "naive", "scenarios.db_batch:async_naive", "asyncio", 0))
    outcome = compare(pool, naive)
    render_compare(outcome, pool, naive, tmp_path / "compare")
    print("\n" + outcome.verdict)
    assert outcome.winner == "baseline"
    assert outcome.delta("throughput").candidate < outcome.delta("throughput").baseline
    conns = outcome.delta("connections_peak")
    assert conns.candidate >= 5 * conns.baseline, (conns.baseline, conns.candidate)
    lag = outcome.delta("loop_lag_p99")
    assert lag.candidate is not None and lag.baseline is None  # only the rewrite has a loop
    html = (tmp_path / "compare" / "index.html").read_text()
    assert "Candidate is slower" in html


def _gate(tmp_path: Path, candidate: str, candidate_config: str) -> tuple[int, dict]:
    import json

    out = tmp_path / "gate.json"
    proc = run_cli("gate", "--baseline", "scenarios.db_batch:sync_pool", "--candidate", candidate,
                   "--baseline-config", "threads:8", "--candidate-config", candidate_config,
                   "--repeat", "3", "--records", "300", "--max-connections-increase", "1.0",
                   "--json", str(out), "--no-report", "-q", cwd=tmp_path, timeout=300)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    return proc.returncode, json.loads(out.read_text())


def test_gate_fails_the_naive_rewrite_naming_connections_and_slowdown(pg, tmp_path: Path):
    code, data = _gate(tmp_path, "scenarios.db_batch:async_naive", "asyncio:0")
    failed = {c["name"] for c in data["checks"] if not c["passed"]}
    assert code == 1 and not data["passed"]
    assert {"slowdown", "connections_increase"} <= failed, data["checks"]


def test_gate_verdict_on_the_pooled_rewrite_follows_its_recorded_figures(pg, tmp_path: Path):
    """Pass or fail is whatever the numbers say; the verdict must be the one those numbers give."""
    from profiler.analysis.compare import Side
    from profiler.review.decision import Thresholds, evaluate

    code, data = _gate(tmp_path, "scenarios.db_batch:async_pool", "asyncio:8")
    again = evaluate(Side(**data["baseline"]), Side(**data["candidate"]),
                     Thresholds(max_connections_increase=1.0))
    assert code == (0 if data["passed"] else 1)
    assert again.passed == data["passed"]
    assert [(c.name, c.passed) for c in again.checks] == [(c["name"], c["passed"]) for c in data["checks"]]
