"""The bad-input battery (issue 14): each case run as a user would, as a real `concur`
process on real files, and held to the same promise: the exit code, one line on stderr,
no traceback, results.json still valid, no process or temp file left, and the password
in no file written (`tests/battery.py`). Signals, orphans and memory are in
`test_bad_input_signals.py`.
"""

from __future__ import annotations

import json

import pytest

from profiler.run.output import claim_folder
from tests.battery import DSN, SECRET, Concur, hostile

GRID = ("--models", "threads", "--concurrency", "2", "--records", "20")


# ---------------------------------------------------------------- flags


@pytest.mark.parametrize(("flags", "needles"), [
    (("--timeout", "nan"), ("--timeout", "positive", "nan")),
    (("--budget", "nan"), ("--budget", "positive", "nan")),
    (("--timeout", "inf"), ("--timeout", "inf")),
    (("--max-rss", "nan"), ("--max-rss", "MiB", "nan")),
    (("--max-rss", "-5"), ("--max-rss", "MiB", "-5")),
    (("--max-loop-lag-ms", "nan"), ("--max-loop-lag-ms", "nan")),
    (("--max-connections", "0"), ("--max-connections", "0")),
    (("--records", "abc"), ("--records", "concur run --help")),
    (("--records", "0"), ("--records", "≥ 1")),
    (("--models", ","), ("--models", "names no model")),
    (("--concurrency", "100000"), ("--concurrency 100000", "no model takes it")),
    (("--concurrency", "lots"), ("--concurrency",)),
], ids=lambda v: " ".join(v) if v and str(v[0]).startswith("--") else "")
def test_a_bad_flag_is_one_line_and_exit_2_before_anything_runs(concur, tmp_path, flags, needles):
    outcome = concur.run(f"run {' '.join(flags)}", tmp_path, "run", hostile("quick"), *flags,
                         "--out", "out")
    outcome.assert_one_line(2, *needles)
    assert not outcome.seen, "nothing may start for a bad flag"
    assert not (tmp_path / "out").exists(), "nor may a folder be made"


@pytest.mark.parametrize("flags", [("--timeout", "nan"), ("--budget", "nan"), ("--records", "0"),
                                   ("--max-slowdown", "nan")])
def test_the_gate_refuses_bad_numbers_the_same_way(concur, tmp_path, flags):
    outcome = concur.run(f"gate {' '.join(flags)}", tmp_path, "gate", "--baseline", hostile("quick"),
                         "--candidate", hostile("quick"), "--baseline-config", "threads:2",
                         "--candidate-config", "threads:2", "--no-report", *flags)
    outcome.assert_one_line(2, flags[0])
    assert not outcome.seen


def test_input_that_is_a_device_is_not_called_missing(concur, tmp_path):
    outcome = concur.run("run --input /dev/null", tmp_path, "run", hostile("quick"), "--input",
                         "/dev/null", "--out", "out")
    outcome.assert_one_line(2, "/dev/null", "not a regular file")


# ---------------------------------------------------------------- targets


@pytest.mark.parametrize("code", [7, 0])
def test_a_target_calling_sys_exit_at_import_is_named_not_obeyed(concur, tmp_path, code):
    target = tmp_path / "target.py"
    target.write_text(f"import sys\nsys.exit({code})\ndef handle(r):\n    pass\n")
    outcome = concur.run(f"run (sys.exit({code}) at import)", tmp_path, "run", f"{target}:handle",
                         "--out", "out")
    outcome.assert_one_line(2, f"sys.exit({code})", "__main__")


def test_an_error_quoting_the_dsn_at_import_is_printed_without_the_password(concur, tmp_path):
    target = tmp_path / "target.py"
    target.write_text("import os\nraise ConnectionError('cannot reach ' + os.environ['CONCUR_DSN'])\n")
    outcome = concur.run("run (import error quotes the DSN)", tmp_path, "run", f"{target}:handle",
                         "--dsn", DSN, "--out", "out")
    outcome.assert_one_line(2, "cannot reach postgresql://postgres:***@127.0.0.1")


# ---------------------------------------------------------------- output paths


