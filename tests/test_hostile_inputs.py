"""Issue 24: concur against a hostile user, one class per test. Real processes, real files:
each misbehaviour is the real one (a handler that prints, writes into its pipe, leaves a
thread behind, hangs in teardown; a full disk; a device as a results file), never a mock.

The trial-level cases call `run_trial` (a real trial child, its real workers) with short
limits; the CLI-level cases run `concur` as a user does (`tests/battery.py`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from profiler.analysis import analyse
from profiler.errors import ConfigError, ResultsError
from profiler.measure.session import SilentProgress
from profiler.measure.trial import TrialSpec, run_trial
from profiler.report.markdown import summary_markdown
from profiler.results import Skipped, load_results
from profiler.run.output import claim_folder
from profiler.run.service import run_services
from profiler.workload import ServiceEnv, Workload, iter_input, read_input
from tests.battery import hostile
from tests.factory import make_results, make_trial


def trial(name: str, model: str, n: int, records: int = 20, **kw):
    return run_trial(TrialSpec(hostile(name), model, n, records, **kw)).trial


# ---------------------------------------------------------------- the trial and its child

@pytest.mark.slow
def test_records_that_cannot_be_pickled_after_the_sample_are_errors_naming_them():
    """Records 60+ are lambdas: the sample of 50 passes, and the queue's feeder thread used
    to drop their chunk and leave the trial waiting for its timeout (item 3)."""
    start = time.monotonic()
    t = trial("unpicklable_after_the_sample", "processes", 2, records=100, timeout_s=30)
    assert time.monotonic() - start < 15
    assert t.ok and t.errors == 40, (t.status, t.status_detail)
    assert t.errors_by_type == {"UnpicklableRecord": 40}
    assert t.error_messages["UnpicklableRecord"][0].startswith("record 60 (function) cannot be sent")


@pytest.mark.slow
def test_a_worker_kept_alive_by_a_thread_or_a_child_is_killed_and_named_within_seconds():
    """A handler leaves a non-daemon thread and a child process (which holds the worker's
    sentinel): joining each worker for 30 s used to cost a minute and the trial's window
    (item 8)."""
    start = time.monotonic()
    t = trial("leaves_a_thread_and_a_process", "processes", 2, records=40, timeout_s=20)
    assert t.ok and t.records == 40, (t.status, t.status_detail)
    assert time.monotonic() - start < 10
    said = " ".join(t.model_metrics.get("teardown_errors", []))
    assert "still running 1 s after its teardown" in said and "left a process running" in said, said


@pytest.mark.slow
def test_a_hanging_teardown_keeps_the_finished_window_and_is_named():
    """The records are counted before teardown; a teardown that hangs is killed after its
    limit and said, and the trial stands (item 9)."""
    start = time.monotonic()
    t = trial("hangs_in_teardown", "threads", 2, records=40, timeout_s=5, teardown_limit_s=1.0)
    assert t.ok and t.records == 40 and t.errors == 0 and t.throughput_rps > 0, t.status_detail
    assert time.monotonic() - start < 5
    assert any("teardown did not finish within 1 s" in e for e in t.model_metrics["teardown_errors"])


@pytest.mark.slow
def test_a_setup_slower_than_the_timeout_is_said_as_such_with_the_limit_as_given():
    t = trial("slow_setup", "sequential", 1, timeout_s=1.0)
    assert t.status == "timeout"
    assert t.status_detail.startswith("setup did not finish within 1 s (--timeout)"), t.status_detail


# ---------------------------------------------------------------- concur as a user runs it

@pytest.mark.slow
def test_garbage_in_the_trials_pipe_is_that_trials_crash_and_the_run_goes_on(concur, tmp_path):
    """Under threads the handler writes junk into the socket it inherited (concur's pipe):
    that trial crashed, sequential's is kept, the report is written (item 15)."""
    out = concur.run("junk into the trial's pipe", tmp_path, "run", hostile("writes_into_its_pipe"),
                     "--models", "sequential,threads", "--concurrency", "1,2", "--records", "40",
                     "--out", "out")
    assert out.code == 0, out.stderr
    out.assert_clean()
    trials = {t.label: t for t in out.results().trials}
    assert trials["sequential"].ok and trials["threads×1"].status == "crashed"
    assert "not concur's message" in trials["threads×1"].status_detail
    assert (tmp_path / "out" / "index.html").is_file()


@pytest.mark.slow
def test_a_handler_that_prints_never_reaches_stdout_and_its_failure_comes_first(concur, tmp_path):
    """`--json -` stays JSON while the handler prints (item 4); when every record fails the
    verdict says so first, with the exception, the handler's own file:line and the command
    that runs one record in the foreground, and no CPU figure (issue 25 item 5); the
    trial's last printed lines and traceback frames are kept in the results."""
    out = concur.run("every record fails, the handler prints", tmp_path, "run",
                     hostile("prints_then_fails"), "--models", "sequential,processes",
                     "--concurrency", "1,2", "--records", "30", "--json", "-", "--out", "out")
    assert out.code == 3, out.stderr
    out.assert_clean()
    data = json.loads(out.stdout)  # nothing but the JSON on stdout
    headline = next(line for line in out.lines if line.startswith("Failed:"))
    assert "the handler failed on every record — ValueError: bad record 0" in headline
    assert "hostile.py:" in headline and "in _parse" in headline and "cores" not in headline
    assert "python -m profiler.run.foreground" in headline
    t = data["trials"][0]
    assert t["output_tail"][-2:] == ["handling record 29", "warning from record 29"]
    assert t["error_tracebacks"]["ValueError"][-1].endswith("in _parse")
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "<b>" not in md and "The handler failed on every record" in md
    command = headline.split("traceback: ", 1)[1]
    assert command.split()[:3] == ["python", "-m", "profiler.run.foreground"]
    shown = subprocess.run([sys.executable, *command.split()[1:3], hostile("prints_then_fails")],
                           cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 1 and "in _parse" in shown.stderr and "ValueError" in shown.stderr
    assert "handling record 0" in shown.stdout


@pytest.mark.slow
def test_what_the_target_prints_in_concurs_own_process_stays_off_stdout(concur, tmp_path):
    """Printing at import, in records() and in its service runs in concur's process, not a
    trial's: `--json -` still holds the JSON alone (item 4)."""
    target = f"{Path(hostile('quick').split(':')[0]).parent / 'chatty.py'}:job"
    out = concur.run("a target that prints in concur's process", tmp_path, "run", target, "--models",
                     "sequential", "--concurrency", "1", "--records", "20", "--json", "-", "--no-report")
    assert out.code == 0, out.stderr
    assert json.loads(out.stdout)["trials"][0]["output_tail"][-1] == "chatty: handling 19"
    assert "chatty: imported" in out.stderr


@pytest.mark.slow
def test_square_brackets_in_user_text_reach_the_terminal_as_text(concur, tmp_path):
    """A workload named `etl [/nightly]` whose setup fails with `config [/etc/app.toml]
    unreadable`, written to `--out '[wip] run/[/old]'`: no MarkupError, no lost report,
    every bracket printed as written (item 5)."""
    out = concur.run("brackets in user text", tmp_path, "run", hostile("bracketed"), "--models",
                     "sequential", "--concurrency", "1", "--records", "5", "--out", "[wip] run/[/old]")
    assert out.code == 3, out.stderr
    out.assert_clean()
    assert "config [/etc/app.toml] unreadable" in out.stdout
    assert "etl [/nightly]" in out.stdout
    assert "[wip] run/[/old]/index.html" in out.stdout
    assert (tmp_path / "[wip] run/[/old]" / "index.html").is_file()


def test_an_empty_out_in_a_users_folder_is_refused_and_touches_nothing(concur, tmp_path):
    """`--out ""` (an unset variable) names the current folder, which holds the user's own
    index.html: one line, exit 2, before any trial (item 7)."""
    mine = tmp_path / "index.html"
    mine.write_text("<p>my page</p>")
    out = concur.run("--out ''", tmp_path, "run", hostile("quick"), "--out", "")
    out.assert_one_line(2, "holds files that are not a concur report", "index.html")
    assert mine.read_text() == "<p>my page</p>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html"]


def test_an_output_folder_is_new_empty_or_concurs_and_never_a_link(tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "passwd").write_text("root:x:0:0")
    with pytest.raises(ConfigError, match=r"not a concur report \(passwd\)"), claim_folder(etc):
        pass
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ConfigError, match="is a symbolic link"), claim_folder(link):
        pass
    report = tmp_path / "report"
    report.mkdir()
    (report / "summary.md").write_text("### concur: job\n")
    said: list[str] = []
    with claim_folder(report, say=said.append):
        pass
    assert said == [f"--out {report} holds an earlier concur report: it will be replaced"]
    with claim_folder(tmp_path / "new", say=said.append):
        pass
    assert len(said) == 1


