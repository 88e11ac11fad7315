"""The gate's decision and configuration, pure (hand-made numbers, no processes)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from profiler.analysis.compare import Side
from profiler.errors import ConfigError
from profiler.results import Environment, Results, Trial, WorkloadInfo
from profiler.review.config import load_thresholds
from profiler.review.decision import Thresholds, evaluate, parse_config, side_from_results
from profiler.review.outputs import gate_junit, gate_markdown
from profiler.stats import compare


def side(label="baseline", rps=(100.0, 101.0, 99.0, 100.5, 99.5), cpu=(0.001,) * 5, conns=4,
         lag=None, rss=50 * 2**20, errors=0, model="threads", n=4) -> Side:
    return Side(label, model, n, list(rps), list(cpu), conns, lag, rss, errors, 500)


def test_identical_sides_pass():
    out = evaluate(side(), side("candidate"), Thresholds())
    assert out.passed
    assert [c.name for c in out.checks] == ["slowdown"]


def test_thirty_percent_slower_fails_the_slowdown_check():
    slow = side("candidate", rps=[r / 1.3 for r in (100.0, 101.0, 99.0, 100.5, 99.5)])
    out = evaluate(side(), slow, Thresholds())
    assert not out.passed
    assert out.failed_checks[0].name == "slowdown"
    assert out.failed_checks[0].delta == "−23.1 %"


def test_slowdown_past_threshold_but_inside_the_noise_passes_and_says_so():
    noisy_base = side(rps=(100.0, 70.0, 130.0, 95.0, 105.0))
    cand = side("candidate", rps=(93.0, 65.0, 120.0, 88.0, 97.0))  # ~7 % slower on average
    out = evaluate(noisy_base, cand, Thresholds())
    assert out.passed
    assert "within noise" in out.checks[0].note


def test_single_repeat_is_judged_on_the_point_estimate_and_says_noise_unknown():
    out = evaluate(side(rps=(100.0,)), side("candidate", rps=(90.0,)), Thresholds())
    assert not out.passed
    assert "noise unknown" in out.checks[0].note


def test_min_speedup_fails_a_rewrite_that_is_not_fast_enough():
    faster = side("candidate", rps=[r * 1.1 for r in (100.0, 101.0, 99.0, 100.5, 99.5)])
    assert not evaluate(side(), faster, Thresholds(min_speedup=1.2)).passed
    assert evaluate(side(), faster, Thresholds(min_speedup=1.05)).passed


def test_connection_checks_fail_the_naive_rewrite():
    naive = side("candidate", conns=400, model="asyncio", n=0)
    out = evaluate(side(conns=8), naive, Thresholds(max_connections=100, max_connections_increase=1.0))
    assert {c.name for c in out.failed_checks} == {"connections", "connections_increase"}


def test_cpu_increase_beyond_noise_fails():
    heavy = side("candidate", cpu=(0.0016, 0.0015, 0.0017, 0.0016, 0.0015))
    out = evaluate(side(), heavy, Thresholds(max_cpu_increase=0.2))
    assert [c.name for c in out.failed_checks] == ["cpu"]


def test_loop_lag_and_rss_limits():
    cand = side("candidate", lag=250.0, rss=200 * 2**20)
    out = evaluate(side(), cand, Thresholds(max_loop_lag_p99_ms=100, max_rss_increase=0.5))
    assert {c.name for c in out.failed_checks} == {"loop_lag", "rss"}


def test_candidate_errors_always_fail():
    out = evaluate(side(), side("candidate", errors=3), Thresholds())
    assert [c.name for c in out.failed_checks] == ["errors"]


def test_the_ratio_interval_is_deterministic_and_contains_the_ratio():
    a, b = [100.0, 98.0, 103.0], [90.0, 91.0, 89.0]
    judged = compare(a, b)
    assert judged == compare(a, b)
    assert judged.low <= sum(b) / sum(a) <= judged.high
    assert judged.significant
    assert not compare([1.0], b).measured


def test_pyproject_config_is_read_and_flags_win(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.concur.gate]\nmax_slowdown = 0.1\nmax_connections = 20\n")
    th, source = load_thresholds({"max_connections": 50}, search_from=tmp_path)
    assert th.max_slowdown == 0.1 and th.max_connections == 50
    assert "pyproject.toml" in source and "flags" in source


@pytest.mark.parametrize("body,needle", [
    ("max_slowness = 0.1", "unknown key 'max_slowness'"),
    ("max_slowdown = 'five'", "must be a number"),
    ("max_slowdown = -1", "must be ≥ 0"),
    ("max_connections = 2.5", "whole number"),
    ("max_slowdown = [", "invalid TOML"),
])
def test_bad_gate_config_is_a_config_error(tmp_path, body, needle):
    path = tmp_path / "pyproject.toml"
    path.write_text(f"[tool.concur.gate]\n{body}\n")
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[")):
        load_thresholds({}, config=path)


def test_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_thresholds({}, config=tmp_path / "nope.toml")


def test_pinned_config_parsing():
    assert parse_config("threads:16") == ("threads", 16)
    assert parse_config(None) is None
    with pytest.raises(ConfigError):
        parse_config("threads16")


def test_side_from_results_takes_the_best_error_free_config():
    r = Results(WorkloadInfo("w", "w.py:h", 100), Environment("3.11", "CPython", 2, True, "Linux"))
    r.trials += [Trial("threads", 4, i, 100, 0, 1.0, 100.0 + i) for i in range(3)]
    r.trials += [Trial("threads", 8, 0, 100, 5, 1.0, 200.0)]  # faster but erroring
    r.trials += [Trial("asyncio", 16, 0, 100, 0, 1.0, 90.0, connections_peak=3, db_connections_peak=16)]
    s = side_from_results("baseline", r, None)
    assert (s.model, s.concurrency, s.repeats) == ("threads", 4, 3)
    pinned = side_from_results("baseline", r, ("asyncio", 16))
    assert pinned.connections_peak == 16  # the server-side count when it is the larger


def test_junit_has_one_testcase_per_check_and_failures_marked():
    out = evaluate(side(conns=8), side("candidate", conns=400, rps=(50.0, 51.0, 49.0)),
                   Thresholds(max_connections=100))
    root = ET.fromstring(gate_junit(out))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    cases = suites[0].findall("testcase")
    assert [c.get("name") for c in cases] == [c.name for c in out.checks]
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == ["slowdown", "connections"]
    assert suites[0].get("failures") == "2" and suites[0].get("tests") == str(len(cases))
    for case in cases:
        assert case.get("classname") and case.get("time") is not None
        for f in case.findall("failure"):
            assert f.get("message") and f.get("type")


def test_markdown_lists_every_check_with_its_numbers():
    out = evaluate(side(), side("candidate", rps=(70.0, 71.0, 69.0)), Thresholds())
    md = gate_markdown(out)
    assert "concur gate failed" in md
    assert "| slowdown | **FAIL** | 100 records/s | 70 records/s |" in md