@pytest.mark.parametrize(("case", "flag", "value", "needles"), [
    ("--out is a file", "--out", "target.py", ("is a file, not a folder",)),
    ("--out under a file", "--out", "target.py/report", ("target.py is a file",)),
    ("--out under /proc", "--out", "/proc/concur-report", ("/proc/concur-report", "cannot write")),
    ("--json is a folder", "--json", ".", ("is a folder",)),
    ("--json under /proc", "--json", "/proc/results.json", ("/proc/results.json", "cannot write")),
])
def test_an_unwritable_output_is_refused_before_the_first_trial(concur, tmp_path, case, flag, value,
                                                                needles):
    (tmp_path / "target.py").write_text("def handle(r):\n    pass\n")
    args = ("--out", "out") if flag != "--out" else ()
    outcome = concur.run(case, tmp_path, "run", hostile("quick"), *GRID, flag, value, *args)
    outcome.assert_one_line(2, flag, *needles)
    assert not outcome.seen, "no trial may run before the outputs are known to be writable"


def test_a_folder_in_use_by_another_run_is_refused(concur, tmp_path):
    with claim_folder(tmp_path / "out"):  # as a concurrent run holds it
        outcome = concur.run("--out in use by another run", tmp_path, "run", hostile("quick"), *GRID,
                             "--out", "out")
    outcome.assert_one_line(2, "in use by another concur run", "pid")
    assert not outcome.seen


def test_the_gate_checks_its_files_before_measuring(concur, tmp_path):
    outcome = concur.run("gate --junit under /proc", tmp_path, "gate", "--baseline", hostile("quick"),
                         "--candidate", hostile("quick"), "--baseline-config", "threads:2",
                         "--candidate-config", "threads:2", "--junit", "/proc/gate.xml", "--no-report")
    outcome.assert_one_line(2, "--junit", "/proc/gate.xml")
    assert not outcome.seen


# ---------------------------------------------------------------- files handed to `concur report`


def _valid_results(concur: Concur, tmp_path) -> dict:
    outcome = concur.run("run (a small valid run)", tmp_path / "source", "run", hostile("quick"),
                         *GRID, "--out", "out", "--no-report", "-q")
    assert outcome.code == 0, outcome.stderr
    return json.loads((tmp_path / "source" / "out" / "results.json").read_text())


@pytest.fixture(scope="module")
def valid_results(concur, tmp_path_factory):
    return _valid_results(concur, tmp_path_factory.mktemp("valid"))


def _spoil(data: dict, how: str) -> str:
    spoiled = json.loads(json.dumps(data))
    if how == "trials of the wrong type":
        spoiled["trials"] = [1, 2]
    elif how == "a field of the wrong type":
        spoiled["trials"][0]["wall_s"] = "fast"
    elif how == "a negative count":
        spoiled["trials"][0]["records"] = -20
    elif how == "ragged samples":
        spoiled["samples"] = [{"trial": 0, "t_s": [0.1, 0.2], "cpu_util": [1.0]}]
    elif how == "a NaN literal":
        return json.dumps(spoiled).replace('"wall_s": ', '"wall_s": NaN, "was": ', 1)
    return json.dumps(spoiled)


@pytest.mark.parametrize(("how", "needle"), [
    ("binary garbage", "not a concur results file"),
    ("trials of the wrong type", "trials[0]"),
    ("a field of the wrong type", "trials[0].wall_s"),
    ("a negative count", "trials[0].records"),
    ("ragged samples", "samples[0]"),
    ("a NaN literal", "NaN"),
])
def test_report_on_a_bad_file_is_one_line_and_writes_nothing(concur, tmp_path, valid_results, how,
                                                              needle):
    bad = tmp_path / "garbage.json"
    if how == "binary garbage":
        bad.write_bytes(bytes(range(256)) * 8)
    else:
        bad.write_text(_spoil(valid_results, how))
    outcome = concur.run(f"report on {how}", tmp_path, "report", str(bad), "--out", "out")
    outcome.assert_one_line(2, needle)
    assert not (tmp_path / "out").exists(), "no partial report"


# ---------------------------------------------------------------- what is written


def test_the_password_of_a_dsn_is_in_no_file_and_no_output(concur, tmp_path):
    outcome = concur.run("run --dsn with a password", tmp_path, "run", hostile("fails_with_its_dsn"),
                         *GRID, "--dsn", DSN, "--out", "out")
    assert outcome.code == 0, outcome.stderr
    outcome.assert_clean()  # greps every file written, stdout and stderr for the password
    results = outcome.results()
    assert "postgres:***@127.0.0.1" in results.command
    assert "postgres:***@127.0.0.1" in results.trials[0].error_messages["ConnectionError"][0]
    for name in ("index.html", "summary.md"):
        assert "postgres:***@127.0.0.1" in (tmp_path / "out" / name).read_text()


