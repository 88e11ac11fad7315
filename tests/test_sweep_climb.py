"""The sweep's climbing rules, pinned with hand-made trials (no processes)."""

from __future__ import annotations

import math

import pytest

from profiler.results import Constraints, Trial
from profiler.run.climb import Climb, Stop, ceiling, jump_target, next_climb, records_for
from tests.factory import make_trial


def trial(n: int, rps: float, model: str = "threads", **kw) -> Trial:
    return make_trial(model, n, throughput_rps=rps, records=100, wall_s=1.0,
                      **{"cpu_util": None, **kw})


def test_climb_doubles_while_throughput_doubles_and_stops_at_the_cap():
    c = Climb("threads", cap=8)
    for n, rps in ((2, 200), (4, 400)):
        assert c.n == n
        c.observe(trial(n, rps), baseline_rps=100)
        assert c.stop is None
    assert c.n == 8
    c.observe(trial(8, 800), baseline_rps=100)
    assert c.stop is Stop.CAP and "cap" in c.stopped
    assert c.best_n == 8


def test_climb_stops_after_two_steps_under_five_percent_gain():
    c = Climb("threads", cap=256)
    c.observe(trial(2, 190), 100)
    c.observe(trial(4, 196), 100)
    assert c.stop is None and c.n == 8  # one step of patience: a single point may be noise
    c.observe(trial(8, 197), 100)
    assert c.stop is Stop.NO_GAIN and "gain stopped" in c.stopped and c.best_n == 8


def test_one_noisy_point_does_not_end_a_climb():
    c = Climb("threads", cap=256)
    c.observe(trial(2, 70), 100)  # a dip below sequential, e.g. another process took a core
    assert c.stop is None
    c.observe(trial(4, 380), 100)
    assert c.stop is None and c.best_n == 4


def test_climb_stops_when_throughput_falls_and_keeps_the_best():
    c = Climb("processes", cap=16, patience=0)
    c.observe(trial(2, 180, model="processes"), 100)
    c.observe(trial(4, 120, model="processes"), 100)
    assert c.stop is Stop.FELL and "fell" in c.stopped and c.best_n == 2


def test_first_step_is_judged_against_the_sequential_baseline():
    c = Climb("threads", cap=256, patience=0)
    c.observe(trial(2, 101), baseline_rps=100)
    assert c.stop is Stop.NO_GAIN and "gain stopped" in c.stopped


def test_errors_stop_the_climb():
    c = Climb("asyncio", cap=4096)
    c.observe(trial(2, 500, errors=5), 100)
    assert c.stop is Stop.ERRORS and "errors appeared" in c.stopped


def test_broken_constraint_stops_the_climb_and_the_config_is_not_best():
    c = Climb("asyncio", cap=4096, constraints=Constraints(max_connections=10))
    c.observe(trial(2, 200, connections_peak=2), 100)
    c.observe(trial(4, 400, connections_peak=40), 100)
    assert c.stop is Stop.CONSTRAINT and "40 connections (limit 10)" in c.stopped
    assert c.best_n == 2


def test_crashed_trial_stops_the_climb_with_its_status():
    c = Climb("processes", cap=4)
    c.observe(trial(2, 0, status="crashed", status_detail="killed by SIGSEGV"), 100)
    assert c.stop is Stop.FAILED and "crashed" in c.stopped and "SIGSEGV" in c.stopped


def test_records_for_sizes_to_the_target_time_within_bounds():
    assert records_for(1.0, 500.0, 4, None) == 500
    assert records_for(1.0, 5.0, 4, None) == 20  # never fewer than MIN_RECORDS
    assert records_for(1.0, 10.0, 64, None) == 256  # enough to keep 64 workers busy
    assert records_for(1.0, 1e9, 1, 300) == 300  # capped by the input file's rows


def started(model: str, points: list[tuple[int, float]], cap: int = 256, stop=None) -> Climb:
    """A climb that has measured `points` (N, records/s)."""
    c = Climb(model, cap=cap)
    for n, rps in points:
        c.n = n
        c.observe(trial(n, rps, model=model), baseline_rps=points[0][1] / 2)
    c.stop = stop
    return c


def test_the_climb_promising_most_steps_next_and_ties_go_to_the_simpler_model():
    threads = started("threads", [(2, 200.0), (4, 400.0)])
    aio = started("asyncio-threads", [(2, 200.0)])
    assert next_climb([threads, aio], 400.0, {}, "sync").climb is threads
    level = started("asyncio-threads", [(2, 200.0), (4, 400.0)])
    assert next_climb([level, threads], 400.0, {}, "sync").climb is threads


def test_unstarted_climbs_go_first_in_the_given_order():
    threads = started("threads", [(2, 200.0), (4, 400.0)])
    fresh = Climb("processes", cap=4)
    assert next_climb([threads, fresh], 400.0, {}, "sync").climb is fresh


def test_a_climb_that_cannot_beat_the_leader_even_at_its_cap_is_ended():
    threads = started("threads", [(2, 200.0), (4, 400.0), (8, 800.0)])
    procs = started("processes", [(2, 190.0)], cap=4)
    pick = next_climb([threads, procs], 800.0, {}, "sync")
    assert procs.stop is Stop.CANNOT_WIN and pick.climb is threads
    assert pick.ended[0][1] == ("cannot beat the leader (800 records/s): at most 380 records/s "
                                "even at N=4")


def test_the_cpu_ceiling_ends_gil_bound_climbs_on_cpu_work_but_not_on_io_work():
    threads = started("threads", [(2, 101.0)])
    procs = started("processes", [(2, 195.0)], cap=4)
    cpu = {c.model: ceiling(c, 100.0, 0.98, 2) for c in (threads, procs)}
    assert cpu["threads"] == pytest.approx(100 / 0.98 * 1.15)
    assert cpu["processes"] == pytest.approx(2 * 100 / 0.98 * 1.15)
    next_climb([threads, procs], 195.0, cpu, "sync")
    assert threads.stop is Stop.CANNOT_WIN and "bounded by the CPU" in threads.stopped
    assert ceiling(threads, 100.0, 0.02, 2) == math.inf


def test_threads_that_beat_one_core_are_not_held_to_it():
    """Native code releasing the GIL: threads×2 ran 1.9× on CPU work, so the ceiling is every core's."""
    threads = started("threads", [(2, 190.0)])
    assert ceiling(threads, 100.0, 0.98, 2) == pytest.approx(2 * 100 / 0.98 * 1.15)


def test_a_climb_that_tracked_the_finished_leader_jumps_to_its_best_n():
    leader = started("threads", [(2, 200.0), (4, 400.0), (8, 800.0), (16, 1600.0), (32, 1590.0)],
                     stop=Stop.NO_GAIN)
    sibling = started("asyncio-threads", [(2, 190.0)])
    pick = next_climb([leader, sibling], 1600.0, {}, "sync")
    assert pick.climb is sibling and sibling.n == 16
    assert pick.expected_rps == 1600.0
    assert "jumping to threads's best N=16" in pick.jump
    assert jump_target(started("asyncio-threads", [(2, 120.0)]), leader) is None  # did not track


def test_trials_are_sized_by_the_last_doubling_gain_not_linear_hope():
    c = started("threads", [(2, 200.0), (4, 300.0)])  # the last doubling gained 1.5×
    assert c.n == 8
    assert c.predicted_rps(100.0) == pytest.approx(450.0)
    first = Climb("threads", cap=256)
    assert first.predicted_rps(100.0) == 200.0  # the first step: linear from the baseline
