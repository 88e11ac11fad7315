"""The attribution's pure parts (issue 8): reading py-spy's collapsed stacks, deciding
whose code a sample is, spotting GIL waits, writing the flame graph and speedscope files,
merging yappi's clocks, and the wording. Hand-made stacks, no processes (except one
in-process yappi run)."""

from __future__ import annotations

import asyncio
import json
import sysconfig
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from profiler.attribution import gil_support
from profiler.attribution.explain import explain
from profiler.attribution.files import flamegraph_svg, speedscope_json, thread_group
from profiler.attribution.pyspy import describe_failure
from profiler.attribution.stacks import (
    HARNESS,
    HARNESS_DIR,
    LOOP,
    OTHER,
    USER,
    CodeMap,
    category_counts,
    classify_sample,
    handler_threads,
    is_gil_wait,
    parse_collapsed,
    top_functions,
    wait_breakdown,
)
from profiler.attribution.yappi import merge_clocks, read_yappi
from profiler.measure.yappi_window import yappi_window
from profiler.results import Attribution, Decomposition

STDLIB = str(Path(sysconfig.get_paths()["stdlib"]).resolve())
USER_FILE = "/home/me/job.py"
CODE = CodeMap(frozenset({USER_FILE}))
LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
ROOT = 'process 41:"/venv/bin/python -c from profiler.measure.child import child_entry; child_entry(4)"'


def line(*frames: str, count: int = 1, thread: str = "thread (42): concur-worker-0",
         process: str = ROOT) -> str:
    return ";".join([process, thread, *frames]) + f" {count}"


def py(name: str, path: str, lineno: int = 1) -> str:
    return f"{name} ({path}:{lineno})"


RUN = py("Thread.run", f"{STDLIB}/threading.py", 982)
CALL = py("SyncWorker.call", f"{HARNESS_DIR}models/base.py", 140)
HANDLER = py("handle", USER_FILE, 7)
SPIN = py("spin", USER_FILE, 3)


def test_a_semicolon_in_the_command_line_does_not_split_the_process_frame() -> None:
    [s] = parse_collapsed(line(RUN, CALL, HANDLER, count=31))
    assert s.pid == 41 and "child_entry(4)" in s.process
    assert (s.tid, s.thread) == (42, "concur-worker-0")
    assert [f.name for f in s.frames] == ["Thread.run", "SyncWorker.call", "handle"]
    assert s.frames[-1].file == USER_FILE and s.frames[-1].line == 7
    assert s.count == 31


def test_a_worker_process_stack_belongs_to_the_innermost_process() -> None:
    worker = 'process 77:"/venv/bin/python -c from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5) --multiprocessing-fork"'
    [s] = parse_collapsed(";".join([ROOT, worker, "thread (78): MainThread", HANDLER]) + " 5")
    assert s.pid == 77 and "spawn_main" in s.process and s.thread == "MainThread"


def test_native_frames_carry_their_library() -> None:
    [s] = parse_collapsed(line(HANDLER, f"pthread_cond_timedwait ({LIBC})", f"0x7f00aa ({LIBC})"))
    assert [f.native for f in s.frames] == [False, True, True]
    assert s.frames[1].name == "pthread_cond_timedwait" and s.frames[1].file == LIBC


def test_malformed_lines_are_skipped() -> None:
    assert parse_collapsed("not a stack\n\n" + line(HANDLER)) != []
    assert len(parse_collapsed("garbage without count\n")) == 0


@pytest.mark.parametrize(("frames", "kind"), [
    ((RUN, CALL, HANDLER, py("dumps", f"{STDLIB}/json/__init__.py")), USER),  # what it calls is its work
    ((py("run_until_complete", f"{STDLIB}/asyncio/base_events.py"), HANDLER,
      py("sleep", f"{STDLIB}/asyncio/tasks.py")), LOOP),  # the loop's bookkeeping of an await
    ((py("_run_once", f"{STDLIB}/asyncio/base_events.py"), py("select", f"{STDLIB}/selectors.py")), LOOP),
    ((RUN, CALL), HARNESS),
    ((py("<module>", "<frozen importlib._bootstrap>"),), OTHER),
    ((py("run", "/venv/lib/python3.11/site-packages/uvloop/__init__.py"),), LOOP),
])
def test_the_innermost_deciding_frame_says_whose_cpu_it_is(frames: tuple[str, ...], kind: str) -> None:
    [s] = parse_collapsed(line(*frames))
    assert classify_sample(s.frames, CODE) == kind


@pytest.mark.parametrize(("leaf", "waiting"), [
    ((f"pthread_cond_timedwait ({LIBC})", f"0x7f00aa ({LIBC})"), True),  # take_gil, folded away
    ((f"sem_clockwait ({LIBC})",), False),  # a threading.Lock
    ((f"clock_nanosleep ({LIBC})",), False),  # time.sleep
    ((), False),  # running Python code
])
def test_gil_wait_is_a_condition_wait_as_the_innermost_native_call(leaf: tuple[str, ...], waiting: bool) -> None:
    [s] = parse_collapsed(line(RUN, CALL, SPIN, *leaf))
    assert is_gil_wait(s.frames) is waiting


