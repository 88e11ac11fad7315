"""Collapsed stacks from py-spy, read and attributed: pure functions, no processes.

py-spy's `--format raw` writes one line per distinct stack: frames root-first joined by
";" and a sample count, e.g. (with `--subprocesses --threads --full-filenames`)

    process 41:"python -c from profiler.measure.child import child_entry; child_entry(4)";
    thread (42): concur-worker-0;Thread.run (/usr/lib/python3.11/threading.py:982);
    ...;spin (/work/tests/workloads/core.py:19) 31

Native frames (`--native`) carry a library instead of `file:line`. A command line may
itself contain ";", so process frames are re-joined before the stack is split.

What the attribution asks of these stacks:
- which threads run the user's handlers (`handler_threads`): a thread is one as soon
  as any of its samples is inside a worker's `call` or the user's code;
- which part of the code a CPU sample belongs to (`classify_sample`): the innermost
  frame that is user code, event-loop/pool machinery or concur's harness decides, so
  `json.dumps` called by the handler counts as the user's work while `asyncio.sleep`'s
  timer bookkeeping counts as the loop's;
- what a sample's thread is blocked in (`wait_state`, from `--native` stacks): the GIL
  (CPython 3.11's `take_gil` blocks in `pthread_cond_timedwait`; py-spy folds its own
  frame away, so the signature is a condition-variable wait as the innermost named
  native frame), a lock (semaphores, on Linux), a sleep, or I/O (the syscalls); else
  it is running or runnable.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import sysconfig
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

HARNESS_DIR = str(Path(__file__).resolve().parents[1]) + "/"  # the profiler package

USER, LOOP, HARNESS, OTHER = "user", "loop_internal", "harness", "other"

# Where the event loop's and the pools' own bookkeeping lives: stdlib-relative paths,
# uvloop's package, and the C accelerators (native frames, by library name). A frame in
# one of these is machinery, not the user's work.
_LOOP_STDLIB = ("asyncio/", "selectors.py", "concurrent/futures/", "threading.py", "queue.py",
                "multiprocessing/")
_LOOP_PACKAGE = "/uvloop/"
_LOOP_LIBRARIES = ("_asyncio.", "_queue.", "select.", "_heapq.", "_multiprocessing.")
_HANDLER_CALLS = ("SyncWorker.call", "AsyncWorker.call")
_LINE_RE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")
_THREAD_RE = re.compile(r"^thread \((?P<tid>0x[0-9a-fA-F]+|\d+)\)(?:: (?P<name>.*))?$")
_PROCESS_RE = re.compile(r'^process (?P<pid>\d+):"(?P<cmd>.*)"$', re.S)


@dataclass(frozen=True)
class Frame:
    name: str
    file: str  # a source path for Python frames, a shared library for native ones
    line: int | None  # None for native frames

    @property
    def native(self) -> bool:
        return self.line is None


@dataclass(frozen=True)
class Stack:
    """One line of py-spy's raw output: `count` samples of the same stack on one thread."""

    pid: int | None  # innermost process (the one the thread belongs to)
    process: str  # its command line
    tid: int | None
    thread: str
    frames: tuple[Frame, ...]  # root first, leaf last
    count: int

    @property
    def thread_key(self) -> tuple[int | None, int | None]:
        return (self.pid, self.tid)


def parse_frame(token: str) -> Frame:
    """`name (file:line)` → Python frame; `name (lib.so)` → native; anything else kept whole."""
    if token.endswith(")") and " (" in token:
        name, loc = token[:-1].rsplit(" (", 1)
        path, sep, line = loc.rpartition(":")
        if sep and line.isdigit():
            return Frame(name, path, int(line))
        return Frame(name, loc, None)
    return Frame(token, "", None)


def _tokens(stack: str) -> list[str]:
    """Split on ";" but keep a process frame whole when its command line holds a ";"."""
    out: list[str] = []
    for part in stack.split(";"):
        if out and out[-1].startswith("process ") and not _closed(out[-1]):
            out[-1] += ";" + part
        else:
            out.append(part)
    return out


def _closed(token: str) -> bool:
    """A process frame is whole once its quoted command line is closed."""
    _, _, rest = token.partition(':"')
    return rest.endswith('"')


