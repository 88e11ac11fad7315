"""Why a configuration is slow: py-spy and yappi passes over one model × concurrency.

The verdict says which model wins; attribution says why. `attribute()` re-runs one
configuration, never during the timed sweep, each time as an ordinary trial (same
fresh child process, same window protocol, see `profiler.measure.trial`):

1. **unsampled** — the configuration as the sweep measured it: the reference throughput
   and the time decomposition (on-CPU / run-queue / waiting) of `analysis.decompose`.
2. **cpu** — one cheap py-spy recorder (`--subprocesses --nonblocking`, 100 Hz): the
   on-CPU stacks of the whole tree. Gives the throughput *with* sampling (py-spy's cost
   is this pass's throughput against pass 1's), the share of CPU in event-loop and pool
   machinery vs the user's code vs concur's harness, the top functions, the idle share
   and the flame graph.
3. **wall** — py-spy `--idle --native` (every thread at every tick, native frames:
   this pauses the process to unwind, so its throughput is not reported) plus a
   `--gil` recorder on the same window: the GIL-holding share of the handler threads,
   what they are blocked in when not running (the GIL, a lock, a sleep, I/O: the
   innermost native frame says), and the per-thread speedscope profile.
4. **yappi** — yappi inside the child around the window, once on the wall clock and
   once on the CPU clock: top functions by own wall vs own CPU time.

Shares are of samples, as py-spy sees them; "handler threads" are the threads (or the
worker processes' threads) that run the user's handler. The `--idle` recorder sees
every thread at every tick, so its shares are of its own samples; a filtering recorder
(`--gil`, on-CPU) is divided by its ticks in the window (window seconds × rate), which
reads slightly low when a busy machine makes py-spy fall behind (it then says so).

Nothing here raises for a profiler's sake: py-spy missing, not allowed to attach, or
not supporting this Python gives one warning line and None values; the GIL share is
None (with `gil_note` saying why) where py-spy cannot measure it (Python 3.12+:
py-spy #692; free-threaded builds have no GIL).
"""

from __future__ import annotations

import importlib.util
import math
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from profiler import format as fmt
from profiler.analysis.decompose import decompose
from profiler.attribution.files import write_flamegraph, write_speedscope
from profiler.attribution.pyspy import PySpyProbe, Recorder, find_pyspy, pyspy_version
from profiler.attribution.stacks import (
    HARNESS,
    LOOP,
    OTHER,
    USER,
    CodeMap,
    Frame,
    category_counts,
    handler_threads,
    has_native_frames,
    parse_collapsed,
    samples_of,
    short_path,
    top_functions,
    wait_breakdown,
)
from profiler.attribution.yappi import ENV_CLOCK, ENV_OUT, merge_clocks, read_yappi
from profiler.extras import install_hint
from profiler.measure.trial import TrialSpec, run_trial
from profiler.models import get_model
from profiler.results import Attribution, TopFunction, Trial, YappiRow
from profiler.run.service import exported

PASSES = ("cpu", "wall", "yappi")
DEFAULT_RATE_HZ = 100  # py-spy's default
# When the configuration keeps every core busy, py-spy's own CPU is taken from the workload
# (measured 11.5 % of processes×2's throughput at 100 Hz on 2 cores): sample slower there.
SATURATED_RATE_HZ = 40
SATURATED_NICE = 19  # ... and at the lowest priority, so it takes what the workload leaves
SATURATED = 0.9  # cpu_util ≥ this × cores: every core is busy
MAX_RECORDS = 5_000_000
FEW_SAMPLES = 50  # fewer on-CPU samples than this: shares are rough, and we say so
YAPPI_RECORD_FRACTION = 0.1  # yappi slows the handler several-fold: start with fewer records
YAPPI_WINDOW_FRACTION = 0.5  # and aim each yappi run at about half of seconds_hint

def gil_support(version: tuple[int, ...] | None = None, gil_enabled: bool | None = None
                ) -> tuple[bool, str]:
    """(True, how) when py-spy's --gil can be trusted on this Python, else (False, why)."""
    v = tuple(version or sys.version_info[:2])
    if gil_enabled is None:
        check = getattr(sys, "_is_gil_enabled", None)
        gil_enabled = bool(check()) if check else True
    if not gil_enabled:
        return False, "no GIL: this is a free-threaded Python build"
    if v >= (3, 12):
        return False, (f"GIL share unavailable: py-spy's GIL detection is unreliable on Python "
                       f"{v[0]}.{v[1]} (3.12+, py-spy issue #692)")
    return True, "share of handler-thread samples holding the GIL (py-spy --gil)"


