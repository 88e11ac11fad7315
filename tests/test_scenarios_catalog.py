"""The scenario catalog: every entry is a loadable target with a runnable command line."""

from __future__ import annotations

import dataclasses
import shlex

import pytest

from profiler import scenarios
from profiler.scenarios import CATALOG, Scenario
from profiler.workload import Workload, load_target


def test_the_first_entry_is_the_seed_job_on_its_own_postgresql():
    first = CATALOG[0]
    assert first.target == "scenarios.db_batch:sync_pool"
    assert first.file_target == "scenarios/db_batch.py:sync_pool"
    assert "embedded PostgreSQL" in first.description and "SQLite" in first.description


def test_entries_are_small_frozen_records_with_unique_names():
    assert all(isinstance(s, Scenario) for s in CATALOG)
    with pytest.raises(dataclasses.FrozenInstanceError):
        CATALOG[0].name = "x"  # type: ignore[misc]
    names = [s.name for s in CATALOG]
    assert len(names) == len(set(names))
    assert scenarios.find("http-fetch").target == "scenarios.http_fetch:fetch"


@pytest.mark.parametrize("scenario", CATALOG, ids=lambda s: s.name)
def test_every_target_loads_in_both_forms(scenario):
    by_module = load_target(scenario.target)
    by_file = load_target(scenario.file_target)
    assert isinstance(by_module, Workload) and isinstance(by_file, Workload)
    assert by_module.name == by_file.name
    args = shlex.split(scenario.command)
    assert args[:3] == ["concur", "run", scenario.target]
    assert "--concurrency" in args and "--records" in args  # an explicit, bounded grid
