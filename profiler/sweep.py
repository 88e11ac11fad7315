"""The adaptive sweep: find each model's best concurrency within a time budget.

1. Calibrate the per-record cost on a few records (sequential), then measure sequential.
2. Climb N per model (2, 4, 8, …, up to the model's cap) round-robin, so every model
   gets its first points before any model gets its tenth: a short budget still sees
   every model. A climb stops when the gain is < 5 %, throughput falls, errors appear,
   a trial crashes or a constraint breaks.
3. Repeat the leading configurations so the verdict knows the noise.
Each trial is sized to about `target_s` seconds at its expected throughput, and no trial
starts that would not finish inside the budget. Every decision goes to `sweep_log`.

The climbing rules (`Climb`) are pure and tested with hand-made trials; only
`adaptive_sweep` runs anything.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from profiler.models import get_model
from profiler.models.processes import max_processes
from profiler.models.threads import MAX_THREADS
from profiler.plan import default_models
from profiler.results import Trial
from profiler.session import Session
from profiler.stats import mean
from profiler.trial import TrialSpec

MIN_GAIN = 0.05
MAX_ERROR_RATE = 0.01
CALIBRATION_RECORDS = 3
MIN_RECORDS = 20
MAX_RECORDS = 200_000
TRIAL_OVERHEAD_GUESS_S = 0.6  # process start + imports + setup, until one is measured
LOOP_CAP = 4096
REPEAT_SHARE = 0.15  # of the budget, kept from the climbs for repeating the leaders
UNBOUNDED_SCALE = 4  # the unbounded trial's batch: ~1 s at 4x sequential throughput
UNBOUNDED_TIME_SHARE = 0.25  # of the budget, at most, for the unbounded trial
FIRST_STEP_SHARE = 0.25  # a model's first trial is sized to this share of target_s: its speed is a guess


def model_cap(model: str, cpu_count: int | None = None) -> int:
    if model == "processes":
        return max_processes() if cpu_count is None else 2 * cpu_count
    if model in ("asyncio", "uvloop"):
        return LOOP_CAP
    if model == "dask":  # N local worker processes, like processes
        return max_processes() if cpu_count is None else 2 * cpu_count
    return MAX_THREADS


@dataclass
class Climb:
    """One model's climb up the concurrency ladder (pure: decisions from observed trials)."""

    model: str
    cap: int
    max_connections: int | None = None
    max_rss_bytes: int | None = None
    max_loop_lag_p99_ms: float | None = None
    n: int = 2
    best_rps: float = 0.0
    best_n: int | None = None
    last_rps: float | None = None
    stopped: str | None = None  # why the climb ended (None: still climbing)
    patience: int = 1  # non-gaining steps tolerated before stopping: one noisy point must not end a climb
    points: list[tuple[int, float]] = field(default_factory=list)

    def observe(self, trial: Trial, baseline_rps: float) -> str:
        """Take the trial at `self.n`; return the log message; set `stopped` when done."""
        n = self.n
        if trial.status != "ok":
            self.stopped = f"{trial.status} at N={n} ({trial.status_detail})"
            return self.stopped
        rps = trial.throughput_rps
        self.points.append((n, rps))
        broken = self._constraint_broken(trial)
        if trial.records and trial.errors / trial.records > MAX_ERROR_RATE:
            self.stopped = f"errors appeared at N={n}: {trial.errors} of {trial.records} records"
        elif broken:
            self.stopped = f"constraint broken at N={n}: {broken}"
        reference = max(self.best_rps, baseline_rps if self.best_n is None else 0.0)
        gain = rps / reference - 1 if reference > 0 else math.inf
        if rps > self.best_rps and not self.stopped:
            self.best_rps, self.best_n = rps, n
        if self.stopped:
            return self.stopped
        if gain < MIN_GAIN and self.patience > 0 and n < self.cap:
            self.patience -= 1
            self.n = min(n * 2, self.cap)
            return (f"N={n}: {rps:,.1f} records/s ({gain:+.1%} vs {reference:,.1f}, under the "
                    f"{MIN_GAIN:.0%} gain threshold); trying N={self.n} once more before stopping")
        if gain < -MIN_GAIN:
            self.stopped = f"throughput fell at N={n} ({rps:,.1f} vs best {reference:,.1f} records/s)"
        elif gain < MIN_GAIN:
            self.stopped = f"gain stopped at N={n} ({gain:+.1%} vs {reference:,.1f} records/s, threshold {MIN_GAIN:.0%})"
        elif n >= self.cap:
            self.stopped = f"reached the cap N={self.cap} while still gaining ({gain:+.1%})"
        else:
            self.n = min(n * 2, self.cap)
            return f"N={n}: {rps:,.1f} records/s ({gain:+.1%}); next N={self.n}"
        return self.stopped

    def _constraint_broken(self, trial: Trial) -> str | None:
        if self.max_connections is not None and (trial.connections_peak or 0) > self.max_connections:
            return f"{trial.connections_peak} connections > --max-connections {self.max_connections}"
        if self.max_rss_bytes is not None and (trial.rss_peak_bytes or 0) > self.max_rss_bytes:
            return f"peak RSS {trial.rss_peak_bytes / 2**20:,.0f} MiB > limit {self.max_rss_bytes / 2**20:,.0f} MiB"
        if (self.max_loop_lag_p99_ms is not None and trial.loop_lag_p99_ms is not None
                and trial.loop_lag_p99_ms > self.max_loop_lag_p99_ms):
            return f"loop lag p99 {trial.loop_lag_p99_ms:,.1f} ms > limit {self.max_loop_lag_p99_ms:g} ms"
        return None

    def predicted_rps(self, baseline_rps: float) -> float:
        """Optimistic throughput at the next N: linear from the best point so far."""
        if self.best_n is None:
            return baseline_rps * self.n
        return self.best_rps * self.n / self.best_n


