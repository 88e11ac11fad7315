"""Where the sweep spends its budget, on a deterministic world (tests/fake_trials.py): the
real `Sweep` runs, trials and time come from a throughput curve and a fake clock, so each
assertion holds on any machine, loaded or not."""

from __future__ import annotations

import pytest

from profiler.analysis import analyse
from tests.fake_trials import cpu_curve, io_curve, log, reached, seeded, sweep


def test_blocking_sleep_reaches_threads_256_at_the_default_budget(tmp_path):
    """time.sleep(10 ms): threads climb first and furthest; processes (which cost more per
    worker here, flat from 4) end as soon as linear scaling to their bound cannot beat the
    leader."""
    results, world = sweep(tmp_path, io_curve(0.010))
    assert reached(results, "threads") == 256
    assert any(line.startswith("stop processes×4: cannot beat the leader") for line in log(results))
    assert world.now <= 60.0


def test_a_pool_capped_psycopg_job_reaches_threads_64_at_a_30_s_budget(tmp_path):
    """Issue 13: the round-robin stopped threads at N=32 for a job whose best is threads×64."""
    results, _ = sweep(tmp_path, io_curve(0.020, cap=64), budget_s=30)
    assert reached(results, "threads") >= 128  # 64, then the steps that show the plateau
    rec = analyse(results).recommendation
    assert (rec.model, rec.concurrency) == ("threads", 64)


def test_a_sibling_model_that_tracked_the_leader_jumps_to_its_best_n(tmp_path):
    results, _ = sweep(tmp_path, io_curve(0.020, cap=64), budget_s=30)
    jumps = log(results, "jump")
    assert jumps == ["jump asyncio-threads×64: tracked threads at N=2 (100 vs 100 records/s): "
                     "jumping to threads's best N=64 instead of doubling up to it"]
    assert {t.concurrency for t in results.trials if t.model == "asyncio-threads"} >= {2, 64}
    assert 4 not in {t.concurrency for t in results.trials if t.model == "asyncio-threads"}


def test_async_sleep_climbs_asyncio_first_past_256(tmp_path):
    results, _ = sweep(tmp_path, io_curve(0.010, cpu_per_record_s=0.00002), handler="async")
    climbs = [e.model for e in results.sweep_log if e.event in ("climb", "stop") and e.model]
    assert climbs[:4] == ["asyncio", "uvloop", "threads", "processes"]  # first steps, simplest first
    assert reached(results, "asyncio") >= 256
    rec = analyse(results).recommendation
    assert rec.model == "asyncio"


def test_cpu_bound_work_stops_processes_where_the_cpu_is_measured_saturated(tmp_path):
    """The cores cap is applied on evidence: processes×2 kept both cores busy. The GIL-bound
    climbs end on their own measured plateau, not on a cost assumed from sequential."""
    results, _ = sweep(tmp_path, cpu_curve(cores=2))
    stops = log(results, "stop")
    assert ("stop processes×2: CPU saturated at N=2: 2.00 of 2 cores busy (measured; +100.0%); "
            "more workers only queue for cores") in stops, stops
    assert reached(results, "processes") == 2
    assert reached(results, "threads") == 4 and any(
        s.startswith("stop threads×4: gain stopped") for s in stops), stops


def test_every_model_gets_its_first_step_before_any_gets_a_second(tmp_path):
    results, _ = sweep(tmp_path, io_curve(0.010), budget_s=20)
    firsts = [(e.model, e.concurrency) for e in results.sweep_log if e.event in ("climb", "stop")][:3]
    assert firsts == [("threads", 2), ("processes", 2), ("asyncio-threads", 2)]


def test_sequential_and_the_leader_are_measured_twice_before_the_verdict(tmp_path):
    results, _ = sweep(tmp_path, io_curve(0.010), budget_s=30)
    repeats = {}
    for t in results.trials:
        repeats[t.key] = repeats.get(t.key, 0) + 1
    rec = analyse(results).recommendation
    assert repeats[("sequential", 1)] >= 2 and repeats[(rec.model, rec.concurrency)] >= 2
    assert rec.noise == "measured"


def close_race(gap: float):
    """Sequential 771 records/s against threads×4 at `gap` × that, nothing else gaining."""
    def curve(model, n):
        if model == "sequential":
            return 771.0, 0.6
        return (771.0 * gap if (model, n) == ("threads", 4) else 771.0 * 0.97), 0.6
    return curve