def test_handler_threads_are_those_that_ran_a_handler() -> None:
    text = "\n".join([
        line(RUN, CALL, SPIN, thread="thread (42): concur-worker-0"),
        line(RUN, py("wait", f"{STDLIB}/threading.py"), thread="thread (43): concur-worker-1"),
        line(RUN, CALL, thread="thread (43): concur-worker-1"),
        line(py("_recv", f"{STDLIB}/multiprocessing/connection.py"), thread="thread (41): MainThread"),
    ])
    stacks = parse_collapsed(text)
    assert handler_threads(stacks, CODE) == {(41, 42), (41, 43)}


def test_top_functions_bill_native_work_to_the_python_frame_that_asked() -> None:
    stacks = parse_collapsed("\n".join([
        line(RUN, CALL, SPIN, count=6),
        line(RUN, CALL, HANDLER, f"sha256_update ({LIBC})", count=3),
        line(RUN, py("wait", f"{STDLIB}/threading.py"), count=1),
    ]))
    top = top_functions(stacks)
    assert [(t["function"], t["samples"]) for t in top] == [("spin", 6), ("handle", 3), ("wait", 1)]
    assert top[0]["share"] == pytest.approx(0.6)
    assert top[2]["file"] == "threading.py"
    assert category_counts(stacks, CODE) == {USER: 9, LOOP: 1}


def test_thread_pools_share_one_box_in_the_flame_graph() -> None:
    [a, b, c] = parse_collapsed("\n".join([
        line(SPIN, thread="thread (1): concur-worker-3"),
        line(SPIN, thread="thread (2): asyncio_12"),
        line(SPIN, thread="thread (3): MainThread"),
    ]))
    assert [thread_group(s) for s in (a, b, c)] == ["concur-worker-*", "asyncio_*", "MainThread"]


def test_flame_graph_is_wellformed_svg_coloured_by_kind() -> None:
    stacks = parse_collapsed("\n".join([
        line(RUN, CALL, SPIN, count=80),
        line(py("_run_once", f"{STDLIB}/asyncio/base_events.py"), count=20, thread="thread (41): MainThread"),
    ]))
    svg = flamegraph_svg(stacks, CODE, "On-CPU <samples> & more")
    root = ET.fromstring(svg)  # escaping holds: the title has < > &
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert any(t.startswith("spin (/home/me/job.py): 80 samples (80.0 %)") for t in titles)
    assert "#f0913a" in svg and "#5b8fd6" in svg  # user orange, loop blue


def test_speedscope_has_one_sampled_profile_per_thread() -> None:
    stacks = parse_collapsed("\n".join([
        line(RUN, CALL, SPIN, count=30),
        line(RUN, CALL, HANDLER, count=10),
        line(RUN, CALL, SPIN, count=5, thread="thread (43): concur-worker-1"),
    ]))
    doc = json.loads(speedscope_json(stacks, 100, "x"))
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    assert len(doc["profiles"]) == 2
    n_frames = len(doc["shared"]["frames"])
    for prof in doc["profiles"]:
        assert prof["type"] == "sampled" and prof["unit"] == "seconds"
        assert len(prof["samples"]) == len(prof["weights"])
        assert all(0 <= i < n_frames for sample in prof["samples"] for i in sample)
        assert prof["endValue"] == pytest.approx(sum(prof["weights"]))
    assert sum(p["endValue"] for p in doc["profiles"]) == pytest.approx(0.45)


def test_gil_share_is_refused_where_pyspy_cannot_measure_it() -> None:
    ok, how = gil_support((3, 11), gil_enabled=True)
    assert ok and "--gil" in how
    ok, why = gil_support((3, 12), gil_enabled=True)
    assert not ok and "GIL share unavailable" in why and "#692" in why
    ok, why = gil_support((3, 13), gil_enabled=False)
    assert not ok and "free-threaded" in why


def test_yappi_window_times_coroutines_and_threads_on_the_chosen_clock(tmp_path: Path) -> None:
    pytest.importorskip("yappi")

    def busy() -> None:
        sum(i * i for i in range(20000))

    async def awaiting() -> None:
        await asyncio.sleep(0.05)
        busy()

    for clock in ("wall", "cpu"):
        out = tmp_path / f"{clock}.json"
        with yappi_window(out, clock):
            t = threading.Thread(target=busy)
            t.start()
            asyncio.run(awaiting())
            t.join()
        data = read_yappi(out)
        assert data is not None and data["clock"] == clock and "error" not in data
        names = {r["function"]: r for r in data["functions"]}
        assert "busy" in names and names["busy"]["calls"] == 2  # both threads were profiled
    walls = read_yappi(tmp_path / "wall.json")
    cpus = read_yappi(tmp_path / "cpu.json")
    rows = {r["function"]: r for r in merge_clocks(walls, cpus, limit=50)}
    # The coroutine waits 50 ms on the wall clock but barely uses the CPU meanwhile.
    assert rows["sleep"]["wall_s"] >= 0.04
    assert (rows["sleep"]["cpu_s"] or 0) < rows["sleep"]["wall_s"] / 5