@pytest.mark.slow
def test_fewer_records_than_asked_is_said(concur, tmp_path):
    out = concur.run("records() gives 10 of 50", tmp_path, "run", hostile("few_records"), "--models",
                     "sequential", "--concurrency", "1", "--records", "50", "--out", "out")
    assert out.code == 0, out.stderr
    assert "only 10 records exist (a trial asked for 50)" in out.stderr
    assert any(e.event == "records" for e in out.results().sweep_log)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1) for a private tmpfs")
def test_a_full_disk_is_one_line_naming_the_folder_and_the_results_are_kept(tmp_path):
    """--out on a 4 KiB tmpfs (a mount namespace of this test's own): not even results.json
    fits. One line naming the folder, exit 2, no traceback, the results saved in the temp
    folder and that said (item 11)."""
    full, spare = tmp_path / "full", tmp_path / "spare"
    full.mkdir()
    spare.mkdir()
    script = (f"mount -t tmpfs -o size=4k tmpfs {full} && exec {sys.executable} -m profiler run "
              f"{hostile('quick')} --models sequential --concurrency 1 --records 20 --out {full}/out")
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "TMPDIR": str(spare)})
    if "mount" in done.stderr and done.returncode not in (0, 2):
        pytest.skip(f"no private tmpfs here: {done.stderr.strip()}")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith(f"error: cannot write {full}/out/") and "No space left" in lines[-1]
    kept = list(spare.glob("concur-results-*.json"))
    assert len(kept) == 1 and f"saved to {kept[0]}" in done.stderr
    assert load_results(kept[0]).trials[0].ok