def test_a_close_race_with_sequential_is_repeated_until_it_separates_and_logged(tmp_path):
    results, _ = sweep(tmp_path, close_race(1.08), models=["sequential", "threads"],
                       noise=seeded(0.03), budget_s=60)
    settles = log(results, "settle")
    assert any(s.startswith("settle threads×4: sequential vs threads×4: separated") for s in settles), \
        log(results)
    assert analyse(results).recommendation.concurrency == 4


def test_a_race_the_repeats_cannot_settle_says_so_in_the_log(tmp_path):
    def seesaw(spec, i):  # ±8 % from repeat to repeat on the two that decide, none elsewhere
        deciding = (spec.model, spec.concurrency) in (("sequential", 1), ("threads", 4))
        return (1.08 if spec.repeat % 2 == 0 else 0.92) if deciding else 1.0
    results, _ = sweep(tmp_path, close_race(1.07), models=["sequential", "threads"],
                       noise=seesaw, budget_s=60)
    settles = log(results, "settle")
    assert settles == [
        "settle threads×4: sequential vs threads×4 not separated after 6 repeats: threads×4 ran "
        "1.07× as fast as sequential (825 vs 771 records/s; 95 % interval 0.96×–1.20× over 6 and "
        "6 repeats)"], log(results)
    rec = analyse(results).recommendation
    assert rec.noise == "measured" and rec.keep_sequential


@pytest.mark.parametrize("budget", [8.0, 60.0])
def test_budget_log_names_what_was_not_reached_or_that_all_was(tmp_path, budget):
    """Both outcomes the design allows, asserted: either some climb is 'not reached' (and
    named at the end) or every climb ended for a reason of its own."""
    results, world = sweep(tmp_path, io_curve(0.040), budget_s=budget)
    lines = log(results)
    assert lines[-1].startswith("done") and world.now <= budget
    if any("not reached" in line for line in lines):
        assert any(line.startswith("budget None×None: models not fully explored") for line in lines)
    else:
        assert all(e.event != "budget" or "repeat" in e.message for e in results.sweep_log)


def test_records_fixed_by_the_user_are_used_for_every_trial(tmp_path):
    results, _ = sweep(tmp_path, io_curve(0.010), budget_s=30, records=150)
    assert {t.records for t in results.trials} == {150}
    assert "every trial takes --records 150" in log(results, "calibrate")[0]


def test_an_impossible_first_trial_is_re_measured_longer_and_left_out(tmp_path):
    def spike(spec, i):  # processes×2's first trial reads 2.6× sequential: a neighbour paused
        first = spec.model == "processes" and spec.concurrency == 2 and spec.repeat == 0
        return 1.3 if first else 1.0
    results, world = sweep(tmp_path, cpu_curve(cores=2), noise=spike)
    suspects = log(results, "suspect")
    assert suspects[0].startswith("suspect processes×2: processes×2: 2.6× sequential's fastest "
                                  "reading with 2 workers (above 2 × 1.15)"), suspects
    assert "nothing impossible; the first trial is left out" in suspects[-1]
    first = next(t for t in results.trials if t.key == ("processes", 2))
    assert first.suspect and first.wall_s < next(
        t.wall_s for t in results.trials if t.key == ("processes", 2) and not t.suspect)
    assert not any(w.startswith("suspect numbers") for w in analyse(results).recommendation.warnings)


def pool_per_process(model: str, n: int) -> tuple[float, float]:
    """An ORM job with an engine and a pool of 4 per process, 80 % waiting on its database:
    threads share one pool (flat from 4 sessions), processes each bring theirs until the
    server is the limit past 16 (issue 23: ×16 489 records/s, ×8 436, ×32 425)."""
    if model == "sequential":
        return 60.0, 0.2
    if model == "processes":
        rps = {2: 118.0, 4: 230.0, 8: 436.0, 16: 489.0, 32: 425.0}.get(n, 60.0 * n)
        return rps, min(rps * 0.0033, 1.8)
    return 60.0 * min(n, 4) * 0.98 ** max(n - 4, 0), 0.8


def test_processes_climb_past_twice_the_cores_for_waiting_work(tmp_path):
    results, world = sweep(tmp_path, pool_per_process, models=["sequential", "threads", "processes"])
    assert reached(results, "processes") == 32 and world.now <= 60.0
    rec = analyse(results).recommendation
    assert (rec.model, rec.concurrency) == ("processes", 16)


