"""Time decomposition: worker-seconds split into on-CPU, run-queue and waiting."""

from __future__ import annotations

import pytest

from profiler.analysis.decompose import decompose
from profiler.results.schema import to_data
from tests.factory import make_trial


def trial(workers: int, wall_s: float, cpu_s: float | None, runqueue_s: float | None):
    return make_trial("threads", workers, workers=workers, wall_s=wall_s,
                      cpu_user_s=cpu_s, cpu_system_s=None if cpu_s is None else 0.0,
                      runqueue_wait_s=runqueue_s)


def test_worker_seconds_split_into_cpu_runqueue_and_waiting():
    parts = decompose(trial(workers=4, wall_s=2.0, cpu_s=2.0, runqueue_s=1.0))
    assert to_data(parts) == pytest.approx({"on_cpu": 0.25, "runqueue": 0.125, "waiting": 0.625,
                                            "worker_s": 8.0})


def test_system_cpu_counts_as_on_cpu():
    t = make_trial("sequential", 1, wall_s=1.0, cpu_user_s=0.2, cpu_system_s=0.3, runqueue_wait_s=0.0)
    assert decompose(t).on_cpu == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("workers", "wall_s", "cpu_s", "runqueue_s"),
    [(1, 1.0, 0.08, 0.0), (16, 3.0, 0.9, 0.4), (8, 1.0, 7.9, 0.1), (2, 1.0, 2.5, 0.5), (4, 2.0, 0.0, 0.0)],
)
def test_fractions_sum_to_one(workers, wall_s, cpu_s, runqueue_s):
    parts = decompose(trial(workers, wall_s, cpu_s, runqueue_s))
    assert parts.on_cpu + parts.runqueue + parts.waiting == pytest.approx(1.0)
    assert min(parts.on_cpu, parts.runqueue, parts.waiting) >= 0.0


def test_more_cpu_than_worker_seconds_is_renormalised_with_no_waiting():
    parts = decompose(trial(workers=2, wall_s=1.0, cpu_s=2.5, runqueue_s=0.5))
    assert parts.on_cpu == pytest.approx(2.5 / 3.0)
    assert parts.runqueue == pytest.approx(0.5 / 3.0)
    assert parts.waiting == 0.0


@pytest.mark.parametrize(("cpu_s", "runqueue_s"), [(None, 0.1), (0.5, None)])
def test_missing_cpu_or_runqueue_is_not_decomposed(cpu_s, runqueue_s):
    assert decompose(trial(workers=4, wall_s=1.0, cpu_s=cpu_s, runqueue_s=runqueue_s)) is None
