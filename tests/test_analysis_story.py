"""The story: the job as it was vs its rewrite, told from hand-made trials (no workload runs)."""

from __future__ import annotations

import json

import pytest

from profiler import format as fmt
from profiler.analysis import analyse
from profiler.analysis.story import story_of, tell
from profiler.results import Attribution, Config, load_results
from profiler.results.standings import full_batch_s
from tests.factory import make_results, make_trial, repeats

STORY_SIDE_KEYS = {"config", "rps", "batch_s", "db_sessions_peak", "db_refused",
                   "cpu_per_record_ms", "loop_lag_p99_ms", "error_rate"}


def seed_run(total: int | None = 300_000):
    """The seed job measured: a thread pool of 4 at 680 records/s holding 4 sessions (three
    repeats), the unbounded rewrite at 24 records/s with 96 sessions admitted and 1,475 of
    its 1,571 records refused, and the rewrite bounded to 4 in flight at 141 records/s."""
    results = make_results(
        make_trial("sequential", 1, throughput_rps=393.0, cpu_util=0.59, db_connections_peak=1,
                   db_server_cpu_s=0.3),
        make_trial("threads", 2, throughput_rps=289.0, db_connections_peak=2),
        *repeats("threads", 4, [680.0, 650.0, 710.0], cpu_util=0.91, records=1360,
                 connections_peak=4, db_connections_peak=4, db_refused=0, db_server_cpu_s=0.64,
                 connection_failures={"refused": 0, "timeout": 0, "reset": 0},
                 probe_metrics={"db_waits": {"IO": 83, "LWLock": 17}}),
        make_trial("asyncio", 4, throughput_rps=141.0, db_connections_peak=4, records=500,
                   db_server_cpu_s=1.0, connection_failures={"refused": 0, "timeout": 0, "reset": 0}),
        make_trial("asyncio", 0, throughput_rps=24.0, cpu_util=0.56, records=1571, errors=1475,
                   connections_peak=1571, db_connections_peak=96, db_refused=1475,
                   db_server_cpu_s=2.5, loop_lag_p99_ms=2288.0,
                   errors_by_type={"TooManyConnectionsError": 1460, "OperationalError": 15},
                   connection_failures={"refused": 1470, "timeout": 5, "reset": 0},
                   probe_metrics={"db_waits": {"Client": 199, "CPU": 1}}),
        total_records=total,
    )
    results.workload.handle_kind = "both"
    return results


def test_a_rewrite_that_fails_gets_no_batch_time_and_the_headline_says_it_would_not_finish():
    story = tell(seed_run())
    assert story is not None
    r = story.rewrite
    assert (r.config, r.batch_s, story.delta_s) == ("asyncio×unbounded", None, None)
    assert r.error_rate == pytest.approx(1475 / 1571) and (r.attempted, r.completed) == (1571, 96)
    assert story.headline.startswith(
        "The asyncio rewrite (gather over all records) fails 94 % of records — 1,470 refused "
        "connections, 5 timeouts: it would not finish the batch; it held 24.0× the database "
        "sessions (96 admitted at once vs 4) and its event-loop lag p99 was 2,288 ms. ")
    assert "would not finish the batch" in r.batch_note


def test_the_rewrites_best_bounded_form_is_priced_against_the_baseline_with_intervals():
    story = tell(seed_run())
    rb, b = story.rewrite_bounded, story.baseline
    assert (rb.config, b.config) == ("asyncio×4", "threads×4")
    assert rb.batch_s == pytest.approx(300_000 / 141)
    assert b.batch_s == pytest.approx(300_000 / 680) and b.repeats == 3
    assert b.batch_low_s < b.batch_s < b.batch_high_s  # three repeats: an interval
    assert rb.batch_low_s is None and "single run" in rb.batch_note
    assert rb.delta_s == pytest.approx(rb.batch_s - b.batch_s)
    assert story.headline.endswith(
        " Bounded to 4 records in flight (asyncio×4), it would take 35 min 28 s (one run: spread "
        f"unknown) for 300,000 records vs 7 min 21 s ({fmt.duration(b.batch_low_s)} – "
        f"{fmt.duration(b.batch_high_s)}) for the thread pool of 4 threads: +28 min 06 s.")
    assert (rb.db_sessions_peak, rb.server_cpu_per_record_ms) == (4, pytest.approx(2.0))


def test_a_failing_bounded_form_is_said_to_fail_too():
    results = seed_run()
    bounded = next(t for t in results.trials if t.label == "asyncio×4")
    bounded.errors, bounded.connection_failures = 100, {"refused": 0, "timeout": 100, "reset": 0}
    story = tell(results)
    assert story.rewrite_bounded.batch_s is None
    assert story.headline.endswith("Bounded to 4 records in flight (asyncio×4), it fails 20 % of "
                                   "records too (0 refused connections, 100 timeouts).")


def test_without_a_bounded_form_the_story_says_none_was_measured():
    results = seed_run()
    results.trials = [t for t in results.trials if t.label != "asyncio×4"]
    story = tell(results)
    assert story.rewrite_bounded is None
    assert "No bounded form of the rewrite was measured" in story.headline


def test_a_job_and_rewrite_that_both_finish_are_told_with_batch_times_and_intervals():
    results = seed_run()
    for t in results.trials:
        if t.label == "asyncio×unbounded":
            t.errors, t.throughput_rps = 0, 100.0
    story = tell(results)
    assert story.headline.startswith(
        "The asyncio rewrite (gather over all records) would take 50 min 00 s (one run: spread "
        "unknown) for 300,000 records vs 7 min 21 s (")
    assert story.delta_s == pytest.approx(3000 - 300_000 / 680)