def native_supported() -> bool:
    """py-spy unwinds native stacks on Linux x86_64 (and not in --nonblocking mode)."""
    return sys.platform == "linux" and platform.machine() in ("x86_64", "AMD64")


def attribute(target: str, model: str, concurrency: int, records: int, out_dir: Path, *,
              seconds_hint: float | None = 2.0, timeout_s: float = 60.0,
              passes: Collection[str] = PASSES, pyspy_path: str | os.PathLike[str] | None = None,
              rate_hz: int = DEFAULT_RATE_HZ, native: bool | None = None,
              records_file: str | None = None, expected_rps: float | None = None,
              model_options: tuple[tuple[str, Any], ...] = (),
              keep_raw: bool = False) -> Attribution:
    """Attribute one configuration's time; never raises for a profiler's failure.

    `records` is the trial size; with `seconds_hint` the sampled passes run enough records
    for about that many seconds (from `expected_rps`, else measured by the unsampled
    pass). `passes` picks among PASSES; `native=None` uses native stacks where py-spy
    supports them; `records_file` and `model_options` are the run's, as in TrialSpec.
    Files (flame graph SVG, speedscope JSON) go into `out_dir`; the dict holds their
    names relative to it (`keep_raw` also keeps py-spy's raw collapsed stacks there, as
    `<stem>.<flavour>.txt`)."""
    gil_ok, gil_note = gil_support()
    job = _Job(target=target, model=model, concurrency=concurrency, n=records,
               out_dir=Path(out_dir), records_file=records_file, timeout_s=timeout_s,
               model_options=tuple(model_options), rate_hz=rate_hz, gil_ok=gil_ok,
               seconds_hint=seconds_hint, code=CodeMap.for_target(target))
    r = job.result = Attribution(model, concurrency, records, gil_note=gil_note,
                                 python=platform.python_version())
    if {"cpu", "wall"} & set(passes):
        job.pyspy, why_not = find_pyspy(pyspy_path)
        if job.pyspy is None:
            r.warnings.append(f"{why_not}: no py-spy attribution")
            r.gil_note = "GIL share unavailable: py-spy is not available"
            return r
        r.pyspy_version = pyspy_version(job.pyspy)
    if not job.unsampled(expected_rps):
        return r
    with tempfile.TemporaryDirectory(prefix="concur-attr-") as tmp_name:
        job.tmp = Path(tmp_name)
        try:
            if "cpu" in passes and not job.cpu_pass():
                return r  # py-spy cannot attach: one warning, nothing further to try
            if "wall" in passes:
                job.wall_pass(native_supported() if native is None else native)
            if "yappi" in passes:
                job.yappi_pass()
        finally:
            if keep_raw:
                job.out_dir.mkdir(parents=True, exist_ok=True)
                for raw in job.tmp.glob("*.txt"):
                    shutil.copyfile(raw, job.out_dir / f"{job.stem}.{raw.name}")
    return r