def test_a_key_value_dsn_password_is_redacted_too(concur, tmp_path):
    dsn = f"host=127.0.0.1 user=postgres password={SECRET} dbname=test"
    outcome = concur.run("run --dsn key=value with a password", tmp_path, "run",
                         hostile("fails_with_its_dsn"), *GRID, "--dsn", dsn, "--out", "out",
                         "--no-report")
    assert outcome.code == 0, outcome.stderr
    outcome.assert_clean()
    assert "password=***" in outcome.results().command


def test_gate_outputs_never_hold_the_password(concur, tmp_path):
    outcome = concur.run("gate, a side failing with its DSN", tmp_path, "gate",
                         "--baseline", hostile("quick"), "--candidate", hostile("fails_with_its_dsn"),
                         "--baseline-config", "threads:2", "--candidate-config", "threads:2",
                         "--repeat", "1", "--records", "20", "--markdown", "out/gate.md",
                         "--junit", "out/gate.xml", "--json", "out/gate.json", "--no-report", "-q",
                         env={"CONCUR_DSN": DSN})
    assert outcome.code in (0, 1), outcome.stderr  # the errors may or may not fail a check
    outcome.assert_clean()  # the run's own report is the same redaction: see the cases above
    assert all((tmp_path / "out" / name).is_file() for name in ("gate.md", "gate.xml", "gate.json"))


def test_a_hostile_name_stays_text_and_a_closed_stdout_still_gets_a_report(concur, tmp_path):
    """`concur run … | head -1` on a workload named like markup: the run goes on after its
    reader leaves, and summary.md and index.html show the name as text."""
    outcome = concur.run("run | head -1, workload named <script>", tmp_path, "run",
                         hostile("markup_name"), *GRID, "--out", "out", stdout_pipe_closed=True)
    assert outcome.code == 0, outcome.stderr
    outcome.assert_clean()
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "<script>" not in md and "&lt;script&gt;alert(1)&lt;/script&gt; \\*bold\\*" in md
    assert "<script>alert" not in (tmp_path / "out" / "index.html").read_text()


# ---------------------------------------------------------------- handlers that misbehave


@pytest.mark.parametrize(("model", "handler", "kind"), [
    ("threads", "exits_in_handler", "SystemExit"),
    ("asyncio-threads", "exits_in_handler", "SystemExit"),
    ("processes", "interrupts_in_handler", "KeyboardInterrupt"),
])
def test_a_handler_raising_a_base_exception_counts_as_errors(concur, tmp_path, model, handler, kind):
    outcome = concur.run(f"run {model}, handler raises {kind}", tmp_path, "run", hostile(handler),
                         "--models", model, "--concurrency", "2", "--records", "20", "--out", "out",
                         "--no-report", "-q")
    assert outcome.code == 0, outcome.stderr  # records 0 and 1 succeed
    assert outcome.stderr == "", outcome.stderr  # no thread traceback
    outcome.assert_clean()
    trial = outcome.results().trials[0]
    assert trial.ok and trial.errors == 18 and trial.errors_by_type == {kind: 18}
    assert trial.throughput_rps == pytest.approx(2 / trial.wall_s)


def test_a_failing_teardown_is_recorded(concur, tmp_path):
    outcome = concur.run("run, teardown raises", tmp_path, "run", hostile("teardown_fails"), *GRID,
                         "--out", "out", "--no-report")
    assert outcome.code == 0, outcome.stderr
    outcome.assert_clean()
    trial = outcome.results().trials[0]
    assert trial.ok and trial.errors == 0
    assert trial.model_metrics["teardown_errors"] == ["ValueError: teardown: connection already closed"]
    assert "after the records of threads×2: ValueError: teardown" in outcome.stdout


def test_a_gate_side_failing_every_trial_exits_3(concur, tmp_path, valid_results):
    failed = concur.run("run (every record fails)", tmp_path / "failed", "run", hostile("always_fails"),
                        *GRID, "--out", "out", "--no-report", "-q")
    failed.assert_one_line(3, "failed in every trial")
    ok = tmp_path / "results-in.json"
    ok.write_text(json.dumps(valid_results))
    outcome = concur.run("gate, a results.json side that failed every trial", tmp_path / "gate", "gate",
                         "--baseline", str(ok),
                         "--candidate", str(tmp_path / "failed" / "out" / "results.json"),
                         "--no-report", "-q")
    outcome.assert_one_line(3, "candidate", "nothing to compare")
