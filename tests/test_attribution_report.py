"""The "Why it is slow" section (issue 8): rendered from `Results.attribution` only, with
hand-made entries; absent when the run had no attribution; missing numbers read n/a."""

from __future__ import annotations

from pathlib import Path

from profiler.report.html import render_report
from profiler.report.why import attribution_views
from profiler.results import Attribution
from profiler.results.schema import from_data
from tests.report_fixtures import Page, is_local_reference, make_results

THREADS = {
    "model": "threads", "concurrency": 4, "records": 450,
    "gil_share": 0.24, "gil_note": "share of handler-thread samples holding the GIL (py-spy --gil)",
    "gil_wait_share": 0.73, "idle_share": 0.73, "pyspy_cores": 0.11,
    "wait_breakdown": {"running": 0.27, "gil": 0.71, "lock": 0.0, "sleep": 0.0, "io": 0.02}, "loop_internal_share": 0.01, "user_share": 0.98,
    "harness_share": 0.01, "other_share": 0.0,
    "top_cpu": [{"function": "spin", "file": "/w/core.py", "samples": 200, "share": 0.98}],
    "yappi_top": [{"function": "spin", "kind": "user", "file": "/w/core.py", "wall_s": 0.49,
                   "cpu_s": 0.12, "calls": 45}],
    "flamegraph": "attribution-threads-4.svg", "speedscope": "attribution-threads-4.speedscope.json",
    "warnings": [], "notes": [], "throughput_rps": 306.0, "unsampled_throughput_rps": 310.0,
    "decomposition": {"on_cpu": 0.21, "runqueue": 0.12, "waiting": 0.67, "worker_s": 6.5},
}
DEGRADED = {
    "model": "asyncio", "concurrency": 0, "records": 200, "gil_share": None,
    "gil_note": "GIL share unavailable: py-spy is not available", "idle_share": None,
    "loop_internal_share": None, "user_share": None, "harness_share": None, "top_cpu": [],
    "yappi_top": [], "flamegraph": None, "speedscope": None,
    "warnings": ["py-spy not found at /nowhere/py-spy: no py-spy attribution"],
    "throughput_rps": None, "unsampled_throughput_rps": None,
}


def entry_of(data: dict) -> Attribution:
    """An entry as results.json holds it, read back through the schema."""
    return from_data(Attribution, data, "attribution")


def render(tmp_path: Path, entries: list[dict] | None) -> str:
    results = make_results()
    if entries is not None:  # entries as results.json holds them, read back through the schema
        results.attribution = [entry_of(e) for e in entries]
    tmp_path.mkdir(parents=True, exist_ok=True)
    for entry in entries or []:
        for key in ("flamegraph", "speedscope"):
            if entry.get(key):
                (tmp_path / entry[key]).write_text("{}")
    return render_report(results, tmp_path).read_text()


def test_no_attribution_no_section(tmp_path: Path) -> None:
    html = render(tmp_path, None)
    assert "Why it is slow" not in html and 'id="why-section"' not in html


def test_section_shows_the_numbers_the_finding_and_the_files(tmp_path: Path) -> None:
    html = render(tmp_path, [THREADS])
    assert 'id="why-section"' in html and 'href="#why-section"' in html
    assert "threads×4 (450 records)" in html
    assert "waiting for the GIL" in html and "73 %" in html
    assert "21 / 12 / 67 %" in html  # the decomposition
    assert "306 records/s" in html and "−1.3 % with py-spy" in html and "0.11 cores" in html
    assert "GIL 71 % · I/O 2 %" in html and "running or runnable 27 %" in html
    page = Page(html)
    hrefs = {v for _, attr, v in page.links if attr == "href"}
    assert {"attribution-threads-4.svg", "attribution-threads-4.speedscope.json"} <= hrefs
    assert all(is_local_reference(v) for _, _, v in page.links)
    assert page.rows["why-0-cpu"] == 1 and page.rows["why-0-yappi"] == 1
    assert "spin" in html and "0.490 s" in html
    summary = (tmp_path / "summary.md").read_text()
    assert "**Why it is slow**" in summary and "threads×4 (450 records): The handler threads" in summary


def test_degraded_entry_renders_its_warning_and_na(tmp_path: Path) -> None:
    html = render(tmp_path, [DEGRADED])
    assert "py-spy not found at /nowhere/py-spy" in html
    assert "GIL share unavailable" in html
    assert "n/a" in html
    assert "no on-CPU samples recorded" in html


def test_decomposition_falls_back_to_the_configurations_trials() -> None:
    results = make_results()
    t = next(t for t in results.ok_trials() if t.model == "threads")
    entry = {**THREADS, "model": t.model, "concurrency": t.concurrency, "decomposition": None}
    results.attribution = [entry_of(entry)]
    [view] = attribution_views(results)
    split = next(f for f in view.figures if f.label.startswith("On CPU"))
    assert split.value != "n/a"


def test_rerendering_elsewhere_brings_the_files_along(tmp_path: Path) -> None:
    first, second = tmp_path / "run", tmp_path / "again"
    render(first, [THREADS])
    results = make_results()
    results.attribution = [entry_of(THREADS)]
    html = render_report(results, second, source_dir=first).read_text()
    assert (second / "attribution-threads-4.svg").is_file()
    assert 'href="attribution-threads-4.svg"' in html


def test_a_missing_file_is_a_note_not_a_dead_link(tmp_path: Path) -> None:
    results = make_results()
    results.attribution = [entry_of(THREADS)]  # its files were never written here
    html = render_report(results, tmp_path).read_text()
    assert 'href="attribution-threads-4.svg"' not in html
    assert "is not beside this report" in html