def falling_loop_cost(model: str, n: int) -> tuple[float, float]:
    """An async redis client: the loop's CPU per record falls as N grows (uvloop×2 1.31 ms,
    ×16 1.06 ms), so one core carries 938 records/s at N=16, above processes' 846–850.
    Sequential's 1.4 ms per record, assumed constant, would cap the loop at 821."""
    if model == "sequential":
        return 400.0, 0.56
    if model in ("asyncio", "uvloop"):
        cost_ms = {2: 1.31, 4: 1.2, 8: 1.12}.get(n, 1.06)
        rps = min((n or 10_000) * 400.0, 0.995 * 1000 / cost_ms)
        return rps, rps * cost_ms / 1000
    return (846.0 if n == 2 else 850.0) if n >= 2 else 400.0, 1.2


def test_an_event_loop_whose_cpu_per_record_falls_is_not_pruned_on_its_first_cost(tmp_path):
    results, _ = sweep(tmp_path, falling_loop_cost, handler="async",
                       models=["sequential", "uvloop", "processes"])
    assert reached(results, "uvloop") >= 16, log(results)
    assert not any("bounded by the CPU" in line for line in log(results, "stop"))
    rec = analyse(results).recommendation
    assert rec.model == "uvloop" and rec.concurrency >= 16


def test_a_suspect_reading_never_leads_prunes_or_wins(tmp_path):
    """processes×2 reads 4.0× sequential at first and 2.8× in its longer re-measurement: 30 %
    apart, not a reproduction (at most 25 %), so it stays suspect, and neither ends another
    climb nor is recommended."""
    def curve(model: str, n: int) -> tuple[float, float]:
        if model == "sequential":
            return 300.0, 0.3
        if model == "processes":
            return 840.0, 0.6
        return 300.0 * min(n, 8), 0.3

    def first_higher(spec, i):
        return 1200.0 / 840.0 if spec.model == "processes" and spec.repeat == 0 else 1.0
    results, _ = sweep(tmp_path, curve, models=["sequential", "threads", "processes"],
                       noise=first_higher)
    assert any("re-measured: still" in line for line in log(results, "suspect")), log(results)
    assert not any("cannot beat the leader (840" in line for line in log(results))
    assert reached(results, "threads") >= 8
    s = analyse(results).standings
    assert s.best.model == "threads"
    assert not s.is_eligible(s.find("processes", 2))


def test_a_speedup_beyond_n_workers_reproduced_in_a_longer_window_is_kept_and_named(tmp_path):
    """A redis client here: sequential 1,100 records/s in three 1 s windows, threads×2 2,900
    and processes×2 3,900 on every look (one worker waits on an idle core's wake-up that
    two overlap). The re-measurement reproduces the first reading, so it counts: excluding
    it recommended asyncio-threads×2 at 1.11×."""
    def curve(model: str, n: int) -> tuple[float, float]:
        if model == "sequential":
            return 1100.0, 0.45
        if model == "processes":
            return 3900.0, 1.0
        if model == "threads":
            return 2900.0, 0.7
        return 1200.0, 0.7

    results, _ = sweep(tmp_path, curve, budget_s=20, models=["sequential", "threads", "processes",
                                                             "asyncio-threads"])
    kept = [line for line in log(results, "suspect") if "kept as measured" in line]
    assert any(line.startswith("suspect processes×2: processes×2 re-measured: 3,900.0 records/s")
               for line in kept), log(results)
    rec = analyse(results).recommendation
    assert rec.model == "processes", log(results)
    assert any(w.startswith("beyond processes×2's share: 3.5× sequential's fastest reading") and
               "reproduced by a longer re-measurement" in w for w in rec.warnings), rec.warnings
    assert not any(w.startswith("suspect numbers for processes") for w in rec.warnings), rec.warnings
    # its repeats agree with it: counted, not marked suspect one after another
    assert not any("(suspect:" in line for line in log(results, "repeat")), log(results)
    assert analyse(results).standings.find("processes", 2).repeats >= 2, log(results)


def test_budget_left_after_settling_resumes_a_climb_the_budget_stopped_while_gaining(tmp_path):
    """Trials of a fixed 300 records take long at low N: the climbs hit the share kept for
    settling, settling needs less, and what is left goes back to the gaining climb."""
    results, world = sweep(tmp_path, io_curve(0.040), budget_s=40, records=300)
    resumed = [line for line in log(results, "budget") if "resuming" in line]
    assert resumed and resumed[0].startswith(
        "budget threads×4: 9.5 s left after settling: resuming threads's climb at N=4"), log(results)
    assert reached(results, "threads") >= 64 and world.now <= 40


