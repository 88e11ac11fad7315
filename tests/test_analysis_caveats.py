"""Caveats that keep the verdict honest: impossible numbers named, pools' caps named."""

from __future__ import annotations

import pytest

from profiler.analysis.recommend import recommend
from profiler.analysis.sanity import trial_reasons
from profiler.analysis.standings import table
from tests.factory import make_results, make_trial


def asyncpg_pool_of_ten():
    """An asyncpg job capped by its own pool (max_size 10): sessions flat at 10 from N=16."""
    return make_results(
        make_trial("sequential", 1, throughput_rps=100.0, cpu_util=0.05, connections_peak=1),
        make_trial("asyncio", 4, throughput_rps=390.0, cpu_util=0.1, connections_peak=4),
        make_trial("asyncio", 8, throughput_rps=760.0, cpu_util=0.2, connections_peak=8),
        make_trial("asyncio", 16, throughput_rps=950.0, cpu_util=0.25, connections_peak=10),
        make_trial("asyncio", 64, throughput_rps=985.0, cpu_util=0.25, connections_peak=10),
        make_trial("asyncio", 256, throughput_rps=970.0, cpu_util=0.26, connections_peak=11),
    )


def test_a_pool_capped_at_ten_sessions_is_named_and_no_pool_is_advised():
    rec = recommend(asyncpg_pool_of_ten())
    capped = [w for w in rec.warnings if "capped at" in w]
    assert capped == [
        "asyncio: capped at 11 sessions — a pool or server limit: throughput stayed at 950–985 "
        "records/s from asyncio×16 to asyncio×256 while connections stayed at 11; more concurrency "
        "only queues for a session, so no further pool is needed: raise that limit (if the server "
        "can take it) to go faster"], rec.warnings
    assert not any("cap them with a pool" in w for w in rec.warnings), rec.warnings


def test_connections_that_keep_growing_are_not_called_capped():
    results = make_results(
        make_trial("sequential", 1, throughput_rps=100.0, connections_peak=1),
        *(make_trial("threads", n, throughput_rps=100.0 * n, connections_peak=n) for n in (2, 4, 8, 16)))
    rec = recommend(results)
    assert not any("capped at" in w for w in rec.warnings)
    assert any("cap them with a pool" in w for w in rec.warnings), rec.warnings


def test_flat_sessions_while_throughput_still_climbs_are_not_a_cap():
    results = make_results(
        make_trial("sequential", 1, throughput_rps=100.0, connections_peak=1),
        make_trial("asyncio", 16, throughput_rps=900.0, connections_peak=10),
        make_trial("asyncio", 64, throughput_rps=1800.0, connections_peak=10))
    assert not any("capped at" in w for w in recommend(results).warnings)


def test_a_speedup_beyond_n_workers_is_named_suspect():
    """Issue 13: processes×2 reported at 2.6× sequential."""
    rec = recommend(make_results(make_trial("sequential", 1, throughput_rps=100.0, cpu_util=0.4),
                                 make_trial("processes", 2, throughput_rps=260.0, cpu_util=1.17)))
    assert any(w.startswith("suspect numbers for processes×2: 2.6× sequential's fastest reading with 2 "
                            "workers (above 2 × 1.15)") and "not re-measured" in w
               for w in rec.warnings), rec.warnings
    # sequential measured once: its reading may be the low one, and the warning says so
    assert any("or sequential's single reading (100 records/s) is the low one" in w
               for w in rec.warnings), rec.warnings


def test_the_speedup_bound_is_against_sequentials_fastest_reading():
    """Sequential read 100 (a cold database) then 130: 290 with 2 workers is 2.2× its
    fastest reading, possible; against the mean (115) it would read 2.5×, "impossible".
    With 100 and 120 it is 2.4× the fastest: suspect, and sequential ran twice."""
    rec = recommend(make_results(make_trial("sequential", 1, throughput_rps=100.0, cpu_util=0.4),
                                 make_trial("sequential", 1, throughput_rps=130.0, cpu_util=0.4, repeat=1),
                                 make_trial("processes", 2, throughput_rps=290.0, cpu_util=1.17)))
    assert not any(w.startswith("suspect numbers") for w in rec.warnings), rec.warnings
    rec = recommend(make_results(make_trial("sequential", 1, throughput_rps=100.0, cpu_util=0.4),
                                 make_trial("sequential", 1, throughput_rps=120.0, cpu_util=0.4, repeat=1),
                                 make_trial("processes", 2, throughput_rps=290.0, cpu_util=1.17)))
    assert any(w.startswith("suspect numbers for processes×2: 2.4× sequential's") and
               "single reading" not in w for w in rec.warnings), rec.warnings


def test_cpu_above_the_cores_is_suspect_not_saturated():
    """Issue 13: 9.36 "cores" on a 2-core machine from a very short trial."""
    rec = recommend(make_results(
        make_trial("sequential", 1, throughput_rps=100.0, cpu_util=0.9),
        make_trial("processes", 2, throughput_rps=190.0, cpu_util=9.36, records=40),
        cpu_count=2))
    assert (rec.model, rec.concurrency) == ("processes", 2)
    assert not any(w.startswith("CPU saturated") for w in rec.warnings), rec.warnings
    suspect = next(w for w in rec.warnings if w.startswith("suspect numbers for processes×2"))
    assert "9.36 cores busy on a 2-core machine" in suspect
    assert "a 0.211 s window (under 0.3 s" in suspect


def test_a_suspect_trial_is_left_out_once_a_clean_re_measurement_exists():
    results = make_results(
        make_trial("sequential", 1, throughput_rps=100.0),
        make_trial("threads", 2, throughput_rps=300.0, suspect="3.00× sequential's throughput"),
        make_trial("threads", 2, throughput_rps=190.0, repeat=1))
    (threads,) = [c for c in table(results).configs if c.model == "threads"]
    assert threads.throughputs == [190.0]
    assert not any("suspect" in w for w in recommend(results).warnings)


def test_a_suspect_trial_that_persisted_stays_and_is_named():
    results = make_results(
        make_trial("sequential", 1, throughput_rps=100.0),
        make_trial("threads", 2, throughput_rps=300.0, suspect="3.00× sequential's throughput"),
        make_trial("threads", 2, throughput_rps=290.0, repeat=1, suspect="2.90×"))
    (threads,) = [c for c in table(results).configs if c.model == "threads"]
    assert threads.throughputs == [300.0, 290.0]
    assert any("re-measured with a longer window and it persisted" in w
               for w in recommend(results).warnings)


@pytest.mark.parametrize(("kw", "expected"), [
    ({"throughput_rps": 229.0}, []),
    ({"throughput_rps": 231.0}, ["2.3× sequential's fastest reading with 2 workers (above 2 × 1.15)"]),
    ({"cpu_util": 2.2}, ["2.20 cores busy on a 2-core machine"]),
    ({"wall_s": 0.25}, ["a 0.250 s window (under 0.3 s, start-up and drain are a large share of it)"]),
])
def test_sanity_limits(kw, expected):
    trial = make_trial("threads", 2, **{"throughput_rps": 150.0, "cpu_util": 1.0, **kw})
    assert [str(r) for r in trial_reasons(trial, 100.0, 2)] == expected
