"""The sweep on real code of the three shapes it used to get wrong (issue 23), against real
PostgreSQL and Redis on 127.0.0.1 (skipped when unreachable, a failure when CI=true).

Assertions are on shapes far from every threshold: a pool-per-process job whose processes
must pass 2 × cores, an event loop that must not be pruned on its first CPU cost, a
suspect whose re-measurement times out and must be excluded with that reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from profiler import profile
from profiler.results.standings import REMEASURE_FAILED

pytestmark = [pytest.mark.slow]

SHAPES = Path(__file__).parent / "workloads" / "sweep_shapes.py"
DSN = os.environ.get("CONCUR_TEST_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("CONCUR_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _reachable_or_skip(what: str, check) -> None:
    try:
        check()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the service
        reason = f"{what} unreachable: {type(exc).__name__}: {str(exc).strip()[:120]}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: the service tests must run)")
        pytest.skip(reason)


def _pg() -> None:
    import psycopg

    psycopg.connect(DSN, connect_timeout=3).close()


def _redis() -> None:
    import redis

    redis.Redis.from_url(REDIS, socket_connect_timeout=3).ping()


@pytest.mark.postgres
def test_a_pool_per_process_on_postgresql_climbs_processes_past_twice_the_cores():
    _reachable_or_skip("PostgreSQL", _pg)
    cores = os.cpu_count() or 1
    results = profile(f"{SHAPES}:pool_per_process", budget_s=30, models=["processes"])
    reached = max(t.concurrency for t in results.trials if t.model == "processes" and t.ok)
    s = results.standings
    assert reached > 2 * cores, [e.message for e in results.sweep_log]
    assert s.best.model == "processes" and s.best.concurrency > 2 * cores, \
        [(c.label, round(c.throughput_rps)) for c in s.eligible]


def test_an_async_client_whose_cpu_per_record_falls_is_climbed_not_pruned():
    _reachable_or_skip("Redis", _redis)
    results = profile(f"{SHAPES}:redis_client", budget_s=20, models=["asyncio", "processes"])
    stops = [e.message for e in results.sweep_log if e.event == "stop" and e.model == "asyncio"]
    reached = max(t.concurrency for t in results.trials if t.model == "asyncio")
    assert reached >= 16 and not any("bounded by the CPU" in m for m in stops), stops
    per_record = {t.concurrency: t.cpu_ms_per_record for t in results.trials
                  if t.model == "asyncio" and t.ok and t.cpu_ms_per_record}
    assert per_record[max(per_record)] < per_record[2], per_record  # the shape: cost falls with N
    assert results.recommendation.model == "asyncio" and results.recommendation.concurrency >= 16


def test_a_handler_fast_once_then_timing_out_is_excluded_and_never_recommended(tmp_path, monkeypatch):
    monkeypatch.setenv("CONCUR_SHAPES_MARKER", str(tmp_path / "first-trial-ran"))
    results = profile(f"{SHAPES}:fast_then_hangs", budget_s=20, timeout_s=3,
                      models=["sequential", "threads"])
    s = results.standings
    row = s.standing(s.find("threads", 2))
    assert row is not None and row.kind == REMEASURE_FAILED and "timeout" in row.reason, \
        [(e.event, e.message) for e in results.sweep_log]
    assert (results.recommendation.model, results.recommendation.concurrency) != ("threads", 2)
    assert any("re-measurement failed" in e.message and "excluded" in e.message
               for e in results.sweep_log)
    assert any("threads×2" in w and "re-measurement failed" in w for w in results.recommendation.warnings)
