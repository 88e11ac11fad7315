"""Which pairs an explicit grid runs (pure)."""

from __future__ import annotations

import pytest

from profiler.errors import ConfigError
from profiler.run.plan import explicit_grid, parse_concurrency
from profiler.run.prepare import Prepared
from profiler.workload import Workload


async def _async_handle(r):
    return r


def prepared(workload: Workload, sample: list | None = None) -> Prepared:
    return Prepared("t.py:h", workload, None, sample if sample is not None else [1, 2, 3], None)


SYNC = prepared(Workload("s", handle=lambda r: r))
BOTH = prepared(Workload("b", handle=lambda r: r, async_handle=_async_handle))


def test_value_valid_for_some_named_models_is_skipped_for_the_others():
    grid = explicit_grid(BOTH, ["threads", "asyncio"], [8, 0])
    assert grid.pairs == [("threads", 8), ("asyncio", 8), ("asyncio", 0)]
    assert [(s.model, s.concurrency) for s in grid.skipped] == [("threads", 0)]


def test_value_no_named_model_accepts_is_an_error():
    with pytest.raises(ConfigError, match="threads takes concurrency 1..256, not 0"):
        explicit_grid(SYNC, ["threads"], [0])


def test_sequential_always_runs_once_at_n_1():
    grid = explicit_grid(SYNC, ["sequential", "threads"], [4, 16])
    assert grid.pairs == [("sequential", 1), ("threads", 4), ("threads", 16)]


def test_async_models_are_skipped_for_a_sync_handle_with_the_reason():
    grid = explicit_grid(SYNC, None, [4])
    assert {s.model for s in grid.skipped if s.concurrency is None} == {"asyncio", "uvloop"}
    assert all("async handle" in s.reason for s in grid.skipped if s.concurrency is None)


def test_unpicklable_records_skip_processes():
    unpicklable = prepared(SYNC.workload, [lambda: None])
    grid = explicit_grid(unpicklable, ["sequential", "processes"], [2])
    assert grid.pairs == [("sequential", 1)]
    assert grid.skipped[0].reason.startswith("processes skipped: record 0 (function) cannot be pickled")


def test_parse_concurrency_accepts_unbounded_and_auto():
    assert parse_concurrency("1, 4,unbounded") == [1, 4, 0]
    assert parse_concurrency("auto") is None
    with pytest.raises(ConfigError):
        parse_concurrency("-1")
