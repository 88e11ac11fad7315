"""The story: the job as it was vs its rewrite, told from hand-made trials (no workload runs)."""

from __future__ import annotations

import json

import pytest

from profiler.analysis import analyse
from profiler.analysis.story import story_of, tell
from profiler.results import Attribution, Config, load_results
from profiler.results.standings import full_batch_s
from tests.factory import make_results, make_trial

STORY_SIDE_KEYS = {"config", "rps", "batch_s", "db_sessions_peak", "db_refused",
                   "cpu_per_record_ms", "loop_lag_p99_ms", "error_rate"}


def seed_run(total: int | None = 300_000):
    """The seed job measured: a thread pool of 4 at 680 records/s holding 4 sessions, and the
    unbounded rewrite at 24 records/s with 96 sessions admitted and 1,475 refused."""
    results = make_results(
        make_trial("sequential", 1, throughput_rps=393.0, cpu_util=0.59, db_connections_peak=1,
                   db_server_cpu_s=0.3),
        make_trial("threads", 2, throughput_rps=289.0, db_connections_peak=2),
        make_trial("threads", 4, throughput_rps=680.0, cpu_util=0.91, records=1360,
                   connections_peak=4, db_connections_peak=4, db_refused=0, db_server_cpu_s=0.64,
                   probe_metrics={"db_waits": {"IO": 83, "LWLock": 17}}),
        make_trial("asyncio", 4, throughput_rps=141.0, db_connections_peak=4),
        make_trial("asyncio", 0, throughput_rps=24.0, cpu_util=0.56, records=1571, errors=1475,
                   connections_peak=1571, db_connections_peak=96, db_refused=1475,
                   db_server_cpu_s=2.5, loop_lag_p99_ms=2288.0,
                   errors_by_type={"TooManyConnectionsError": 1475},
                   probe_metrics={"db_waits": {"Client": 199, "CPU": 1}}),
        total_records=total,
    )
    results.workload.handle_kind = "both"
    return results


def test_the_seed_story_headline_names_batch_times_sessions_refusals_and_lag():
    story = tell(seed_run())
    assert story is not None
    assert story.headline == (
        "The asyncio rewrite (gather over all records) would take 3 h 28 min for 300,000 records "
        "vs 7 min 21 s for the thread pool of 4 threads (+3 h 20 min): it held 24.0× the database "
        "sessions (96 admitted at once vs 4; 1,475 attempts refused), 94 % of its records failed, "
        "and its event-loop lag p99 was 2,288 ms.")
    assert story.delta_s == pytest.approx(300_000 / 24 - 300_000 / 680)
    assert (story.baseline.config, story.rewrite.config) == ("threads×4", "asyncio×unbounded")


def test_details_put_server_cpu_next_to_client_cpu_and_count_connections_three_ways():
    details = tell(seed_run()).details
    assert details[0].startswith("Per record (asyncio×unbounded vs threads×4): the database "
                                 "server spent 1.6 ms of CPU vs 0.47 ms; the client")
    assert "asyncio×unbounded: Client 100 %, CPU 0.5 %; threads×4: IO 83 %, LWLock 17 %" in details[1]
    assert ("96 sessions admitted at once (the server's count), 1,475 attempts refused (server "
            "log), 1,571 client sockets at peak") in details[2]


def test_without_a_total_the_story_speaks_in_rates_and_asks_for_one():
    story = tell(seed_run(total=None))
    assert story.headline.startswith("The asyncio rewrite (gather over all records) ran at 24 "
                                     "records/s vs 680 for the thread pool of 4 threads (−96.5 %)")
    assert story.rewrite.batch_s is None and story.delta_s is None
    assert "--total" in story.details[-1]


def test_a_job_with_one_form_only_has_no_story():
    results = seed_run()
    results.workload.handle_kind = "sync"
    assert tell(results) is None
    results.workload.handle_kind = "both"
    results.trials = [t for t in results.trials if t.model != "asyncio"]
    assert tell(results) is None  # no rewrite measured


def test_refusals_fall_back_to_the_clients_errors_when_the_server_log_was_not_read():
    results = seed_run()
    for t in results.trials:
        t.db_refused = None
    story = tell(results)
    assert (story.rewrite.db_refused, story.rewrite.db_refused_source) == (1475, "client errors")
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
                                     "1 min 07 s for 60,000 records vs 1 min 40 s for the thread "
                                     "pool of 8 threads (−33.3 s)")


def test_the_story_is_a_top_level_object_of_results_json(tmp_path):
    results = analyse(seed_run(), total_records=300_000)
    data = json.loads(results.save(tmp_path / "results.json").read_text())
    story = data["story"]
    assert {"total", "baseline", "rewrite", "delta_s"} <= set(story)
    assert STORY_SIDE_KEYS <= set(story["baseline"]) and STORY_SIDE_KEYS <= set(story["rewrite"])
    assert story["total"] == 300_000 and story["rewrite"]["db_refused"] == 1475
    assert load_results(tmp_path / "results.json").story == results.story


def test_full_batch_is_total_over_throughput():
    assert full_batch_s(300_000, 680.0) == pytest.approx(441.18, abs=0.01)
    assert full_batch_s(None, 680.0) is None and full_batch_s(300_000, 0.0) is None


def test_server_cpu_of_a_shared_server_is_said_to_include_other_clients():
    results = seed_run()
    assert "other clients" not in tell(results).details[0]
    for t in results.trials:
        t.probe_metrics["db_server_shared"] = True
    assert "(the whole server's CPU: other clients' sessions count too)" in tell(results).details[0]
