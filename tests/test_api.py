"""The library says everything the command line can: function objects, records as objects,
a DSN with no environment variable, and help(profiler) that lists the calls."""

from __future__ import annotations

import ast
import os
import pydoc
from pathlib import Path

import pytest

import profiler
from profiler.api import profile, target_name
from profiler.errors import ConfigError
from tests.workloads import api_job

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ADMIN_DSN = os.environ.get("CONCUR_TEST_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def test_help_lists_the_calls():
    text = pydoc.render_doc(profiler, renderer=pydoc.plaintext)
    for call in ("profile(", "gate(", "compare(", "load_results("):
        assert call in text, call


def test_a_function_object_runs_on_the_records_given_as_objects():
    rows = [("row", i) for i in range(30)]
    results = profile(api_job.tagged_only, records=rows, models=["sequential", "threads"],
                      concurrency=[1, 4], start_services=False)
    assert results.workload.target == "tests.workloads.api_job:tagged_only"
    assert {("sequential", 1), ("threads", 4)} <= {t.key for t in results.trials}
    assert all(t.ok and t.records == 30 and t.errors == 0 for t in results.trials), \
        [(t.status, t.errors_by_type) for t in results.trials]
    assert results.standings is not None and results.standings.best is not None


def test_a_target_the_trials_cannot_import_is_one_clear_error():
    with pytest.raises(ConfigError, match="module level"):
        target_name(lambda record: None)

    def nested(record):
        return record

    with pytest.raises(ConfigError, match="module level"):
        target_name(nested)


def _pg_or_skip() -> None:
    import psycopg

    try:
        psycopg.connect(ADMIN_DSN, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL unreachable at {ADMIN_DSN} (CI=true: it must run): {exc}")
        pytest.skip(f"PostgreSQL unreachable at {ADMIN_DSN}")


@pytest.mark.postgres
def test_a_dsn_reaches_the_workload_with_no_environment_variable_set(monkeypatch):
    _pg_or_skip()
    monkeypatch.delenv("CONCUR_DSN", raising=False)
    results = profile(api_job.select_one, dsn=ADMIN_DSN, models=["sequential"], concurrency=[1],
                      records=20)
    (trial,) = results.trials
    assert trial.ok and trial.errors == 0, (trial.status_detail, trial.error_messages)
    assert results.workload.database and "127.0.0.1" in results.workload.database
    assert "CONCUR_DSN" not in os.environ  # set for the run only, then restored


def test_the_cli_sets_no_environment_variable():
    """The CLI parses flags and calls the library; the run's settings reach the workload
    through `RunOptions`, never through the CLI writing os.environ."""
    tree = ast.parse((ROOT / "profiler" / "cli.py").read_text(encoding="utf-8"))
    writes = [node.lineno for node in ast.walk(tree)
              if (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store)
                  and ast.unparse(node.value) == "os.environ")
              or (isinstance(node, ast.Call)
                  and ast.unparse(node.func) in ("os.environ.update", "os.environ.setdefault", "os.putenv"))]
    assert writes == []