# ---------------------------------------------------------------- files and services

def test_a_results_file_that_is_a_device_a_pipe_or_huge_is_refused_in_one_line(concur, tmp_path):
    """`concur report /dev/zero` used to read until memory ran out (item 16)."""
    concur.run("report /dev/zero", tmp_path / "cli", "report", "/dev/zero").assert_one_line(
        2, "/dev/zero is not a regular file")
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as fh:
        fh.truncate(300 * 2**20)  # sparse: costs no disk
    for path, why in (("/dev/zero", "not a regular file"), (fifo, "not a regular file"),
                      (huge, "300 MiB, over the 256 MiB")):
        with pytest.raises(ResultsError, match=why):
            load_results(path)


def test_a_notes_line_in_summary_md_is_text_not_markup():
    results = make_results(make_trial("sequential", 1), skipped=[
        Skipped("processes", None, "record 3 cannot be pickled: <script>x</script> **bold** [l](u)")])
    md = summary_markdown(analyse(results))
    assert "<script>" not in md and "**bold**" not in md and "&lt;script&gt;" in md


def test_a_service_that_never_stops_is_left_behind_and_said():
    """A run-scoped service whose exit hangs used to hang concur after the last trial (item 10)."""
    import contextlib
    import threading

    release = threading.Event()

    @contextlib.contextmanager
    def stuck():
        yield ServiceEnv({}, "stuck")
        release.wait(60)

    said: list[str] = []

    class Notes(SilentProgress):
        def note(self, message: str) -> None:
            said.append(message)

    start = time.monotonic()
    with run_services([Workload("stuck", handle=print, service=stuck)], Notes(), stop_limit_s=0.3):
        pass
    assert time.monotonic() - start < 5
    release.set()
    assert any("did not stop within 0.3 s" in line for line in said), said


# ---------------------------------------------------------------- --input, streamed

def test_input_is_read_only_as_far_as_the_records_asked(tmp_path):
    """Garbage after row 20,000 of a CSV, a JSONL and no reading past what is asked: the
    first 50 rows come back, where reading the whole file used to fail (item 12)."""
    csv = tmp_path / "rows.csv"
    csv.write_text("id,name\n" + "".join(f"{i},n{i}\n" for i in range(20_000)) + '1,"unclosed\n')
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text("".join(json.dumps({"id": i}) + "\n" for i in range(20_000)) + "{not json\n")
    for path in (csv, jsonl):
        rows = read_input(path, limit=50)
        assert len(rows) == 50 and rows[49]["id"] == 49
    chunks = iter_input(csv, chunk_rows=1000)
    assert [len(next(chunks)) for _ in range(3)] == [1000, 1000, 1000]


def test_parquet_input_comes_in_batches(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"id": list(range(5000))}), path, row_group_size=1000)
    sizes = [len(rows) for rows in iter_input(path, chunk_rows=700)]
    assert max(sizes) <= 700 and sum(sizes) == 5000
    assert read_input(path, limit=3) == [{"id": 0}, {"id": 1}, {"id": 2}]


@pytest.mark.slow
def test_a_large_input_is_streamed_to_the_trials(concur, tmp_path):
    """A CSV of 200,000 rows with a broken last line, --records 50: the run measures (the
    whole file used to be read, copied and unpickled by every trial, and the broken line
    failed it), and the trials' temp copy is gone after."""
    rows = tmp_path / "rows.csv"
    rows.write_text("id,payload\n" + "".join(f"{i},{'x' * 40}\n" for i in range(200_000))
                    + '1,"unclosed\n')
    out = concur.run("streamed --input", tmp_path, "run", hostile("quick"), "--input", "rows.csv",
                     "--models", "sequential", "--concurrency", "1", "--records", "50", "--out", "out")
    assert out.code == 0, out.stderr
    out.assert_clean()
    assert out.results().trials[0].records == 50