def test_server_cpu_is_per_completed_record_with_per_attempted_beside_it_and_its_formula():
    story = tell(seed_run())
    r = story.rewrite
    assert r.server_cpu_per_record_ms == pytest.approx(2.5 / 96 * 1000)
    assert r.server_cpu_per_attempted_ms == pytest.approx(2.5 / 1571 * 1000)
    per_record = next(d for d in story.details if d.startswith("Per record:"))
    assert "26 ms (asyncio×unbounded)" in per_record and "per attempted: 1.6 ms" in per_record
    assert ("Server CPU per completed record = the server's CPU seconds in the timed windows ÷ "
            "the records that succeeded in them") in per_record


def test_refusals_are_counted_from_the_drivers_error_with_the_server_log_as_a_cross_check():
    story = tell(seed_run())
    r = story.rewrite
    assert (r.db_refused, r.db_refused_source, r.db_refused_server_log) == (1470, "driver errors", 1475)
    assert (r.db_timeouts, r.db_resets) == (5, 0)
    counted = next(d for d in story.details if d.startswith("Connections, counted three ways"))
    assert ("1,470 attempts refused (from the driver's error: SQLSTATE 53300 or the server's "
            "\"too many clients\" words; the server's log counted 1,475), 5 timed out, 0 reset, "
            "1,571 client sockets at peak") in counted


def test_details_say_how_firm_each_batch_time_is_and_where_the_database_waited():
    details = tell(seed_run()).details
    assert details[0].startswith("Batch times for 300,000 records (total ÷ records completed per "
                                 "second): asyncio×unbounded: fails 94 % of records")
    assert "threads×4: 95 % t-interval over 3 repeats" in details[0]
    assert any("asyncio×unbounded: Client 100 %, CPU 0.5 %; threads×4: IO 83 %, LWLock 17 %" in d
               for d in details)


def test_without_a_total_the_story_speaks_in_rates_and_asks_for_one():
    story = tell(seed_run(total=None))
    assert story.headline.startswith("The asyncio rewrite (gather over all records) fails 94 % of "
                                     "records")
    assert story.headline.endswith("Bounded to 4 records in flight (asyncio×4), it ran at 141 "
                                   "records/s vs 680 for the thread pool of 4 threads (−79.3 %).")
    assert story.rewrite.batch_s is None and story.delta_s is None
    assert "--total" in story.details[-1]


def test_a_job_with_one_form_only_has_no_story():
    results = seed_run()
    results.workload.handle_kind = "sync"
    assert tell(results) is None
    results.workload.handle_kind = "both"
    results.trials = [t for t in results.trials if t.model != "asyncio"]
    assert tell(results) is None  # no rewrite measured


def test_a_file_from_before_errors_were_classified_reads_refusals_as_it_did():
    results = seed_run()
    for t in results.trials:
        t.connection_failures = None
    assert tell(results).rewrite.db_refused_source == "server log"
    for t in results.trials:
        t.db_refused = None
    story = tell(results)
    assert (story.rewrite.db_refused, story.rewrite.db_refused_source) == (1460, "client errors")
    assert story.baseline.db_refused == 0


def test_without_server_sessions_the_story_speaks_of_client_sockets():
    results = seed_run()
    for t in results.trials:
        t.db_connections_peak = None
    headline = tell(results).headline
    assert "it opened 393× the client sockets (1,571 vs 4)" in headline
    assert "database sessions" not in headline


def test_loop_bookkeeping_comes_from_the_attribution_of_the_rewrite():
    results = seed_run()
    results.attribution.append(Attribution("asyncio", 0, loop_internal_share=0.5))
    assert "it spent 0.28 cores in the event loop's own bookkeeping" in tell(results).headline


def test_a_faster_rewrite_is_told_as_faster():
    fast = Config.of(make_trial("asyncio", 64, throughput_rps=900.0))
    slow = Config.of(make_trial("threads", 8, throughput_rps=600.0))
    story = story_of(slow, fast, 60_000)
    assert story.headline.startswith("The asyncio rewrite (64 records in flight) would take "
                                     "1 min 07 s (one run: spread unknown) for 60,000 records vs "
                                     "1 min 40 s (one run: spread unknown) for the thread pool of "
                                     "8 threads (−33.3 s)")


def test_the_story_is_a_top_level_object_of_results_json(tmp_path):
    results = analyse(seed_run(), total_records=300_000)
    data = json.loads(results.save(tmp_path / "results.json").read_text())
    story = data["story"]
    assert {"total", "baseline", "rewrite", "delta_s"} <= set(story)
    assert STORY_SIDE_KEYS <= set(story["baseline"]) and STORY_SIDE_KEYS <= set(story["rewrite"])
    assert story["total"] == 300_000 and story["rewrite"]["db_refused"] == 1470
    assert story["rewrite"]["batch_s"] is None and story["rewrite_bounded"]["config"] == "asyncio×4"
    assert load_results(tmp_path / "results.json").story == results.story


def test_full_batch_is_total_over_throughput():
    assert full_batch_s(300_000, 680.0) == pytest.approx(441.18, abs=0.01)
    assert full_batch_s(None, 680.0) is None and full_batch_s(300_000, 0.0) is None


def test_server_cpu_of_a_shared_server_is_said_to_include_other_clients():
    results = seed_run()
    assert not any("other clients" in d for d in tell(results).details)
    for t in results.trials:
        t.probe_metrics["db_server_shared"] = True
    assert any("(the whole server's CPU: other clients' sessions count too)" in d
               for d in tell(results).details)