def test_yappi_window_without_a_path_does_nothing(tmp_path: Path) -> None:
    with yappi_window(None):
        pass
    assert list(tmp_path.iterdir()) == []


def test_merge_clocks_keeps_cpu_heavy_functions_the_wall_ranking_missed() -> None:
    wall = {"functions": [{"function": f"w{i}", "module": "m", "line": i, "calls": 1,
                           "own_s": 10.0 - i} for i in range(5)]}
    cpu = {"functions": [{"function": "hot", "module": "m", "line": 99, "calls": 7, "own_s": 3.0},
                         {"function": "w0", "module": "m", "line": 0, "calls": 1, "own_s": 0.1}]}
    rows = merge_clocks(wall, cpu, limit=3)
    assert [r["function"] for r in rows] == ["w0", "w1", "w2", "hot"]
    assert rows[0]["cpu_s"] == 0.1 and rows[1]["cpu_s"] is None
    assert rows[3]["wall_s"] is None and rows[3]["cpu_s"] == 3.0


def test_explain_names_the_gil_for_pure_python_threads() -> None:
    lines = explain(Attribution("threads", 4, gil_share=0.24, gil_wait_share=0.73,
                                decomposition=Decomposition(0.24, 0.05, 0.71)))
    assert "73 %" in lines[0] and "GIL" in lines[0]
    assert not any("off CPU" in x for x in lines)  # the GIL already explains the waiting


def test_explain_names_the_event_loop_when_it_eats_the_cpu() -> None:
    lines = explain(Attribution("asyncio", 0, loop_internal_share=0.8, user_share=0.1,
                                decomposition=Decomposition(0.94, 0.06, 0.0)))
    assert len(lines) == 1 and "80 %" in lines[0] and "10 % in your code" in lines[0]


def test_explain_says_nothing_without_numbers() -> None:
    assert explain(Attribution("threads", 2)) == []


@pytest.mark.parametrize(("output", "says"), [
    ("Error: Permission Denied: Try running again with elevated permissions", "permission denied"),
    ("Error: Operation not permitted (os error 1)", "CAP_SYS_PTRACE"),
    ("Error: Failed to find python version from target process", "does not support this Python"),
    ("", "exited without output"),
])
def test_pyspy_failures_become_one_line_saying_what_to_do(output: str, says: str) -> None:
    line = describe_failure(output)
    assert says in line and "\n" not in line


def test_wait_breakdown_names_what_blocked_threads_wait_for() -> None:
    gap = py("_ChildHooks.window", f"{HARNESS_DIR}trial.py", 60)
    stacks = parse_collapsed("\n".join([
        line(RUN, CALL, SPIN, count=25),
        line(RUN, CALL, SPIN, f"pthread_cond_timedwait ({LIBC})", f"0x7f00aa ({LIBC})", count=70),
        line(RUN, CALL, HANDLER, f"clock_nanosleep ({LIBC})", count=3),
        line(RUN, CALL, HANDLER, f"epoll_wait ({LIBC})", count=2),
        # the trial's main thread waiting for "go": outside the window, not counted
        line(py("child_entry", f"{HARNESS_DIR}trial.py"), gap, f"read ({LIBC})", count=50,
             thread="thread (41): MainThread"),
        line(py("child_entry", f"{HARNESS_DIR}trial.py"), CALL, SPIN, count=100,
             thread="thread (41): MainThread"),
    ]))
    states = wait_breakdown(stacks, {(41, 42)})
    assert states == pytest.approx({"running": 0.25, "gil": 0.70, "lock": 0.0, "sleep": 0.03, "io": 0.02})
    main = wait_breakdown(stacks, {(41, 41)})
    assert main == pytest.approx({"running": 1.0, "gil": 0.0, "lock": 0.0, "sleep": 0.0, "io": 0.0})
    assert wait_breakdown(stacks, {(1, 1)}) is None


def test_run_attribution_explains_the_recommendation_and_the_loop_rewrite() -> None:
    from profiler.attribution import choose_configurations
    from tests.report_fixtures import make_results

    results = make_results()
    picked = choose_configurations(results)
    rec = results.recommendation
    assert picked[0].key == (rec.model, rec.concurrency)
    assert len(picked) == 2 and picked[1].model in ("asyncio", "uvloop")
    assert all(c.throughput_rps > 0 for c in picked)
    results.trials = []
    assert choose_configurations(results) == []


def test_a_user_file_named_like_a_queue_is_still_the_users() -> None:
    code = CodeMap(frozenset({"/home/me/job_queue.py"}))
    [s] = parse_collapsed(line(RUN, CALL, py("handle", "/home/me/job_queue.py"),
                               py("create_connection", f"{STDLIB}/socket.py")))
    assert classify_sample(s.frames, code) == USER
    [n] = parse_collapsed(line(RUN, py("run", "/v/lib/python3.11/site-packages/uvloop/__init__.py"),
                               "Loop._run (/v/lib/python3.11/site-packages/uvloop/loop.cpython-311-x86_64-linux-gnu.so)"))
    assert classify_sample(n.frames, code) == LOOP
