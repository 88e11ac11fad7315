"""The outside sampler: the parent reads the trial's whole process tree with psutil.

Why outside: a sampler inside the child would compete with the workload for its GIL;
from the parent it costs one short /proc read per process per tick. Why the whole
tree: work done in pool worker processes is the work (pyinstrument and Scalene lose it).

psutil has no run-queue figure, so run-queue wait is read from
`/proc/<pid>/task/<tid>/schedstat` (second field: ns spent runnable but not running);
where the file is absent the figure is None ("n/a"), never 0.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

from profiler.measure.netstat import TcpCounter
from profiler.results.trial import TREE_FIELDS

CHILDREN_RESCAN_S = 0.5  # scanning /proc for new children is the sampler's dearest read ...
CHILDREN_RESCAN_MAX_S = 2.0  # ... (4 ms on a machine of 120 processes, measured): while the
# tree stays the same the rescans back off to this; a pool's workers start before the
# window opens, so later changes are rare (a cluster adding workers) and still seen
CONNECTIONS_COST_FACTOR = 20  # spend at most ~1/20 of wall time counting connections
# When the tree keeps every core busy, each tick is taken from the workload: on processes×2
# (benchmarks/overhead.py, 10 interleaved rounds) concur ÷ unsampled was 0.969 ticking
# every 50 ms, 0.977 at 100 ms and 0.983 at 200 ms. The sampler then ticks at this
# multiple of its interval. Totals come from the first and last readings, so only the
# time series and the peaks get coarser; the memory ceiling has its own poll.
SATURATED_SLOWDOWN = 4
SATURATED_MARGIN = 0.25  # cores short of all of them that still count as saturated


@dataclass
class TreeSummary:
    """What the sampler measured over the timed window: `figures` by their Trial field names
    (`results.trial.TREE_FIELDS`; None = could not be measured), the time series, and what
    sampling cost."""

    figures: dict[str, float | int | None] = field(default_factory=dict)
    samples: dict[str, list[Any]] = field(default_factory=dict)
    sampler_cpu_s: float = 0.0  # the sampler's own CPU time, to keep its overhead honest

    def get(self, name: str) -> Any:
        return self.figures.get(name)


@dataclass
class _ProcState:
    proc: psutil.Process
    first_cpu: tuple[float, float] | None = None
    last_cpu: tuple[float, float] = (0.0, 0.0)
    first_ctx: tuple[int, int] | None = None
    last_ctx: tuple[int, int] = (0, 0)
    first_sched: dict[int, tuple[int, int]] = field(default_factory=dict)
    last_sched: dict[int, tuple[int, int]] = field(default_factory=dict)


def read_schedstat_ns(pid: int) -> dict[int, tuple[int, int]] | None:
    """Per-thread (on-CPU ns, run-queue wait ns) of one process; None where schedstat is
    missing. On-CPU here is nanosecond-exact, where psutil's cpu_times ticks at 10 ms."""
    base = f"/proc/{pid}/task"
    try:
        tids = os.listdir(base)
    except OSError:
        return None
    out: dict[int, tuple[int, int]] = {}
    for tid in tids:
        try:
            with open(f"{base}/{tid}/schedstat", "rb") as fh:
                parts = fh.read().split()
            out[int(tid)] = (int(parts[0]), int(parts[1]))
        except (OSError, IndexError, ValueError):
            continue
    return out if out or not tids else None


def schedstat_available() -> bool:
    return os.path.exists(f"/proc/{os.getpid()}/task/{threading.get_native_id()}/schedstat")


