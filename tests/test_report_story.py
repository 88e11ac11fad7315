"""The story is the first thing every renderer shows: terminal, index.html, summary.md, compare."""

from __future__ import annotations

import pytest

from profiler.analysis import analyse
from profiler.analysis.compare import compare_runs
from profiler.report.compare import render_compare
from profiler.report.console import plain_console, print_summary
from profiler.report.html import render_report
from profiler.results import Results
from tests.factory import make_results, make_trial
from tests.report_fixtures import Page
from tests.test_analysis_story import seed_run


@pytest.fixture
def no_plots(monkeypatch):
    monkeypatch.setattr("profiler.report.html.render_plots", lambda data, out_dir: ())
    monkeypatch.setattr("profiler.report.compare.render_plots", lambda runs, out_dir: ())


def analysed() -> Results:
    return analyse(seed_run(), total_records=300_000)


def test_the_report_opens_with_the_story_then_the_verdict(tmp_path, no_plots):
    results = analysed()
    html = render_report(results, tmp_path).read_text(encoding="utf-8")
    assert html.index('id="story"') < html.index('id="verdict"')
    text = Page(html).text
    assert results.story.headline in text
    assert "DB sessions at once 96 vs 4 as it was" in text
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8").splitlines()
    assert summary[2] == f"**{results.story.headline}**"
    assert summary.index(f"**{results.story.headline}**") < next(
        i for i, line in enumerate(summary) if line.startswith("**Verdict:**"))


def test_the_trial_table_gives_every_configurations_full_batch_and_its_difference(tmp_path, no_plots):
    text = Page(render_report(analysed(), tmp_path).read_text(encoding="utf-8")).text
    # asyncio×unbounded fails 94 % of its records: no batch time, "fails" (the standings' call)
    assert "24 records/s fails n/a" in text
    assert "680 records/s 7 min 21 s ±0 s" in text
    assert "the difference to threads×4's (the job as it was" in text


def test_the_terminal_prints_the_story_before_the_recommendation(capsys):
    results = analysed()
    print_summary(plain_console(), results)
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith(" ".join(results.story.headline.split()))
    assert out.index("Per record: the database server spent") < out.index("use threads×4")


def test_a_compare_of_the_job_and_its_rewrite_tells_the_story_and_the_batch_difference(
        tmp_path, no_plots):
    pool = make_results(make_trial("threads", 16, throughput_rps=600.0, db_connections_peak=16),
                        make_trial("threads", 16, throughput_rps=620.0, repeat=1, db_connections_peak=16),
                        total_records=300_000)
    rewrite = make_results(
        make_trial("asyncio", 0, throughput_rps=60.0, db_connections_peak=96, db_refused=900,
                   errors=900, loop_lag_p99_ms=800.0, connection_failures={"refused": 900}),
        make_trial("asyncio", 0, throughput_rps=62.0, repeat=1, db_connections_peak=96,
                   db_refused=880, errors=880, loop_lag_p99_ms=700.0,
                   connection_failures={"refused": 880}),
        total_records=300_000)
    out = compare_runs(pool, rewrite)
    index = render_compare(out, pool, rewrite, tmp_path)
    assert out.story is not None
    assert out.lines()[0] == out.story.headline
    # 90 % of the rewrite's records failed: no batch time for it, and no bounded form measured
    assert out.story.headline.startswith("The asyncio rewrite (gather over all records) fails 89 % "
                                         "of records — 900 refused connections")
    assert out.story.rewrite.batch_s is None and out.story.baseline.batch_s == pytest.approx(
        300_000 / 610)
    batch = out.delta("full_batch")  # the deltas agree with the story: no time for a failing batch
    assert batch.candidate is None and batch.better is None
    assert batch.method == "the candidate fails 89 % of records: it would not finish the batch"
    assert out.delta("db_refused").candidate == 890
    html = index.read_text(encoding="utf-8")
    assert html.index('id="story"') < html.index('id="verdict"')
    assert (tmp_path / "summary.md").read_text(encoding="utf-8").splitlines()[2] == (
        f"**{out.story.headline}**")
