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


def measured(model: str, points: list[tuple[int, float, float]], cap: int = 256, **kw) -> Climb:
    """A climb that measured `points` (N, records/s, cores busy) over 1 s windows, so its CPU
    per record is cores busy ÷ records/s."""
    c = Climb(model, cap=cap, **kw)
    for n, rps, busy in points:
        c.n = n
        c.observe(make_trial(model, n, throughput_rps=rps, records=int(rps), wall_s=1.0,
                             cpu_util=busy), baseline_rps=points[0][1] / 2)
    return c


def test_the_cpu_bound_ends_gil_bound_climbs_once_their_measured_cost_is_flat():
    threads = measured("threads", [(2, 101.0, 0.98), (4, 102.0, 0.99)])
    procs = measured("processes", [(2, 195.0, 1.9), (4, 196.0, 1.9)], cap=32)
    cpu = {c.model: ceiling(c, 2) for c in (threads, procs)}
    assert cpu["threads"].rps == pytest.approx(102 / 0.99 * 1.15)  # one core: it never used more
    assert cpu["processes"].rps == pytest.approx(2 * 196 / 1.9 * 1.15)  # a process per worker: every core
    next_climb([threads, procs], 195.0, cpu, "sync")
    assert threads.stop is Stop.CANNOT_WIN
    assert "bounded by the CPU each record needs: 9.7 ms at N=2, 9.7 ms at N=4 (measured, not falling)" \
        in threads.stopped


def test_one_measurement_is_no_cpu_bound():
    """A cost seen at one N may fall at the next: nothing is pruned on it."""
    assert ceiling(measured("threads", [(2, 101.0, 0.98)]), 2).rps == math.inf


def test_no_cpu_bound_while_an_event_loops_cost_per_record_falls():
    """uvloop×2 1.31 ms per record, ×4 1.15 ms: the loop's cost falls with N, so the bound of
    N=2 (763 records/s on one core) would prune the climb that reaches 938 at N=16."""
    falling = measured("uvloop", [(2, 610.0, 0.8), (4, 700.0, 0.805)], cap=4096)
    assert ceiling(falling, 2).rps == math.inf
    leader = measured("processes", [(2, 846.0, 1.0)], cap=32)
    pick = next_climb([falling, leader], 846.0, {"uvloop": ceiling(falling, 2)}, "sync")
    assert falling.stop is None and pick.climb is not None
    flat = measured("uvloop", [(2, 610.0, 0.8), (4, 700.0, 0.805), (8, 760.0, 0.875)], cap=4096)
    assert ceiling(flat, 2).rps == pytest.approx(760 / 0.875 * 1.15)  # flat from N=4 to 8: measured


def test_threads_that_beat_one_core_are_not_held_to_it():
    """Native code releasing the GIL: threads kept 1.9 cores busy, so the bound is every core's."""
    threads = measured("threads", [(2, 190.0, 1.9), (4, 192.0, 1.92)])
    assert ceiling(threads, 2).rps == pytest.approx(2 * 192 / 1.92 * 1.15)


def test_processes_climb_past_twice_the_cores_while_the_work_waits():
    """An ORM job 80 % waiting on its database: processes×16 is the best on 2 cores."""
    c = measured("processes", [(2, 120.0, 0.3), (4, 230.0, 0.6), (8, 436.0, 1.2)], cap=32,
                 cores=2, cap_reason="16 processes per core")
    assert c.stop is None and c.n == 16


def test_the_cores_cap_applies_only_when_the_cpu_is_measured_saturated():
    c = measured("processes", [(2, 195.0, 1.0), (4, 380.0, 1.93)], cap=32, cores=2)
    assert c.stop is Stop.SATURATED and c.best_n == 4
    assert "CPU saturated at N=4: 1.93 of 2 cores busy (measured" in c.stopped


def test_the_safety_bound_names_itself_when_reached():
    c = measured("processes", [(2, 100.0, 0.1), (4, 200.0, 0.2)], cap=4, cores=2,
                 cap_reason="16 processes per core, a safety bound")
    assert c.stop is Stop.CAP and "N=4 (16 processes per core, a safety bound)" in c.stopped


def test_memory_measured_per_worker_process_stops_the_climb_before_max_rss():
    limit = Constraints(max_rss_bytes=300 * 2**20)
    c = Climb("processes", cap=32, constraints=limit, cores=2)
    c.observe(make_trial("processes", 2, throughput_rps=200.0, records=200, wall_s=1.0,
                         rss_peak_bytes=200 * 2**20), 100)
    assert c.stop is Stop.CONSTRAINT and c.best_n == 2
    assert ("N=4 not taken: 400 MiB expected at N=4 (100 MiB per worker process measured at N=2) "
            "is over --max-rss 300 MiB") in c.stopped


def test_connections_that_did_not_grow_do_not_stop_a_climb():
    """A pool of 4: the sessions measured at N=2 and N=4 are the same, so N=8 opens no more."""
    limit = Constraints(max_connections=6)
    c = Climb("threads", cap=256, constraints=limit)
    for n, rps in ((2, 200.0), (4, 390.0)):
        c.n = n
        c.observe(make_trial("threads", n, throughput_rps=rps, records=int(rps), wall_s=1.0,
                             connections_peak=4), 100)
    assert c.stop is None and c.n == 8


def test_a_suspect_reading_is_not_the_climbs_best_and_ends_it():
    c = Climb("processes", cap=32)
    c.observe(make_trial("processes", 2, throughput_rps=936.0, records=936, wall_s=1.0,
                         suspect="2.8× sequential's throughput with 2 workers"), 300)
    assert c.stop is Stop.SUSPECT and c.best_n is None and c.best_rps == 0.0
    assert "never confirmed" in c.stopped


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
