"""Bad input gets one line on stderr and exit 2, never a traceback (issue 3)."""

from __future__ import annotations

import pytest

from tests.conftest import CORE, run_cli


def assert_one_line_error(proc, *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_missing_target_file(tmp_path):
    assert_one_line_error(run_cli("run", str(tmp_path / "nope.py"), "--no-report"), "not found", "nope.py")


def test_missing_attribute_lists_what_the_file_defines():
    proc = run_cli("run", f"{CORE}:no_such_thing", "--no-report")
    assert_one_line_error(proc, "no_such_thing", "sleep_10ms", "cpu_3ms")


def test_file_without_default_attribute_lists_callables(tmp_path):
    f = tmp_path / "jobs.py"
    f.write_text("def work(r):\n    return r\n")
    assert_one_line_error(run_cli("run", str(f), "--no-report"), "workload", "work")


def test_target_that_is_not_callable(tmp_path):
    f = tmp_path / "jobs.py"
    f.write_text("workload = 42\n")
    assert_one_line_error(run_cli("run", f"{f}:workload", "--no-report"), "not a function")


def test_syntax_error_in_target(tmp_path):
    f = tmp_path / "broken.py"
    f.write_text("def handle(r):\n    return (\n")
    assert_one_line_error(run_cli("run", f"{f}:handle", "--no-report"), "syntax error", "broken.py")


def test_target_raising_at_import(tmp_path):
    f = tmp_path / "boom.py"
    f.write_text("raise RuntimeError('no config')\n")
    assert_one_line_error(run_cli("run", f"{f}:handle", "--no-report"), "RuntimeError", "no config")


def test_unknown_model():
    assert_one_line_error(run_cli("run", f"{CORE}:sleep_10ms", "--models", "threads,fibers", "--no-report"),
                          "unknown model", "fibers")


def test_concurrency_zero_for_threads():
    assert_one_line_error(run_cli("run", f"{CORE}:sleep_10ms", "--models", "threads", "--concurrency", "0",
                                  "--no-report"), "threads", "0")


def test_non_numeric_concurrency():
    assert_one_line_error(run_cli("run", f"{CORE}:sleep_10ms", "--concurrency", "lots", "--no-report"),
                          "--concurrency")


@pytest.mark.parametrize("content,suffix,needle", [
    (None, ".csv", "not found"),
    ("a,b\n1,2\n", ".xlsx", "unknown format"),
    ("\x00\x01garbage", ".parquet", "cannot read"),
])
def test_unreadable_input(tmp_path, content, suffix, needle):
    f = tmp_path / f"rows{suffix}"
    if content is not None:
        f.write_text(content)
    assert_one_line_error(run_cli("run", f"{CORE}:sleep_10ms", "--input", str(f), "--no-report"), needle)


def test_report_of_a_foreign_file(tmp_path):
    f = tmp_path / "results.json"
    f.write_text('{"hello": "world"}')
    assert_one_line_error(run_cli("report", str(f)), "not a concur results file")


def test_report_of_another_schema_version(tmp_path):
    f = tmp_path / "results.json"
    f.write_text('{"schema_version": 99, "tool": {"name": "concur"}}')
    assert_one_line_error(run_cli("report", str(f)), "schema_version 99")


def test_help_explains_the_run_command():
    proc = run_cli("run", "--help")
    assert proc.returncode == 0
    for flag in ("--models", "--concurrency", "--records", "--budget", "--timeout", "--json", "--quiet"):
        assert flag in proc.stdout


@pytest.mark.parametrize(("args", "needle"), [
    (("run",), "Missing argument 'TARGET'"),
    (("run", f"{CORE}:sleep_10ms", "--no-such-flag"), "--no-such-flag"),
    (("nosuchcommand",), "nosuchcommand"),
])
def test_usage_errors_are_one_line_with_where_to_look(args, needle):
    proc = run_cli(*args)
    assert_one_line_error(proc, needle, "--help")
