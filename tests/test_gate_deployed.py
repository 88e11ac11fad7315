"""The gate measures each side as it would be deployed: pinned, else declared, else the best
of the models its code is written for; never silently a model the code would not run in."""

from __future__ import annotations

import pytest

from profiler.analysis.compare import Side
from profiler.errors import ConfigError, WorkloadError
from profiler.review.decision import Thresholds, evaluate
from profiler.review.measure import choose_config, deployed_models
from profiler.run.options import RunOptions
from profiler.run.prepare import prepare
from profiler.workload import Workload
from tests.conftest import target


def test_an_async_only_handle_is_swept_on_event_loops_and_a_plain_function_without_one():
    assert deployed_models(prepare("scenarios.db_batch:async_naive", RunOptions()).workload) == [
        "asyncio", "uvloop"]
    assert deployed_models(prepare(target("sleep_10ms"), RunOptions()).workload) == [
        "sequential", "threads", "processes"]


def test_a_declared_deployment_is_measured_as_deployed():
    chosen = choose_config("candidate", prepare("scenarios.db_batch:async_naive", RunOptions()), None)
    assert (chosen.model, chosen.concurrency, chosen.how) == ("asyncio", 0, "as deployed")


def test_a_pin_wins_over_the_declaration_and_is_checked_against_the_code():
    side = prepare("scenarios.db_batch:async_naive", RunOptions())
    assert choose_config("candidate", side, ("uvloop", 64)).how == "pinned"
    with pytest.raises(ConfigError, match="asyncio-threads:4 cannot run"):
        choose_config("candidate", side, ("asyncio-threads", 4))  # a sync-only model
    with pytest.raises(ConfigError, match="threads takes concurrency"):
        choose_config("baseline", prepare("scenarios.db_batch:sync_pool", RunOptions()), ("threads", 0))


def test_an_undeclared_unpinned_side_is_swept():
    assert choose_config("baseline", prepare(target("sleep_10ms"), RunOptions()), None) is None


def test_a_declared_deployment_must_read_model_colon_n():
    with pytest.raises(WorkloadError, match="not MODEL:N"):
        Workload("job", handle=lambda r: None, deployed="asyncio unbounded")


def test_the_verdict_line_names_each_sides_configuration_and_how_it_was_chosen():
    def side(label, model, n, rps, how):
        return Side(label, model, n, rps, [0.001] * 3, 16, None, None, 0, 300, chosen_by=how)

    out = evaluate(side("baseline", "threads", 16, [600.0, 610.0, 620.0], "pinned"),
                   side("candidate", "asyncio", 0, [100.0, 105.0, 110.0], "as deployed"), Thresholds())
    assert out.verdict().startswith("gate FAILED: candidate asyncio×unbounded (as deployed) vs "
                                    "baseline threads×16 (pinned)")