def records_for(target_s: float, rps: float, n: int, available: int | None) -> int:
    """Records for a trial of about target_s seconds at rps; enough to keep N workers busy."""
    want = int(target_s * rps) if rps > 0 else MIN_RECORDS
    count = max(want, MIN_RECORDS, 4 * max(n, 1))
    count = min(count, MAX_RECORDS)
    return min(count, available) if available else count


@dataclass
class Budget:
    total_s: float
    session: Session
    overhead_s: float = TRIAL_OVERHEAD_GUESS_S

    @property
    def reserve_s(self) -> float:
        """Kept back for the analysis and the report (rendering measured at 2-4 s on 2 busy
        cores), so the whole `concur run` ends inside the budget."""
        return max(4.0, 0.08 * self.total_s)

    @property
    def remaining_s(self) -> float:
        return self.total_s - self.reserve_s - self.session.elapsed_s

    def fits(self, window_s: float, keep_back_s: float = 0.0) -> bool:
        return window_s + self.overhead_s <= self.remaining_s - keep_back_s

    def learn(self, trial: Trial, took_s: float) -> None:
        if trial.status == "ok":
            self.overhead_s = max(0.2, took_s - trial.wall_s)


SpecFn = Callable[..., TrialSpec]


def adaptive_sweep(session: Session, prepared: Any, options: Any, spec: SpecFn,
                   constraints: Any) -> None:
    """Run the sweep into `session` (see the module docstring)."""
    workload = prepared.workload
    available = prepared.available_records
    budget = Budget(options.budget_s, session)
    target_s = min(1.0, max(0.3, options.budget_s / 45))
    timeout_cap = options.timeout_s
    results = session.results

    def run(model: str, n: int, records: int, repeat: int = 0, keep: bool = True,
            cap_s: float | None = None) -> Trial:
        start = session.elapsed_s
        s = spec(model, n, repeat, records)
        timeout = max(1.0, min(timeout_cap, cap_s or timeout_cap,
                               budget.remaining_s + budget.reserve_s * 0.5))
        trial = session.run(TrialSpec(**{**s.__dict__, "timeout_s": timeout}), keep=keep)
        budget.learn(trial, session.elapsed_s - start)
        return trial

    # 1. calibration (logged, not kept as a trial: too few records) and the sequential baseline
    calib = run("sequential", 1, min(CALIBRATION_RECORDS, available or CALIBRATION_RECORDS), keep=False)
    if calib.status != "ok" or calib.records <= calib.errors:
        why = calib.status_detail or f"{calib.errors} errors in {calib.records} records"
        session.log("calibrate", f"calibration failed ({calib.status}: {why}); sweep stopped",
                    "sequential", 1)
        results.trials.append(calib)  # the failure is the evidence: keep it
        session.save()
        return
    per_record_s = calib.wall_s / calib.records
    base_rps = 1 / per_record_s if per_record_s > 0 else 1000.0
    session.log("calibrate", f"{calib.records} records took {calib.wall_s * 1000:,.1f} ms: "
                f"{per_record_s * 1000:,.2f} ms per record; trials sized to ~{target_s:.1f} s", "sequential", 1)
    seq_records = records_for(target_s, base_rps, 1, available)
    if not budget.fits(seq_records / base_rps):
        seq_records = max(CALIBRATION_RECORDS, int(max(budget.remaining_s - budget.overhead_s, 0.1) * base_rps * 0.5))
        session.log("budget", f"budget allows only {seq_records} records for the sequential trial", "sequential", 1)
    seq = run("sequential", 1, seq_records)
    if seq.status == "ok" and seq.throughput_rps > 0:
        base_rps = seq.throughput_rps
    session.log("baseline", f"sequential: {base_rps:,.1f} records/s, CPU {seq.cpu_util or 0:.2f} cores", "sequential", 1)

    # 2. climbs, round-robin
    names = options.models or default_models()
    climbs: list[Climb] = []
    for name in names:
        if name == "sequential":
            continue
        reason = get_model(name).reason_cannot_run(workload)
        if reason is None and name == "processes" and prepared.unpicklable:
            reason = prepared.unpicklable
        if reason:
            session.skip(name, None, reason)
            continue
        external = name == "dask" and dict(options.model_options).get("scheduler")
        # An external dask cluster uses all its workers whatever N says: one trial, at N=1.
        climbs.append(Climb(name, 1 if external else model_cap(name), constraints.max_connections,
                            constraints.max_rss_bytes, constraints.max_loop_lag_p99_ms,
                            n=1 if external else 2))
    # The naive rewrite, measured before the climbs so a tight budget still has it: every
    # record in flight at once, on a batch the size a good climb reaches in ~1 s.
    if any(c.model == "asyncio" for c in climbs):
        count = records_for(target_s, base_rps * UNBOUNDED_SCALE, 0, available)
        if budget.fits(count / base_rps / UNBOUNDED_SCALE, keep_back_s=REPEAT_SHARE * options.budget_s):
            # Capped: refused connections can make the naive rewrite crawl; a timeout is a finding.
            trial = run("asyncio", 0, count, cap_s=max(5.0, UNBOUNDED_TIME_SHARE * options.budget_s))
            outcome = (f"{trial.throughput_rps:,.1f} records/s, {trial.tasks_peak or 0} tasks peak, "
                       f"{trial.errors} errors" if trial.status == "ok"
                       else f"{trial.status}: {trial.status_detail}")
            session.log("unbounded", f"unbounded gather of {count} records: {outcome}", "asyncio", 0)
        else:
            session.log("budget", "not reached: unbounded asyncio (budget)", "asyncio", 0)

    while any(c.stopped is None for c in climbs):
        progressed = False
        for climb in climbs:
            if climb.stopped is not None:
                continue
            rps = climb.predicted_rps(base_rps)
            first = not climb.points and climb.best_n is None
            count = records_for(target_s * (FIRST_STEP_SHARE if first else 1.0), rps, climb.n, available)
            if not budget.fits(count / rps, keep_back_s=REPEAT_SHARE * options.budget_s):
                climb.stopped = (f"not reached N={climb.n}: {max(budget.remaining_s, 0):.1f} s left, "
                                 f"{REPEAT_SHARE:.0%} of the budget kept for repeats")
                session.log("budget", climb.stopped, climb.model, climb.n)
                continue
            trial = run(climb.model, climb.n, count)
            n = climb.n
            message = climb.observe(trial, base_rps)
            session.log("climb" if climb.stopped is None else "stop", message, climb.model, n)
            progressed = True
        if not progressed:
            break

    # 3. repeats of the leading configurations
    _repeat_leaders(session, budget, run, max(options.repeat, 3))
    not_reached = [c.model for c in climbs if c.stopped and c.stopped.startswith("not reached")]
    if not_reached:
        session.log("budget", "models not fully explored within the budget: " + ", ".join(not_reached))
    session.log("done", f"sweep finished in {session.elapsed_s:.1f} s of a {options.budget_s:g} s budget")