class TreeSampler:
    """Samples a process and all its descendants every `interval_s` on a background thread.

    Usage: `start()` takes the baseline at the start of the timed window, `stop()` the
    final reading and returns a TreeSummary of deltas and peaks. CPU is summed from each
    process's first to last reading, so processes appearing mid-window count from zero.
    """

    def __init__(self, root_pid: int, interval_s: float = 0.05) -> None:
        self.root_pid = root_pid
        self.interval_s = interval_s
        self._states: dict[int, _ProcState] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._series: dict[str, list[Any]] = {
            k: [] for k in ("t_s", "cpu_util", "rss_bytes", "threads", "fds", "connections")
        }
        self._peaks: dict[str, int] = {"rss": 0, "threads": 0, "fds": 0, "conns": 0}
        self.rss_bytes = 0  # the tree's RSS at the latest tick (read by the trial's memory ceiling)
        self._conn_ok = True
        self._tcp = TcpCounter()
        self._runq_ok = schedstat_available()
        self._next_conn_t = 0.0
        self._next_scan_t = 0.0
        self._scan_every_s = CHILDREN_RESCAN_S
        self._last_conns = 0
        self._t0 = 0.0
        self._prev_t = 0.0
        self._prev_cpu = 0.0
        self._saturated = False
        self._cores = os.cpu_count() or 1
        self._sys_cpu0: Any = None
        self._lock = threading.Lock()

    def start(self) -> None:
        self._sys_cpu0 = psutil.cpu_times()
        self._t0 = time.perf_counter()
        self._tick(initial=True)
        self._thread = threading.Thread(target=self._loop, name="concur-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> TreeSummary:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._tick(final=True)
        sys_cpu1 = psutil.cpu_times()
        return self._summary(sys_cpu1)

    def _loop(self) -> None:
        own0 = time.thread_time()
        while not self._stop.wait(self.interval_s * (SATURATED_SLOWDOWN if self._saturated else 1)):
            self._tick()
        self._own_thread_cpu = time.thread_time() - own0

    def _scan(self, now: float, force: bool) -> None:
        if not force and now < self._next_scan_t:
            return
        try:
            root = self._states[self.root_pid].proc if self.root_pid in self._states else psutil.Process(self.root_pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        new = [p for p in procs if p.pid not in self._states]
        for p in new:
            self._states[p.pid] = _ProcState(p)
        self._scan_every_s = (CHILDREN_RESCAN_S if new or force
                              else min(2 * self._scan_every_s, CHILDREN_RESCAN_MAX_S))
        self._next_scan_t = now + self._scan_every_s

    def _tick(self, initial: bool = False, final: bool = False) -> None:
        with self._lock:
            now = time.perf_counter()
            self._scan(now, force=initial or final)
            cpu_total = 0.0
            rss = threads = fds = 0
            for pid, st in list(self._states.items()):
                sched = read_schedstat_ns(pid) if self._runq_ok else None
                # /proc/<pid>/stat (cpu_times) of a process running on another core costs
                # ~1 ms to read, most of a tick: with schedstat's exact CPU each tick, it is
                # read only for the user/system split, at the window's first and last tick
                # (and when a process is first seen).
                want_times = sched is None or initial or final or st.first_cpu is None
                try:
                    with st.proc.oneshot():
                        ct = st.proc.cpu_times() if want_times else None
                        cs = st.proc.num_ctx_switches()
                        mem = st.proc.memory_info().rss
                        nth = st.proc.num_threads()
                        nfd = st.proc.num_fds()
                except psutil.Error:
                    continue  # gone: its last reading stays in the totals
                if ct is not None:
                    st.last_cpu = (ct.user, ct.system)
                st.last_ctx = (cs.voluntary, cs.involuntary)
                if st.first_cpu is None:
                    # A process first seen after the window opened counts from zero.
                    st.first_cpu = st.last_cpu if initial else (0.0, 0.0)
                    st.first_ctx = st.last_ctx if initial else (0, 0)
                if sched is None:  # no schedstat on this kernel, or the process just left
                    cpu_total += sum(st.last_cpu)
                else:
                    for tid, pair in sched.items():
                        st.first_sched.setdefault(tid, pair if initial else (0, 0))
                    st.last_sched.update(sched)
                    cpu_total += sum(on for on, _ in st.last_sched.values()) / 1e9
                rss += mem
                threads += nth
                fds += nfd
            conns = self._connections(now, force=initial or final)
            self.rss_bytes = rss
            self._peaks["rss"] = max(self._peaks["rss"], rss)
            self._peaks["threads"] = max(self._peaks["threads"], threads)
            self._peaks["fds"] = max(self._peaks["fds"], fds)
            self._peaks["conns"] = max(self._peaks["conns"], conns)
            t = now - self._t0
            if not initial:
                dt = now - self._prev_t
                util = (cpu_total - self._prev_cpu) / dt if dt > 0 else 0.0
                self._saturated = util >= self._cores - SATURATED_MARGIN
                s = self._series
                s["t_s"].append(round(t, 4))
                s["cpu_util"].append(round(max(util, 0.0), 4))
                s["rss_bytes"].append(rss)
                s["threads"].append(threads)
                s["fds"].append(fds)
                s["connections"].append(conns)
            self._prev_t, self._prev_cpu = now, cpu_total

    def _connections(self, now: float, force: bool) -> int:
        """TCP connections of the tree; throttled so counting thousands stays cheap."""
        if not self._conn_ok or (not force and now < self._next_conn_t):
            return self._last_conns
        start = time.perf_counter()
        try:
            total = self._tcp.count([st.proc for st in self._states.values()])
        except psutil.AccessDenied:
            self._conn_ok = False
            return 0
        cost = time.perf_counter() - start
        self._next_conn_t = now + max(self.interval_s, cost * CONNECTIONS_COST_FACTOR)
        self._last_conns = total
        return total

    def _summary(self, sys_cpu1: Any) -> TreeSummary:
        states = self._states.values()
        user = sum(st.last_cpu[0] - (st.first_cpu or st.last_cpu)[0] for st in states)
        system = sum(st.last_cpu[1] - (st.first_cpu or st.last_cpu)[1] for st in states)
        vol = sum(st.last_ctx[0] - (st.first_ctx or st.last_ctx)[0] for st in states)
        invol = sum(st.last_ctx[1] - (st.first_ctx or st.last_ctx)[1] for st in states)
        runq = None
        if self._runq_ok:
            on_cpu = sum(pair[0] - st.first_sched.get(tid, (0, 0))[0]
                         for st in states for tid, pair in st.last_sched.items()) / 1e9
            runq = sum(pair[1] - st.first_sched.get(tid, (0, 0))[1]
                       for st in states for tid, pair in st.last_sched.items()) / 1e9
            # Exact total from schedstat, split user/system in psutil's (tick-based) ratio.
            ticks = user + system
            user_share = user / ticks if ticks > 0 else 1.0
            user, system = on_cpu * user_share, on_cpu * (1 - user_share)
        iowait = None
        if self._sys_cpu0 is not None and hasattr(sys_cpu1, "iowait"):
            total = sum(sys_cpu1) - sum(self._sys_cpu0)
            if total > 0:
                iowait = max(0.0, (sys_cpu1.iowait - self._sys_cpu0.iowait) / total)
        figures: dict[str, float | int | None] = {
            "cpu_user_s": max(user, 0.0),
            "cpu_system_s": max(system, 0.0),
            "rss_peak_bytes": self._peaks["rss"] or None,
            "threads_peak": self._peaks["threads"] or None,
            "fds_peak": self._peaks["fds"] or None,
            "connections_peak": self._peaks["conns"] if self._conn_ok else None,
            "ctx_switches_voluntary": vol,
            "ctx_switches_involuntary": invol,
            "runqueue_wait_s": runq,
            "iowait_frac": iowait,
        }
        assert set(figures) == set(TREE_FIELDS)
        return TreeSummary(
            figures=figures,
            samples=self._series,
            sampler_cpu_s=getattr(self, "_own_thread_cpu", 0.0),
        )
