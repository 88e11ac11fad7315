"""The HTML report and summary.md, rendered from hand-made Results (no workload runs)."""

from __future__ import annotations

import re

import pytest

from profiler import format as fmt
from profiler.analysis.standings import table
from profiler.errors import ResultsError
from profiler.report.html import render_report, render_template
from profiler.report.markdown import summary_markdown
from profiler.report.plots import PLOTS
from profiler.report.views import build_report
from profiler.results import Results, load_results
from tests.report_fixtures import RECOMMENDED_SENTENCE, Page, is_local_reference, make_results


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    results = make_results()
    index = render_report(results, out)
    return results, out, index.read_text(encoding="utf-8")


def test_render_report_writes_index_plots_results_and_summary(full_report):
    _, out, _ = full_report
    for name in ("index.html", "results.json", "summary.md"):
        assert (out / name).is_file()
    assert {p.name for p in out.glob("*.png")} == {f"{spec.key}.png" for spec in PLOTS}
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "a temp file was left behind"


def test_verdict_sentence_comes_before_the_plots(full_report):
    _, _, html = full_report
    text = Page(html).text
    assert RECOMMENDED_SENTENCE in text
    assert text.index(RECOMMENDED_SENTENCE) < text.index("Plots")
    for number in ("io-bound", "threads × 8", "320 records/s", "6.4×", "15 min 38 s"):
        assert number in text.split("Plots")[0]


def test_warnings_are_the_analysis_warnings_when_there_is_a_verdict(full_report):
    text = Page(full_report[2]).text
    assert "asyncio × unbounded opened 400 connections" in text
    assert "trials did not finish (" not in text  # the analysis words crashes itself


def test_without_a_verdict_the_report_warns_about_crashes_and_errors():
    html = render_template("index.html.j2", report=build_report(make_results(verdict=False), ()))
    text = Page(html).text
    assert "2 of 13 trials did not finish (crashed, timeout)" in text
    assert "3 records raised an error" in text


def test_an_interrupted_run_says_so():
    results = make_results()
    results.interrupted = True
    html = render_template("index.html.j2", report=build_report(results, ()))
    assert "The run was interrupted" in Page(html).text


def test_every_plot_is_shown_and_its_png_exists(full_report):
    """Each plot is an <img> of its PNG, but throughput, drawn as inline SVG, links its PNG."""
    _, out, html = full_report
    page = Page(html)
    shown = page.imgs + [value for tag, _, value in page.links if tag == "a"]
    for spec in PLOTS:
        assert f"{spec.key}.png" in shown
        assert (out / f"{spec.key}.png").is_file()
    assert "throughput.png" not in page.imgs and 'class="chart chart-wide"' in html


def test_trial_table_has_one_row_per_trial(full_report):
    results, _, html = full_report
    assert Page(html).rows["trials"] == len(results.trials)


def test_trial_table_shows_status_unbounded_and_na(full_report):
    text = Page(full_report[2]).text
    assert "crashed" in text and "timeout" in text and "worker process died (signal 11)" in text
    assert "unbounded" in text
    assert "n/a" in text  # the crashed trial has no CPU measurement
    assert "TimeoutError ×3: pool exhausted" in text


def test_environment_and_reproduce_command_are_shown(full_report):
    text = Page(full_report[2]).text
    assert "CPython 3.11.9" in text and "GIL enabled" in text
    assert "concur run scenarios/db_batch.py --total 300000 --repeat 3" in text


def test_skipped_models_and_sweep_log_are_shown(full_report):
    page = Page(full_report[2])
    assert "dask is not installed" in page.text
    assert page.rows["sweep-log"] == 3 and page.rows["skipped"] == 1


def test_every_reference_is_local(full_report):
    links = Page(full_report[2]).links
    assert links, "expected images and in-page links"
    assert [v for _, _, v in links if not is_local_reference(v)] == []
    assert "@import" not in full_report[2] and "url(" not in full_report[2]


def test_results_json_beside_the_report_round_trips(full_report):
    results, out, _ = full_report
    assert load_results(out / "results.json").to_dict() == results.to_dict()


def test_results_without_verdict_render_and_say_so(tmp_path):
    results = make_results(verdict=False, samples=False)
    html = render_report(results, tmp_path).read_text(encoding="utf-8")
    page = Page(html)
    assert "No verdict computed: fastest measured configuration threads×16" in page.text
    assert page.rows["trials"] == len(results.trials)
    assert "CPU and connections over time: not drawn, no samples were recorded" in page.text
    assert not (tmp_path / "timeseries.png").exists()


def test_rerender_removes_a_plot_that_no_longer_has_data(tmp_path):
    render_report(make_results(), tmp_path)
    assert (tmp_path / "timeseries.png").exists()
    render_report(make_results(samples=False), tmp_path)
    assert not (tmp_path / "timeseries.png").exists()


def test_results_with_no_trials_render_every_plot_as_a_note(tmp_path):
    results = make_results(verdict=False)
    results.trials, results.samples = [], []
    table(results)
    page = Page(render_report(results, tmp_path).read_text(encoding="utf-8"))
    assert page.imgs == []
    assert page.text.count("not drawn") == len(PLOTS)
    assert "no trials were run" in page.text


