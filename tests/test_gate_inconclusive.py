"""A climb that stopped while still gaining leaves the gate's throughput verdict open:
"inconclusive" (exit 5), said in every output, unless the answer cannot change (issue 22).
Pure: hand-made trials (`tests.factory`), the decision as the gate makes it."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from profiler import cli
from profiler.cli_exit import EXIT_INCONCLUSIVE
from profiler.review.decision import Thresholds, Unfinished, judge
from profiler.review.outputs import gate_json, gate_junit, gate_markdown
from tests.conftest import TESTS, run_cli, target
from tests.factory import make_results, repeats

SAME = [1000.0, 1040.0, 960.0, 1010.0, 990.0]


def run(model, n, throughputs):
    return make_results(*repeats(model, n, throughputs))


def test_a_side_still_gaining_and_no_difference_beyond_noise_is_inconclusive():
    out = judge(run("threads", 8, SAME), run("threads", 8, [995.0, 1030.0, 970.0, 1005.0, 1000.0]),
                Thresholds(), unfinished=(Unfinished("baseline", "threads×8"),))
    assert out.status == "inconclusive" and not out.passed
    assert "baseline still gaining at threads×8: raise --budget" in out.verdict()
    assert out.verdict().startswith("gate INCONCLUSIVE")
    assert out.checks[0].note.startswith("provisional: baseline still gaining")


def test_every_output_says_inconclusive():
    out = judge(run("threads", 8, SAME), run("threads", 8, SAME), Thresholds(),
                unfinished=(Unfinished("baseline", "threads×8"), Unfinished("candidate", "threads×8")))
    data = json.loads(gate_json(out))
    assert data["status"] == "inconclusive" and data["passed"] is False
    assert [u["sentence"] for u in data["unfinished"]] == [
        "baseline still gaining at threads×8: raise --budget",
        "candidate still gaining at threads×8: raise --budget"]
    assert "⚠️ concur gate inconclusive" in gate_markdown(out)
    assert "| slowdown | **open** |" in gate_markdown(out)
    suite = ET.fromstring(gate_junit(out).split("\n", 1)[1]).find("testsuite")
    assert suite.get("skipped") == "1" and suite.get("failures") == "0"
    assert suite.find("testcase/skipped").get("message").startswith("inconclusive: provisional")


def test_a_difference_beyond_noise_at_a_configuration_both_ran_decides_despite_unfinished_climbs():
    out = judge(run("threads", 8, SAME), run("threads", 8, [x / 3 for x in SAME]), Thresholds(),
                unfinished=(Unfinished("baseline", "threads×8"), Unfinished("candidate", "threads×8")))
    assert out.status == "failed"
    assert any("beyond noise at threads×8, which both sides ran" in n for n in out.notes)


def test_a_candidate_already_slower_than_a_baseline_still_gaining_fails():
    # No configuration in common: only the direction of the unfinished side can settle it.
    out = judge(run("threads", 8, SAME), run("asyncio", 8, [x / 2 for x in SAME]), Thresholds(),
                unfinished=(Unfinished("baseline", "threads×8"),))
    assert out.status == "failed"
    assert any("could only widen the gap" in n for n in out.notes)


def test_a_candidate_still_gaining_that_already_passes_passes():
    out = judge(run("threads", 8, SAME), run("asyncio", 8, [x * 1.5 for x in SAME]), Thresholds(),
                unfinished=(Unfinished("candidate", "asyncio×8"),))
    assert out.status == "passed"


def test_a_candidate_still_gaining_that_trails_is_inconclusive():
    out = judge(run("threads", 8, SAME), run("asyncio", 8, [x / 2 for x in SAME]), Thresholds(),
                unfinished=(Unfinished("candidate", "asyncio×8"),))
    assert out.status == "inconclusive"


def test_a_check_that_does_not_depend_on_the_climb_fails_whatever_the_climbs():
    out = judge(run("threads", 8, SAME), make_results(*repeats("threads", 8, SAME, connections_peak=40)),
                Thresholds(max_connections=10), unfinished=(Unfinished("candidate", "threads×8"),))
    assert out.status == "failed"


def test_concur_gate_exits_5_when_inconclusive(monkeypatch, capsys, tmp_path):
    """The CLI maps the outcome to its exit code (the outcome itself is pinned above; an
    unfinished climb cannot be produced on demand by real trials)."""
    out = judge(run("threads", 8, SAME), run("threads", 8, SAME), Thresholds(),
                unfinished=(Unfinished("baseline", "threads×8"),))
    monkeypatch.setattr(cli.api, "run_gate", lambda *a, **k: out)
    monkeypatch.chdir(tmp_path)
    code = cli.main(["gate", "--baseline", "a.py:f", "--candidate", "b.py:f", "--no-report", "-q"])
    assert code == EXIT_INCONCLUSIVE == 5
    printed = capsys.readouterr().out
    assert "gate INCONCLUSIVE" in printed and "│ open" in printed


def test_exit_code_5_is_documented_in_the_readme_and_the_help(capsys):
    readme = " ".join((TESTS.parent / "README.md").read_text().split())
    assert "5 inconclusive" in readme
    assert cli.main(["gate", "--help"]) == 0
    assert "5 inconclusive" in " ".join(capsys.readouterr().out.replace("│", " ").split())


@pytest.mark.slow
def test_climbs_cut_short_by_a_small_budget_make_a_real_gate_inconclusive(tmp_path):
    """A thread pool against an async rewrite (no configuration in common) with a budget far
    too small for either climb to finish: exit 5, said in the JSON, never a pass or a fail."""
    out = tmp_path / "gate.json"
    proc = run_cli("gate", "--baseline", target("sleep_10ms"), "--candidate", target("async_sleep_10ms"),
                   "--budget", "12", "--repeat", "2", "--no-report", "--json", str(out), cwd=tmp_path)
    assert proc.returncode == 5, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
    assert data["status"] == "inconclusive"
    assert {u["label"] for u in data["unfinished"]} == {"baseline", "candidate"}
    assert "gate INCONCLUSIVE" in proc.stdout and "raise --budget" in proc.stdout
