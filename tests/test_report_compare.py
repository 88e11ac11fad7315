"""Compare two runs: who wins, and when the difference is only the noise of the repeats."""

from __future__ import annotations

import pytest

from profiler.analysis.compare import METRICS, compare_runs
from profiler.report.compare import render_compare
from profiler.results import load_results
from tests.report_fixtures import Page, is_local_reference, make_compare_run


def render(a, b, out_dir, labels=("baseline", "candidate")):
    """Judge two runs (`analysis.compare`) and render them; the outcome and the index page."""
    outcome = compare_runs(a, b, labels)
    return outcome, render_compare(outcome, a, b, out_dir)


@pytest.fixture
def no_plots(monkeypatch):
    """Judgement tests do not need the PNGs (test_compare_report_files draws them)."""
    monkeypatch.setattr("profiler.report.compare.render_plots", lambda runs, out_dir: ())


def test_a_clearly_faster_candidate_wins(tmp_path, no_plots):
    out, index = render(make_compare_run([300, 305, 310]), make_compare_run([450, 455, 460]), tmp_path)
    thr = out.delta("throughput")
    assert out.winner == "candidate" and not out.within_noise
    assert thr.better == "candidate" and thr.change_pct == pytest.approx(455 / 305 - 1)
    assert "Welch" in thr.method
    assert out.verdict.startswith("Candidate is faster: 455 records/s vs 305 records/s (+49.2 %)")


def test_a_one_percent_difference_with_wide_repeats_is_within_noise(tmp_path, no_plots):
    base, cand = [250.0, 300.0, 350.0], [252.5, 303.0, 353.5]  # +1 %, spread ±17 %
    out, index = render(make_compare_run(base), make_compare_run(cand), tmp_path)
    assert out.winner is None and out.within_noise
    assert out.delta("throughput").within_noise
    assert out.verdict.startswith("No clear winner")
    assert "within noise" in Page(index.read_text(encoding="utf-8")).text


def test_a_slower_candidate_loses(tmp_path, no_plots):
    out, index = render(make_compare_run([400, 402, 404]), make_compare_run([300, 301, 302]), tmp_path)
    assert out.winner == "baseline"
    assert out.verdict.startswith("Candidate is slower")


def test_a_single_repeat_claims_no_winner_and_says_the_noise_is_unknown(tmp_path, no_plots):
    out, index = render(make_compare_run([300]), make_compare_run([400]), tmp_path)
    assert out.winner is None
    assert out.delta("throughput").within_noise is None
    assert "one repeat on a side, so the noise is unknown" in out.verdict
    assert out.delta("throughput").judged == "noise unknown"


def test_resource_deltas_are_reported_and_a_costly_winner_is_named(tmp_path, no_plots):
    base = make_compare_run([300, 305, 310], conns=8)
    cand = make_compare_run([450, 455, 460], conns=400, lag99=120.0, model="asyncio", n=64)
    out, index = render(base, cand, tmp_path)
    assert [d.key for d in out.deltas] == [m.key for m in METRICS] + ["full_batch"]  # --total given
    conns = out.delta("connections_peak")
    assert (conns.baseline, conns.candidate, conns.better) == (8, 400, "baseline")
    assert out.delta("loop_lag_p99").within_noise is None  # threads have no loop
    assert out.delta("cpu_util").better is None
    assert "But candidate costs more: peak connections 400 vs 8" in out.verdict
    assert out.candidate_config == "asyncio×64"


def test_compare_report_files(tmp_path):
    a, b = make_compare_run([300, 305, 310]), make_compare_run([450, 455, 460])
    out, index = render(a, b, tmp_path, labels=("main", "PR #12"))
    page = Page(index.read_text(encoding="utf-8"))
    assert index == tmp_path / "index.html"
    assert "PR #12 better" in page.text and out.winner == "PR #12"
    assert page.rows["deltas"] == len(METRICS) + 1  # and the full batch: the runs have a total
    assert page.rows["trials-main"] == len(a.trials) and page.rows["trials-PR-12"] == len(b.trials)
    assert page.imgs and all((tmp_path / src).is_file() for src in page.imgs)
    assert all(is_local_reference(v) for _, _, v in page.links)
    assert load_results(tmp_path / "main.json").to_dict() == a.to_dict()
    assert load_results(tmp_path / "PR-12.json").to_dict() == b.to_dict()
    assert "| Throughput | 305 records/s | 455 records/s | +49.2 % | PR #12 better |" in (
        tmp_path / "summary.md").read_text(encoding="utf-8")


def test_compare_with_a_run_that_has_no_successful_trial(tmp_path, no_plots):
    broken = make_compare_run([300])
    for t in broken.trials:
        t.status = "crashed"
    out, index = render(make_compare_run([300, 310]), broken, tmp_path)
    assert out.winner is None and out.verdict.startswith("No comparison")
    assert index.is_file()


def test_different_environments_are_flagged(tmp_path, no_plots):
    b = make_compare_run([450, 455, 460])
    b.environment.cpu_count = 16
    out, index = render(make_compare_run([300, 305, 310]), b, tmp_path)
    assert "Different environments (2 vs 16 cores" in Page(index.read_text(encoding="utf-8")).text


def test_a_candidate_failing_its_records_gets_no_full_batch_time_and_says_why():
    """Issue 22: a time for a job that fails is not a time. The run's every configuration
    fails 40 % of its records; the baseline's batch time stays, the candidate's is withheld
    with the reason, and no winner is read from a metric one side does not have."""
    failing = make_compare_run([400, 410, 405])
    for t in failing.trials:
        t.errors = int(0.4 * t.records)
    outcome = compare_runs(make_compare_run([300, 310, 305]), failing, total=300_000)
    batch = next(d for d in outcome.deltas if d.key == "full_batch")
    assert batch.baseline == pytest.approx(300_000 / 305, rel=0.01) and batch.candidate is None
    assert batch.better is None and batch.comparison is None
    assert batch.method == "the candidate fails 40 % of records: it would not finish the batch"
