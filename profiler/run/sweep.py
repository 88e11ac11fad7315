"""The adaptive sweep: find each model's best concurrency within a time budget.

1. Calibrate the per-record cost on a few records (sequential), then measure sequential.
2. Measure the naive rewrite (unbounded, every record in flight) once, if a model takes it.
3. Climb N per model (2, 4, 8, …, up to the model's cap) round-robin, so every model
   gets its first points before any model gets its tenth: a short budget still sees
   every model. A climb stops when the gain is < 5 %, throughput falls, errors appear,
   a trial crashes or a constraint breaks (`Stop` says which).
4. Repeat the leading configurations so the verdict knows the noise.
Each trial is sized to about `target_s` seconds at its expected throughput, and no trial
starts that would not finish inside the budget. Every decision goes to `sweep_log`.

The climbing rules (`Climb`) are pure and tested with hand-made trials; `Sweep` runs.
"""

from __future__ import annotations

import enum
import math
import os
from dataclasses import dataclass, field

from profiler.analysis.configs import ERRORS_RULE, Config, group_configs, ranked, violations
from profiler.measure.session import Session
from profiler.models import default_models, get_model
from profiler.results import Constraints, Trial
from profiler.run.options import RunOptions
from profiler.run.prepare import Prepared

MIN_GAIN = 0.05
CALIBRATION_RECORDS = 3
MIN_RECORDS = 20
MAX_RECORDS = 200_000
TRIAL_OVERHEAD_GUESS_S = 0.6  # process start + imports + setup, until one is measured
REPEAT_SHARE = 0.15  # of the budget, kept from the climbs for repeating the leaders
LEADERS = 3
UNBOUNDED_SCALE = 4  # the unbounded trial's batch: ~1 s at 4x sequential throughput
UNBOUNDED_TIME_SHARE = 0.25  # of the budget, at most, for the unbounded trial
FIRST_STEP_SHARE = 0.25  # a model's first trial is sized to this share of target_s: its speed is a guess
NO_LIMITS = Constraints(max_loop_lag_p99_ms=None)


class Stop(enum.Enum):
    """Why a climb ended."""

    FAILED = "a trial did not finish"
    ERRORS = "errors appeared"
    CONSTRAINT = "a constraint broke"
    FELL = "throughput fell"
    NO_GAIN = "the gain stopped"
    CAP = "the model's cap"
    BUDGET = "not reached within the budget"


@dataclass
class Climb:
    """One model's climb up the concurrency ladder (pure: decisions from observed trials)."""

    model: str
    cap: int
    constraints: Constraints = NO_LIMITS
    n: int = 2
    best_rps: float = 0.0
    best_n: int | None = None
    stop: Stop | None = None  # why the climb ended (None: still climbing)
    stopped: str = ""  # the same, in a sentence with its numbers
    patience: int = 1  # non-gaining steps tolerated before stopping: one noisy point must not end a climb
    points: list[tuple[int, float]] = field(default_factory=list)

    def end(self, why: Stop, message: str) -> str:
        self.stop, self.stopped = why, message
        return message

    def observe(self, trial: Trial, baseline_rps: float) -> str:
        """Take the trial at `self.n`; return the log message; set `stop` when done."""
        n = self.n
        if not trial.ok:
            return self.end(Stop.FAILED, f"{trial.status} at N={n} ({trial.status_detail})")
        rps = trial.throughput_rps
        self.points.append((n, rps))
        reference = max(self.best_rps, baseline_rps if self.best_n is None else 0.0)
        gain = rps / reference - 1 if reference > 0 else math.inf
        broken = violations(Config.of(trial), self.constraints)
        if broken:
            errors = broken[0].rule == ERRORS_RULE
            return self.end(Stop.ERRORS if errors else Stop.CONSTRAINT,
                            f"{'errors appeared' if errors else 'constraint broken'} at N={n}: "
                            + "; ".join(map(str, broken)))
        if rps > self.best_rps:
            self.best_rps, self.best_n = rps, n
        if gain < MIN_GAIN and self.patience > 0 and n < self.cap:
            self.patience -= 1
            self.n = min(n * 2, self.cap)
            return (f"N={n}: {rps:,.1f} records/s ({gain:+.1%} vs {reference:,.1f}, under the "
                    f"{MIN_GAIN:.0%} gain threshold); trying N={self.n} once more before stopping")
        if gain < -MIN_GAIN:
            return self.end(Stop.FELL, f"throughput fell at N={n} ({rps:,.1f} vs best "
                            f"{reference:,.1f} records/s)")
        if gain < MIN_GAIN:
            return self.end(Stop.NO_GAIN, f"gain stopped at N={n} ({gain:+.1%} vs "
                            f"{reference:,.1f} records/s, threshold {MIN_GAIN:.0%})")
        if n >= self.cap:
            return self.end(Stop.CAP, f"reached the cap N={self.cap} while still gaining ({gain:+.1%})")
        self.n = min(n * 2, self.cap)
        return f"N={n}: {rps:,.1f} records/s ({gain:+.1%}); next N={self.n}"

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
        if trial.ok:
            self.overhead_s = max(0.2, took_s - trial.wall_s)