@dataclass
class _Job:
    """One attribution: the configuration, where files go, and the dict being filled."""

    target: str
    model: str
    concurrency: int
    n: int  # records per sampled trial
    out_dir: Path
    records_file: str | None
    timeout_s: float
    model_options: tuple[tuple[str, Any], ...]
    rate_hz: int
    gil_ok: bool
    seconds_hint: float | None
    code: CodeMap
    pyspy: str | None = None
    nice: int = 0  # py-spy's niceness (SATURATED_NICE when the configuration fills the cores)
    tmp: Path = Path()
    result: Attribution | None = None

    @property
    def r(self) -> Attribution:
        assert self.result is not None
        return self.result

    @property
    def stem(self) -> str:
        return f"attribution-{self.model}-{self.concurrency}"

    @property
    def workers(self) -> int:
        return max(1, get_model(self.model).workers(self.concurrency, self.n))

    def spec(self, n: int | None = None) -> TrialSpec:
        return TrialSpec(target=self.target, model=self.model, concurrency=self.concurrency,
                         records=n or self.n, records_file=self.records_file,
                         timeout_s=self.timeout_s, options=self.model_options)

    def warn(self, message: str) -> None:
        self.r.warnings.append(message)

    # ------------------------------------------------------------- the passes

    def unsampled(self, expected_rps: float | None) -> bool:
        """The reference run; sizes the sampled runs to about `seconds_hint` seconds."""
        hint = self.seconds_hint
        if hint and expected_rps:
            self.n = _size(self.n, expected_rps, hint)
        base = _run(self.spec())
        if base.status == "ok" and hint and not expected_rps and base.wall_s < hint / 2 \
                and base.throughput_rps > 0:
            self.n = _size(self.n, base.throughput_rps, hint)
            base = _run(self.spec())
        if base.status != "ok":
            self.warn(f"the configuration did not run ({base.status}: "
                      f"{base.status_detail or 'no detail'}): nothing to attribute")
            return False
        self.r.records = self.n
        self.r.unsampled_throughput_rps = base.throughput_rps
        self.r.decomposition = decompose(base)
        cores = os.cpu_count() or 1
        if (base.cpu_util is not None and base.cpu_util >= SATURATED * cores
                and self.rate_hz > SATURATED_RATE_HZ):
            self.r.notes.append(
                f"py-spy sampled at {SATURATED_RATE_HZ} Hz instead of {self.rate_hz} Hz and at "
                f"nice {SATURATED_NICE}: {base.label} kept {fmt.cores(base.cpu_util)} of {cores} "
                "busy, so every sample py-spy takes is CPU taken from the workload (it may fall "
                "behind its rate instead)")
            self.rate_hz, self.nice = SATURATED_RATE_HZ, SATURATED_NICE
        return True

    def cpu_pass(self) -> bool:
        """On-CPU stacks with one cheap recorder; False when py-spy cannot attach."""
        r = self.r
        rec = Recorder("cpu", self.pyspy or "", self.tmp / "cpu.txt", self.rate_hz, nice=self.nice)
        trial, why = self._record([rec])
        if why:
            self.warn(why)
            return False
        if trial.status != "ok":
            self.warn(f"the sampled run did not finish ({trial.status}: {trial.status_detail})")
            return True
        r.throughput_rps = trial.throughput_rps
        r.window_s = trial.wall_s
        if rec.cpu_s is not None and rec.sampled_s:
            r.pyspy_cores = rec.cpu_s / rec.sampled_s
        self._lateness(rec)
        stacks = parse_collapsed(rec.text())
        total = sum(s.count for s in stacks)
        r.cpu_samples = total
        if total == 0:
            self.warn("py-spy recorded no on-CPU samples: the window was too short or the "
                      "handler threads never ran")
            return True
        if total < FEW_SAMPLES:
            r.notes.append(f"only {total} on-CPU samples: the shares are rough "
                              "(a longer run, or more records, sharpens them)")
        cats = category_counts(stacks, self.code)
        for kind, key in ((LOOP, "loop_internal_share"), (USER, "user_share"),
                          (HARNESS, "harness_share"), (OTHER, "other_share")):
            setattr(r, key, cats.get(kind, 0) / total)
        r.top_cpu = [TopFunction(**row) for row in top_functions(stacks)]
        ticks = self._ticks(rec, trial.wall_s)
        if ticks:  # until the wall pass measures it from every thread's every tick
            active = samples_of(stacks, handler_threads(stacks, self.code))
            r.idle_share = min(1.0, max(0.0, 1.0 - active / (ticks * self.workers)))
        name = f"{self.stem}.svg"
        write_flamegraph(self.out_dir / name, stacks, self.code,
                         f"On-CPU samples: {self.model} × {self.concurrency} ({self.n} records)")
        r.flamegraph = name
        return True

    def wall_pass(self, native: bool) -> None:
        """Every thread at every tick (with native frames) and the GIL holder, together."""
        r = self.r
        recs = self._wall_recorders(native)
        trial, why = self._record(recs)
        if why and native and recs[0].error:  # native unwinding unavailable: again without
            r.notes.append(f"native stacks unavailable ({recs[0].error}); waits not separated")
            recs = self._wall_recorders(False)
            trial, why = self._record(recs)
        if why:
            self.warn(why)
            return
        if trial.status != "ok":
            self.warn(f"the wall-clock run did not finish ({trial.status}: {trial.status_detail})")
            return
        wall = recs[0]
        self._lateness(wall)
        stacks = parse_collapsed(wall.text())
        handlers = handler_threads(stacks, self.code)
        if has_native_frames(stacks):
            states = wait_breakdown(stacks, handlers)
            if states:
                r.wait_breakdown = states
                r.gil_wait_share = states["gil"]
                r.idle_share = 1.0 - states["running"]
        if self.gil_ok:
            gil = recs[1]
            ticks = self._ticks(gil, trial.wall_s)
            gil_stacks = parse_collapsed(gil.text())
            if ticks:
                held = samples_of(gil_stacks, handlers or handler_threads(gil_stacks, self.code))
                r.gil_share = min(1.0, held / (ticks * self.workers))
        if stacks:
            name = f"{self.stem}.speedscope.json"
            write_speedscope(self.out_dir / name, stacks, self.rate_hz,
                             f"concur {self.model} × {self.concurrency}: every thread, every tick")
            r.speedscope = name

    def yappi_pass(self) -> None:
        """yappi in the child, wall clock then CPU clock, on the same number of records."""
        r = self.r
        if importlib.util.find_spec("yappi") is None:
            self.warn(f"yappi is not installed ({install_hint('attribution')}): no yappi pass")
            return
        n_y = max(1, math.ceil(self.n * YAPPI_RECORD_FRACTION))
        target_s = (self.seconds_hint or 2.0) * YAPPI_WINDOW_FRACTION
        stats: dict[str, Any] = {}
        clocks = ["wall", "cpu"]
        while clocks:
            clock = clocks[0]
            path = self.tmp / f"yappi-{clock}.json"
            with exported({ENV_OUT: str(path), ENV_CLOCK: clock}):  # the trial child inherits it
                trial = _run(self.spec(n_y))
            if trial.status != "ok":
                self.warn(f"the yappi run did not finish ({trial.status}: {trial.status_detail})")
                return
            data = read_yappi(path)
            if data is None:
                self.warn("yappi pass skipped: this concur's trial process does not honour "
                          f"{ENV_OUT} (profiler/measure/child.py hook missing)")
                return
            if data.get("error"):
                self.warn(f"yappi failed in the trial process: {data['error']}")
                return
            if clock == "wall" and trial.wall_s < target_s / 3 and n_y < self.n:
                # yappi's slowdown depends on the calls a record makes: size from this run,
                # then the wall clock once more (both clocks must see the same records)
                n_y = min(self.n, math.ceil(n_y * target_s / max(trial.wall_s, 1e-3)))
                continue
            stats[clock] = data
            clocks.pop(0)
        rows = merge_clocks(stats.get("wall"), stats.get("cpu"))
        r.yappi_top = []
        for row in rows:
            frame = Frame(row["function"], row["module"] or "", 0)
            r.yappi_top.append(YappiRow(row["function"], self.code.kind(frame) or OTHER,
                                        short_path(frame.file), row["wall_s"], row["cpu_s"],
                                        row["calls"]))
        r.yappi_records = n_y
        if get_model(self.model).handlers_in_other_processes:
            r.notes.append("yappi profiles the trial's main process only; the worker "
                           "processes' code is in the py-spy flame graph")

    # ------------------------------------------------------------- helpers

    def _wall_recorders(self, native: bool) -> list[Recorder]:
        recs = [Recorder("wall", self.pyspy or "", self.tmp / "wall.txt", self.rate_hz, native=native,
                         nice=self.nice)]
        if self.gil_ok:
            recs.append(Recorder("gil", self.pyspy or "", self.tmp / "gil.txt", self.rate_hz,
                                 nice=self.nice))
        return recs

    def _record(self, recorders: list[Recorder]) -> tuple[Trial, str]:
        """A trial with these recorders attached for its window; (trial, why py-spy failed)."""
        probe = PySpyProbe(recorders)
        try:
            trial = _run(self.spec(), probe)
        finally:
            probe.close()
        return trial, probe.error or next((r.error for r in recorders if r.error), "")

    def _ticks(self, rec: Recorder, window_s: float) -> float | None:
        """Sampling ticks inside the window: the recorder attaches just before "go" and
        stops just after "done"; ticks outside see idle threads only, so counting over
        the window keeps them out of the denominators."""
        s = rec.sampled_s
        if not s:
            return None
        return (min(s, window_s) if window_s > 0 else s) * self.rate_hz

    def _lateness(self, rec: Recorder) -> None:
        if any("behind in sampling" in line for line in rec.log):
            self.warn(f"py-spy ({rec.flavour}) fell behind its {rec.rate} Hz rate: the machine "
                      "is busy; shares are less precise")


def _size(records: int, rps: float, seconds: float) -> int:
    return int(min(MAX_RECORDS, max(records, math.ceil(rps * seconds))))


def _run(spec: TrialSpec, probe: Any = None) -> Trial:
    return run_trial(spec, probe).trial

