"""The database batch job on an SQLite file (the `sqlite_*` targets): nothing to start.

Every implementation runs and gets a verdict. Each record is one write transaction
(BEGIN IMMEDIATE: read, transform, write, commit) and SQLite has one writer, so
neither threads nor processes make the job much faster, CPU does not grow with N, and
concur refines the label with "serialized".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from profiler.analysis import analyse
from profiler.measure.trial import TrialSpec, run_trial
from profiler.results import Results, WorkloadInfo, load_results
from profiler.run.prepare import environment
from tests.conftest import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.flaky(reruns=2)]

ROWS = 2000
RECORDS = 600
LABELS = {"cpu-bound", "io-bound", "mixed", "borderline"}


@pytest.fixture(scope="module")
def sqlite_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    from profiler.scenarios import db_store

    path = tmp_path_factory.mktemp("sqlite") / "jobs.sqlite3"
    env = {"CONCUR_SQLITE_PATH": str(path), "CONCUR_RECORDS": str(ROWS),
           "CONCUR_DB_TABLE": "concur_db_batch", "CONCUR_DB_WORK": "1"}
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("CONCUR_DSN", raising=False)
        for key, value in env.items():
            mp.setenv(key, value)
        db_store.ensure_table()
        yield env
        db_store.drop_tables()
    assert not path.exists()  # the scenario's own file goes with its table


@pytest.mark.shared  # outcomes, not speed
def test_sqlite_is_the_default_outside_concur_and_has_no_server_probe(sqlite_env):
    from profiler.scenarios import db_batch, db_store

    backend = db_store.current()  # no server given and none started (no run's service)
    assert backend.kind == "sqlite" and backend.sqlite_path == sqlite_env["CONCUR_SQLITE_PATH"]
    assert db_batch.probe() is None
    assert db_batch.records(5) == [1, 2, 3, 4, 5]
    assert db_batch.records(ROWS + 2)[-2:] == [1, 2]  # ids cycle over the table


@pytest.mark.shared  # outcomes (every trial ran, a verdict exists), not speed
def test_every_implementation_runs_on_sqlite_and_gets_a_verdict(sqlite_env, tmp_path: Path):
    out = tmp_path / "story.json"
    proc = run_cli("run", "scenarios/db_batch.py:sqlite_story", "--concurrency", "4,0", "--records", "200",
                   "--json", str(out), "--no-report", "-q", timeout=120)
    assert proc.returncode == 0, proc.stderr
    print("\n" + proc.stdout)
    results = load_results(out)
    assert all(t.status == "ok" for t in results.trials), [(t.label, t.status_detail) for t in results.trials]
    assert {t.label for t in results.trials} >= {"sequential", "threads×4", "asyncio×4", "asyncio×unbounded"}
    bounded = [t for t in results.trials if t.concurrency != 0]
    assert all(t.errors == 0 for t in bounded), {t.label: t.errors_by_type for t in bounded}
    assert results.classification.label in LABELS
    assert results.recommendation.model is not None

    pooled = run_trial(TrialSpec("scenarios.db_batch:async_pool", "asyncio", 4, 200)).trial
    assert pooled.status == "ok" and pooled.errors == 0
    assert pooled.db_connections_peak is None  # no server to ask


def measure_one_writer() -> Results:
    """The seed job (read, ~1 ms of JSON work, write, all in one BEGIN IMMEDIATE
    transaction): sequential, threads×4 and processes×4 on one SQLite file."""
    target = "scenarios.db_batch:sync_pool"
    results = Results(WorkloadInfo("db_batch.sync_pool", target, RECORDS), environment())
    for model, n in (("sequential", 1), ("threads", 4), ("processes", 4)):
        results.trials.append(run_trial(TrialSpec(target, model, n, RECORDS, timeout_s=60)).trial)
    analyse(results)
    for t in results.trials:
        print(f"\n{t.label}: {t.throughput_rps:,.0f} rec/s, CPU {t.cpu_util:.2f} cores, "
              f"latency p50 {t.latency_p50_ms:.3f} ms, p99 {t.latency_p99_ms:.2f} ms")
    print(results.classification)
    return results


def test_sqlite_single_writer_is_found_serialized(sqlite_env):
    """Measured afresh on each (re)run, so a rerun really measures again."""
    results = measure_one_writer()
    trials = {t.label: t for t in results.trials}
    assert all(t.status == "ok" and t.errors == 0 for t in trials.values())
    # One writer at a time: four processes get nowhere near four times one.
    assert trials["processes×4"].throughput_rps < 1.5 * trials["sequential"].throughput_rps
    assert "serialized" in results.classification.refinements, results.classification.evidence