class Sweep:
    """Runs the sweep into a session (see the module docstring)."""

    def __init__(self, session: Session, prepared: Prepared, options: RunOptions) -> None:
        self.session = session
        self.prepared = prepared
        self.options = options
        self.budget = Budget(options.budget_s, session)
        self.target_s = min(1.0, max(0.3, options.budget_s / 45))
        self.keep_back_s = REPEAT_SHARE * options.budget_s
        self.base_rps = 0.0
        self.cores = os.cpu_count() or 1

    def run(self) -> None:
        if not self._calibrate():
            return
        self._baseline()
        climbs = self._climbs()
        self._unbounded(climbs)
        while any(c.stop is None for c in climbs) and self._round(climbs):
            pass
        self._repeat_leaders(max(self.options.repeat, 3))
        not_reached = [c.model for c in climbs if c.stop is Stop.BUDGET]
        if not_reached:
            self.session.log("budget", "models not fully explored within the budget: "
                             + ", ".join(not_reached))
        self.session.log("done", f"sweep finished in {self.session.elapsed_s:.1f} s of a "
                         f"{self.options.budget_s:g} s budget")

    def _trial(self, model: str, n: int, records: int, repeat: int = 0, keep: bool = True,
               cap_s: float | None = None) -> Trial:
        start = self.session.elapsed_s
        timeout = max(1.0, min(self.options.timeout_s, cap_s or self.options.timeout_s,
                               self.budget.remaining_s + self.budget.reserve_s * 0.5))
        spec = self.prepared.spec(self.options, model, n, records, repeat, timeout_s=timeout)
        trial = self.session.run(spec, keep=keep)
        self.budget.learn(trial, self.session.elapsed_s - start)
        return trial

    def _calibrate(self) -> bool:
        """A few records (logged, not kept as a trial: too few) for the per-record cost."""
        available = self.prepared.available_records
        calib = self._trial("sequential", 1, min(CALIBRATION_RECORDS, available or CALIBRATION_RECORDS),
                            keep=False)
        if not calib.ok or calib.records <= calib.errors:
            why = calib.status_detail or f"{calib.errors} errors in {calib.records} records"
            self.session.log("calibrate", f"calibration failed ({calib.status}: {why}); sweep "
                             "stopped", "sequential", 1)
            self.session.results.trials.append(calib)  # the failure is the evidence: keep it
            self.session.save()
            return False
        per_record_s = calib.wall_s / calib.records
        self.base_rps = 1 / per_record_s if per_record_s > 0 else 1000.0
        self.session.log("calibrate", f"{calib.records} records took {calib.wall_s * 1000:,.1f} ms: "
                         f"{per_record_s * 1000:,.2f} ms per record; trials sized to "
                         f"~{self.target_s:.1f} s", "sequential", 1)
        return True

    def _baseline(self) -> None:
        records = records_for(self.target_s, self.base_rps, 1, self.prepared.available_records)
        if not self.budget.fits(records / self.base_rps):
            records = max(CALIBRATION_RECORDS, int(max(self.budget.remaining_s - self.budget.overhead_s,
                                                       0.1) * self.base_rps * 0.5))
            self.session.log("budget", f"budget allows only {records} records for the sequential "
                             "trial", "sequential", 1)
        seq = self._trial("sequential", 1, records)
        if seq.ok and seq.throughput_rps > 0:
            self.base_rps = seq.throughput_rps
        self.session.log("baseline", f"sequential: {self.base_rps:,.1f} records/s, CPU "
                         f"{seq.cpu_util or 0:.2f} cores", "sequential", 1)

    def _climbs(self) -> list[Climb]:
        climbs: list[Climb] = []
        for name in self.options.models or default_models():
            model = get_model(name)
            if model.max_concurrency(self.cores) == 1:
                continue  # sequential: measured as the baseline
            reason = self.prepared.cannot_run(name)
            if reason:
                self.session.skip(name, None, reason)
                continue
            first, cap = model.first_step(self.options.model_settings)
            climbs.append(Climb(name, cap or model.climb_cap(self.cores), self.options.constraints,
                                n=first))
        return climbs

    def _unbounded(self, climbs: list[Climb]) -> None:
        """The naive rewrite, before the climbs so a tight budget still has it: every record
        in flight at once, on a batch the size a good climb reaches in ~1 s."""
        model = next((c.model for c in climbs if get_model(c.model).unbounded), None)
        if model is None:
            return
        count = records_for(self.target_s, self.base_rps * UNBOUNDED_SCALE, 0,
                            self.prepared.available_records)
        if not self.budget.fits(count / self.base_rps / UNBOUNDED_SCALE, self.keep_back_s):
            self.session.log("budget", f"not reached: unbounded {model} (budget)", model, 0)
            return
        # Capped: refused connections can make the naive rewrite crawl; a timeout is a finding.
        trial = self._trial(model, 0, count,
                            cap_s=max(5.0, UNBOUNDED_TIME_SHARE * self.options.budget_s))
        outcome = (f"{trial.throughput_rps:,.1f} records/s, {trial.tasks_peak or 0} tasks peak, "
                   f"{trial.errors} errors" if trial.ok else f"{trial.status}: {trial.status_detail}")
        self.session.log("unbounded", f"unbounded gather of {count} records: {outcome}", model, 0)

    def _round(self, climbs: list[Climb]) -> bool:
        """One step of every climb still going; False when none could run."""
        progressed = False
        for climb in climbs:
            if climb.stop is not None:
                continue
            rps = climb.predicted_rps(self.base_rps)
            first = not climb.points and climb.best_n is None
            count = records_for(self.target_s * (FIRST_STEP_SHARE if first else 1.0), rps, climb.n,
                                self.prepared.available_records)
            if not self.budget.fits(count / rps, self.keep_back_s):
                climb.end(Stop.BUDGET, f"not reached N={climb.n}: {max(self.budget.remaining_s, 0):.1f} s "
                          f"left, {REPEAT_SHARE:.0%} of the budget kept for repeats")
                self.session.log("budget", climb.stopped, climb.model, climb.n)
                continue
            n = climb.n
            message = climb.observe(self._trial(climb.model, n, count), self.base_rps)
            self.session.log("climb" if climb.stop is None else "stop", message, climb.model, n)
            progressed = True
        return progressed

    def _repeat_leaders(self, repeats: int) -> None:
        trials = self.session.results.trials
        leaders = ranked(group_configs(self.session.results))[:LEADERS]
        for round_ in range(1, repeats):
            for c in leaders:
                done = sum(1 for t in trials if t.key == c.key)
                if done > round_:
                    continue
                records = max(t.records for t in c.trials)
                if not self.budget.fits(records / max(c.throughputs[0], 1e-9)):
                    self.session.log("budget", f"no time to repeat {c.label} (noise from {done} "
                                     "run(s))", c.model, c.concurrency)
                    return
                trial = self._trial(c.model, c.concurrency, records, repeat=done)
                self.session.log("repeat", f"repeat {done + 1}: {trial.throughput_rps:,.1f} "
                                 "records/s", c.model, c.concurrency)