@pytest.mark.parametrize("sections", [
    {"classification": {"label": "io-bound"}},
    {"recommendation": {"model": None, "concurrency": None, "throughput_rps": None, "speedup": None,
                        "keep_sequential": False, "sentence": ""}, "scaling": {}},
    {"recommendation": {"keep_sequential": True, "model": "sequential", "concurrency": 1,
                        "throughput_rps": 50.0, "speedup": 1.0, "sentence": "keep it sequential",
                        "excluded": [{"model": "asyncio", "concurrency": 0, "reason": ""}]}},
    {"predictions": {"total_records": 300000, "confidence": 0.95,
                     "rows": [{"model": "threads", "concurrency": 8, "wall_s": None, "low_s": None,
                               "high_s": None, "throughput_rps": 0.0, "repeats": 1, "recommended": True}]}},
    {"scaling": {"threads": {"status": "ok", "lambda_rps": 50.0, "sigma": None, "kappa": 0.1}}},
])
def test_minimal_verdict_sections_load_and_render(sections):
    """Sections as a file may hold them, every optional field left out: they render, n/a."""
    results = Results.from_dict({**make_results(verdict=False).to_dict(), **sections})
    # The template and view models only: plots of partial sections are in test_report_plots.
    html = render_template("index.html.j2", report=build_report(results, plots=()))
    assert Page(html).rows["trials"] == len(results.trials)
    assert "None" not in Page(html).text


@pytest.mark.parametrize(("sections", "where"), [
    ({"classification": {"label": None}}, "classification.label: expected text, got null"),
    ({"recommendation": {"model": "threads"}}, "recommendation: missing field 'concurrency'"),
    ({"scaling": {"threads": None}}, "scaling.threads: expected an object, got null"),
    ({"predictions": {"rows": [{}]}}, "predictions: missing field 'total_records'"),
])
def test_malformed_verdict_sections_are_one_error_naming_the_field(sections, where):
    with pytest.raises(ResultsError, match=re.escape(where)):
        Results.from_dict({**make_results(verdict=False).to_dict(), **sections})


def test_user_text_is_escaped():
    results = make_results()
    results.workload.name = "<script>alert(1)</script>"
    results.recommendation.sentence = "use <b>threads</b> & smile"
    html = render_template("index.html.j2", report=build_report(results, plots=()))
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "Use &lt;b&gt;threads&lt;/b&gt; &amp; smile" in html


def test_summary_markdown_has_verdict_top5_and_warnings():
    md = summary_markdown(make_results())
    assert f"**Verdict:** {RECOMMENDED_SENTENCE}" in md
    table = [line for line in md.splitlines() if line.startswith("| ") and "records/s" in line
             and "×" in line.split("|")[3]]
    assert len(table) == 5
    assert "**threads×8** (recommended)" in md
    assert "- asyncio × unbounded opened 400 connections (threads × 8: 8)" in md
    assert len(md.splitlines()) < 40


def test_renders_the_verdict_profiler_analysis_computes(tmp_path):
    """The real verdict dicts, not hand-made ones: catches a drift between their shapes."""
    from profiler.analysis import analyse

    results = analyse(make_results(verdict=False), total_records=300000)
    page = Page(render_report(results, tmp_path).read_text(encoding="utf-8"))
    sentence = results.recommendation.sentence
    assert sentence[:1].upper() + sentence[1:] in page.text  # the headline starts capitalised
    assert page.rows["trials"] == len(results.trials) and page.rows["scaling"] >= 1
    assert {f"{spec.key}.png" for spec in PLOTS} - {"throughput.png"} == set(page.imgs)
    md = summary_markdown(results)
    assert md.count("\n- ") <= 7 and "more in the HTML report" in md


def test_summary_markdown_without_verdict():
    md = summary_markdown(make_results(verdict=False))
    assert "No verdict computed" in md and "Top 5 configurations" in md


@pytest.mark.parametrize(("func", "value", "text"), [
    (fmt.rps, 1234.4, "1,234 records/s"),
    (fmt.rps, 12.345, "12 records/s"),
    (fmt.rps, 2.4567, "2.46 records/s"),
    (fmt.cores, 1.956, "1.96 cores"),
    (fmt.mib, 42 * 1024 * 1024, "42 MiB"),
    (fmt.ms, 0.4213, "0.42 ms"),

    (fmt.duration, 937.5, "15 min 38 s"),
    (fmt.duration, 7380.0, "2 h 03 min"),
    (fmt.concurrency, 0, "unbounded"),
    (fmt.signed_pct, -0.04, "−4.0 %"),
    (fmt.ms, None, "n/a"),
    (fmt.rps, float("nan"), "n/a"),
])
def test_numbers_are_formatted_with_units(func, value, text):
    assert func(value) == text


def test_configurations_are_spelled_one_way():
    assert fmt.config("threads", 16) == "threads×16"
    assert fmt.config("asyncio", 0) == "asyncio×unbounded"
    assert fmt.config("sequential", 1) == "sequential"
