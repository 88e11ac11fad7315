"""analyse() fills the verdict sections; verdict_lines() puts the sentence first."""

from __future__ import annotations

import json

from profiler.analysis import analyse
from profiler.models import simplicity_order
from profiler.report.console import verdict_lines
from profiler.results import Constraints, Results
from profiler.results.schema import to_data
from tests.factory import make_results, make_trial


def batch_job():
    """The story: threads scale on an I/O-bound job, unbounded asyncio drowns in connections."""
    return make_results(
        make_trial("sequential", 1, throughput_rps=28.2, cpu_util=0.08, connections_peak=1),
        make_trial("threads", 4, throughput_rps=110.0, cpu_util=0.15, connections_peak=4),
        make_trial("threads", 16, throughput_rps=412.0, cpu_util=0.31, connections_peak=16),
        make_trial("threads", 32, throughput_rps=380.0, cpu_util=0.35, connections_peak=32),
        make_trial("asyncio", 0, throughput_rps=300.0, cpu_util=0.9, connections_peak=1000,
                   loop_lag_p99_ms=850.0),
        total_records=300_000,
    )


def test_analyse_fills_every_verdict_section():
    results = analyse(batch_job())
    assert results.classification.label == "io-bound"
    assert results.scaling["threads"].status == "ok"
    assert (results.recommendation.model, results.recommendation.concurrency) == ("threads", 16)
    assert results.predictions.total_records == 300_000


def test_analysed_results_survive_the_json_round_trip():
    results = analyse(batch_job(), Constraints(max_connections=100))
    data = json.loads(results.to_json())  # allow_nan=False: no inf or NaN may leak in
    again = Results.from_dict(data)
    assert to_data(again.recommendation) == data["recommendation"]
    assert again.recommendation == results.recommendation
    assert again.recommendation.constraints.max_connections == 100


def test_verdict_lines_start_with_label_and_recommendation():
    lines = verdict_lines(analyse(batch_job()))
    assert lines[0] == "I/O-bound: use threads×16 — 14.6× faster than sequential (412 vs 28 records/s)"
    assert lines[1] == "full batch of 300,000 records: about 12 min 08 s with threads×16 (single run: no interval)"
    assert ("sequential: 0.08 ± 0.05 (noise assumed: measured once) CPU s per wall s "
            "(threshold: ≤ 0.30 is I/O-bound)") in lines
    assert "warning: far more connections than threads×16's 16: asyncio×unbounded 1,000 (62.5×) — each would load the database that much more" in lines
    assert any(line.startswith("warning: event-loop lag p99 over 100 ms: asyncio×unbounded") for line in lines)


def test_verdict_title_names_the_refinement():
    results = analyse(make_results(
        make_trial("sequential", 1, throughput_rps=28.0, cpu_util=0.05),
        make_trial("threads", 16, throughput_rps=29.0, cpu_util=0.1),
    ))
    assert verdict_lines(results)[0].startswith(
        "I/O-bound (serialized on a shared resource): keep it sequential")


def test_verdict_lines_without_analysis_do_not_store_anything():
    results = batch_job()
    lines = verdict_lines(results)
    assert lines[0].startswith("I/O-bound: use threads×16")
    assert results.classification is None and results.recommendation is None


def test_verdict_when_nothing_completed():
    lines = verdict_lines(analyse(make_results(make_trial("threads", 4, status="crashed"))))
    assert lines[0].startswith("Unclassified: no configuration completed")


def test_simplicity_order_is_the_documented_one():
    assert simplicity_order("sync") == ["sequential", "threads", "processes", "celery",
                                        "asyncio-threads", "asyncio", "uvloop", "dask"]


def test_for_async_handlers_the_event_loop_models_come_first():
    assert simplicity_order("async")[:5] == ["sequential", "asyncio", "uvloop", "threads",
                                             "processes"]


def test_a_borderline_verdict_names_both_readings_in_its_title():
    results = analyse(make_results(*(make_trial("sequential", 1, throughput_rps=100.0, cpu_util=0.3,
                                                repeat=i) for i in range(3)),
                                   make_trial("threads", 4, throughput_rps=330.0, cpu_util=1.0)))
    assert verdict_lines(results)[0].startswith("Borderline (between I/O-bound and mixed): use threads×4")