def test_a_process_pool_trial_is_budgeted_by_its_measured_start_per_worker():
    """processes×2 took 4 s beyond its window (2 s to start each worker): processes×32 is
    not started with 55 s left, threads are still budgeted by the last trial's overhead."""
    from types import SimpleNamespace

    from profiler.run.sweep import Budget
    from tests.factory import make_trial

    budget = Budget(60.0, SimpleNamespace(elapsed_s=0.0))
    budget.learn(make_trial("processes", 2, throughput_rps=100.0, records=100), took_s=5.0)
    assert budget.start_s("processes", 32) == pytest.approx(64.0)
    assert not budget.fits(1.0, 0.0, "processes", 32) and budget.fits(1.0, 0.0, "processes", 4)
    assert budget.start_s("threads", 32) == pytest.approx(4.0)


def test_a_leader_confirmed_by_one_re_measurement_prunes_nothing_until_a_repeat_agrees(tmp_path):
    """Issue 23: processes×2 read 3.3× sequential (suspect), its re-measurement 690 (just
    under the impossible line), its repeats 484. Until a repeat agrees with the 690, no
    climb is ended against it."""
    def curve(model: str, n: int) -> tuple[float, float]:
        if model == "sequential":
            return 300.0, 0.5
        if model == "processes":
            return 484.0, 1.0
        rps = min(300.0 * n, 620.0)
        return rps, rps * 0.0016

    def first_reads_high(spec, i):
        if spec.model == "processes" and spec.concurrency == 2:
            return {0: 1000 / 484, 1: 690 / 484}.get(spec.repeat, 1.0)
        return 1.0

    results, _ = sweep(tmp_path, curve, models=["sequential", "threads", "processes"],
                       noise=first_reads_high)
    assert any("re-measured: 690.0 records/s, nothing impossible" in line
               for line in log(results, "suspect")), log(results)
    assert not any("cannot beat the leader (690" in line for line in log(results)), log(results)
    assert analyse(results).standings.best.model == "threads"


def test_a_cold_first_sequential_reading_does_not_exclude_the_faster_models(tmp_path):
    """The story on a loaded CI machine: the database was cold for the calibration and the
    first sequential trial (350 records/s, later 520), so threads×2 and processes×2 read
    more than 2 × 1.15 × that reading. Sequential's repeat, sized like its slow first trial,
    ran under the 0.3 s window and was left out; the faster models were then excluded as
    impossible and sequential, the slowest, was recommended. The repeat must be sized for
    the speed measured, and nothing is impossible against sequential's fastest reading."""
    def db(model: str, n: int) -> tuple[float, float]:
        if model == "sequential":
            return 520.0, 0.5
        return ({"threads": 1000.0, "processes": 1100.0}.get(model, 130.0 * max(n, 1)), 0.8)

    def cold_start(spec, i):  # the calibration and the first kept trial meet a cold server
        return 350.0 / 520.0 if i < 2 else 1.0

    results, _ = sweep(tmp_path, db, budget_s=20, noise=cold_start,
                       models=["sequential", "threads", "processes"])
    seq = [t for t in results.trials if t.model == "sequential"]
    assert len(seq) >= 2 and not any(t.suspect for t in seq), log(results)
    s = analyse(results).standings
    assert s.best.model != "sequential", log(results)
    assert s.is_eligible(s.find("threads", 2)) and s.is_eligible(s.find("processes", 2)), log(results)


def test_a_story_measures_the_thread_pool_and_the_bounded_rewrite_before_any_second_step(tmp_path):
    """Issue 22's story on a busy machine with a 20 s budget: the rewrite's climb took
    asyncio×2 and ×4 and the thread pool was never reached, so the story's baseline fell
    back to sequential. Its three sides come first: sequential, the unbounded gather, then
    threads×2 and asyncio×2, before any climb's second step."""
    def db(model: str, n: int) -> tuple[float, float]:
        if model == "sequential":
            return 500.0, 0.6
        if model == "asyncio":
            return (400.0, 0.5) if n == 0 else (110.0 * min(n, 4) ** 0.3, 0.4)
        return 500.0 * min(n, 2) ** 0.3, 0.7

    results, _ = sweep(tmp_path, db, handler="both", budget_s=20)
    kept = [t.key for t in results.trials if not t.suspect]
    assert kept[:4] == [("sequential", 1), ("asyncio", 0), ("threads", 2), ("asyncio", 2)], log(results)