def leading_configs(trials: list[Trial], count: int = 3) -> list[tuple[str, int, int]]:
    """The best (model, N, records) by mean throughput among error-free ok trials."""
    groups: dict[tuple[str, int], list[Trial]] = {}
    for t in trials:
        if t.status == "ok" and (not t.records or t.errors / t.records <= MAX_ERROR_RATE):
            groups.setdefault((t.model, t.concurrency), []).append(t)
    ranked = sorted(groups.items(), key=lambda kv: -mean([t.throughput_rps for t in kv[1]]))
    return [(m, n, max(t.records for t in ts)) for (m, n), ts in ranked[:count]]


def _repeat_leaders(session: Session, budget: Budget, run: Callable[..., Trial], repeats: int) -> None:
    trials = session.results.trials
    leaders = leading_configs(trials)
    for round_ in range(1, repeats):
        for model, n, records in leaders:
            done = sum(1 for t in trials if t.model == model and t.concurrency == n)
            if done > round_:
                continue
            rps = next(t.throughput_rps for t in trials if t.model == model and t.concurrency == n)
            if not budget.fits(records / max(rps, 1e-9)):
                session.log("budget", f"no time to repeat {model}×{n} (noise from {done} run(s))", model, n)
                return
            trial = run(model, n, records, repeat=done)
            session.log("repeat", f"repeat {done + 1}: {trial.throughput_rps:,.1f} records/s", model, n)