def parse_collapsed(text: str) -> list[Stack]:
    """Every line of a py-spy raw file as a Stack; malformed lines are skipped."""
    stacks = []
    for raw in text.splitlines():
        m = _LINE_RE.match(raw.strip())
        if not m:
            continue
        pid, process, tid, thread = None, "", None, ""
        frames: list[Frame] = []
        for token in _tokens(m["stack"]):
            pm = _PROCESS_RE.match(token)
            if pm and not frames and tid is None:
                pid, process = int(pm["pid"]), pm["cmd"]  # the innermost process wins
                continue
            tm = _THREAD_RE.match(token)
            if tm and not frames and tid is None:
                tid = int(tm["tid"], 0)
                thread = tm["name"] or ""
                continue
            frames.append(parse_frame(token))
        stacks.append(Stack(pid, process, tid, thread, tuple(frames), int(m["count"])))
    return stacks


# --------------------------------------------------------------------- classification


def _stdlib_dirs() -> tuple[str, ...]:
    dirs = {sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib")}
    return tuple(sorted(str(Path(d).resolve()) + "/" for d in dirs if d))


_STDLIB = _stdlib_dirs()


@dataclass(frozen=True)
class CodeMap:
    """Which files are the user's code; everything else is stdlib, libraries, or concur."""

    user_files: frozenset[str] = frozenset()  # the target's file(s), resolved
    user_dirs: tuple[str, ...] = ()  # the target's package directory, if a module target

    @classmethod
    def for_target(cls, target: str) -> CodeMap:
        """The user's code for a target: its file, or its module's file and package."""
        base = target.rsplit(":", 1)[0] if ":" in target else target
        if base.endswith(".py") or os.sep in base:
            return cls(frozenset({str(Path(base).resolve())}))
        files: set[str] = set()
        dirs: list[str] = []
        with contextlib.suppress(Exception):  # the parent loaded the target already; best effort
            spec = importlib.util.find_spec(base)
            if spec and spec.origin:
                files.add(str(Path(spec.origin).resolve()))
            top = importlib.util.find_spec(base.split(".", 1)[0])
            if top and top.submodule_search_locations and "." in base:
                dirs += [str(Path(d).resolve()) + "/" for d in top.submodule_search_locations
                         if "-packages" not in d]
        return cls(frozenset(files), tuple(dirs))

    def kind(self, frame: Frame) -> str | None:
        """USER, LOOP, HARNESS, or None when the frame decides nothing (stdlib, libraries)."""
        f = frame.file
        if not f:
            return None
        if frame.native:
            lib = f.rsplit("/", 1)[-1]
            return LOOP if _LOOP_PACKAGE in f or lib.startswith(_LOOP_LIBRARIES) else None
        if f in self.user_files or any(f.startswith(d) for d in self.user_dirs):
            return USER
        if f.startswith(HARNESS_DIR):
            return HARNESS
        if _LOOP_PACKAGE in f:
            return LOOP
        for d in _STDLIB:
            if f.startswith(d):
                rel = f[len(d):]
                return LOOP if rel.startswith(_LOOP_STDLIB) else None
        return None  # "<frozen importlib…>", site-packages, anything else: decides nothing


def classify_sample(frames: tuple[Frame, ...], code: CodeMap) -> str:
    """The innermost frame that is user code, loop machinery or harness decides."""
    for frame in reversed(frames):
        kind = code.kind(frame)
        if kind is not None:
            return kind
    return OTHER


# What a blocked thread's innermost named native frame is (glibc's exported names, so
# they resolve even in a stripped libc). CPython 3.11's take_gil waits on a condition
# variable; Python-level locks use semaphores on Linux; sleeps and I/O use their syscalls.
RUNNING, GIL, LOCK, SLEEP, IO = "running", "gil", "lock", "sleep", "io"
WAIT_STATES = (RUNNING, GIL, LOCK, SLEEP, IO)
_WAITS = {
    GIL: frozenset({"pthread_cond_timedwait", "pthread_cond_wait", "pthread_cond_clockwait",
                    "__pthread_cond_timedwait", "__pthread_cond_wait", "take_gil",
                    "PyCOND_TIMEDWAIT"}),
    LOCK: frozenset({"sem_wait", "sem_timedwait", "sem_clockwait", "__new_sem_wait_slow",
                     "do_futex_wait", "futex_wait", "__futex_abstimed_wait_common",
                     "PyThread_acquire_lock_timed", "__lll_lock_wait", "pthread_join"}),
    SLEEP: frozenset({"clock_nanosleep", "nanosleep", "__nanosleep", "usleep", "__clock_nanosleep"}),
    IO: frozenset({"epoll_wait", "epoll_pwait", "select", "pselect", "__select", "poll", "ppoll",
                   "__poll", "read", "__libc_read", "pread64", "readv", "recv", "recvfrom",
                   "recvmsg", "accept", "accept4", "connect", "__libc_connect", "write",
                   "__libc_write", "send", "sendto", "sendmsg", "waitpid", "wait4", "fsync",
                   "fdatasync"}),
}
_WINDOW_GAP = ("_ChildHooks.window", "trial.py")  # the trial's main thread outside the window


def wait_state(frames: tuple[Frame, ...]) -> str:
    """RUNNING (Python code, or native code that is not a known wait), or what the thread
    is blocked in: GIL, LOCK, SLEEP or IO. Needs `--native` stacks; without native frames
    every sample reads RUNNING."""
    for frame in reversed(frames):
        if not frame.native:
            return RUNNING  # the leaf is Python code: not blocked in C
        if frame.name.startswith("0x"):
            continue  # an unnamed address inside libc: look further out
        for state, names in _WAITS.items():
            if frame.name in names:
                return state
        return RUNNING
    return RUNNING


def is_gil_wait(frames: tuple[Frame, ...]) -> bool:
    """True when the innermost named native frame is the GIL's condition-variable wait."""
    return wait_state(frames) == GIL


def outside_window(stack: Stack) -> bool:
    """A sample the recorder took just before "go" or just after "done": the trial's main
    thread is then inside `_ChildHooks.window` (during the window that generator is
    suspended at its `yield`, so its frame is not on the stack)."""
    name, file = _WINDOW_GAP
    return any(f.name == name and f.file.endswith(file) and f.file.startswith(HARNESS_DIR)
               for f in stack.frames)


def wait_breakdown(stacks: Iterable[Stack], threads: set[tuple[int | None, int | None]]
                   ) -> dict[str, float] | None:
    """Shares of the threads' in-window samples by state; None without samples."""
    counts: Counter[str] = Counter()
    for s in stacks:
        if s.thread_key in threads and not outside_window(s):
            counts[wait_state(s.frames)] += s.count
    total = sum(counts.values())
    if not total:
        return None
    return {state: counts.get(state, 0) / total for state in WAIT_STATES}


def has_native_frames(stacks: Iterable[Stack]) -> bool:
    return any(f.native and f.file for s in stacks for f in s.frames)


def handler_threads(stacks: Iterable[Stack], code: CodeMap) -> set[tuple[int | None, int | None]]:
    """Threads that ran a handler during the window: inside a worker's call, or user code."""
    out = set()
    for s in stacks:
        if s.thread_key in out:
            continue
        for f in s.frames:
            if (f.file.startswith(HARNESS_DIR) and f.name in _HANDLER_CALLS) or code.kind(f) == USER:
                out.add(s.thread_key)
                break
    return out


def samples_of(stacks: Iterable[Stack], threads: set[tuple[int | None, int | None]]) -> int:
    return sum(s.count for s in stacks if s.thread_key in threads)


def category_counts(stacks: Iterable[Stack], code: CodeMap) -> Counter[str]:
    counts: Counter[str] = Counter()
    for s in stacks:
        counts[classify_sample(s.frames, code)] += s.count
    return counts


def top_functions(stacks: Iterable[Stack], limit: int = 10) -> list[dict[str, object]]:
    """Functions by self samples: the innermost Python frame of each sample (native frames
    below it are the C work that function asked for, so they are billed to it)."""
    counts: Counter[tuple[str, str]] = Counter()
    total = 0
    for s in stacks:
        total += s.count
        leaf = next((f for f in reversed(s.frames) if not f.native), None)
        key = (leaf.name, leaf.file) if leaf else ("(native code)", next(
            (f.file for f in reversed(s.frames) if f.file), ""))
        counts[key] += s.count
    return [{"function": name, "file": short_path(file), "samples": n,
             "share": n / total if total else 0.0}
            for (name, file), n in counts.most_common(limit)]


def short_path(path: str) -> str:
    """A path as a reader recognises it: stdlib- and site-relative, or as given."""
    for d in _STDLIB:
        if path.startswith(d):
            rel = path[len(d):]
            return rel.split("site-packages/", 1)[1] if "site-packages/" in rel else rel
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1]
    if path.startswith(HARNESS_DIR):
        return "profiler/" + path[len(HARNESS_DIR):]
    return path
