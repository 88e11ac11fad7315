"""The sweep's climbing rules, pure: decisions from observed trials, tested by hand.

A `Climb` walks one model up the concurrency ladder (N doubling) and stops when the gain
is under 5 %, throughput falls, errors appear, a trial fails, a constraint breaks, the
CPU is saturated, the model's safety bound is reached, or the budget ends (`Stop` says
which). Every cap rests on a measurement, named in its sentence:
- *CPU saturated*: the trial kept ≥ 90 % of every core busy; more workers only queue for
  cores (this is where "2 × cores" comes from, applied only when it is measured);
- *memory* and *connections* (`--max-rss`, `--max-connections`): the next N is not taken
  when the growth measured between the last two steps (or, for a process per worker, the
  RSS measured per worker) would pass the limit there;
- the model's safety bound (`Model.cap_reason`) is the only cap not measured, and it is
  far above where a measured cap stops a climb.
A reading the sweep marked suspect (`Trial.suspect`) is never taken as the climb's best:
the climb ends on it, so an unconfirmed number neither leads nor prunes.

Which climb takes the next step is decided here too, so the budget goes where the answer
is (`next_climb`):
- every model gets its first step before any gets a second (a short budget sees them all);
- then the climb whose next step promises the most throughput goes first, so the leader
  climbs on while it gains; promises within 15 % of the best are ties, and ties go to the
  simpler model for this handler (a sibling that happened to read 2 % higher at N=2 must
  not run away with the budget);
- a climb that cannot beat the leader (its slowest repeat: a bound that holds under noise)
  even at its cap is ended: its ceiling is linear scaling to its cap, bounded by the CPU
  each record needs *as this climb measured it* (`ceiling`: the CPU per record at its last
  two N, applied only when it did not fall between them; one core's worth for models
  that share one interpreter and never used more, every core's for process pools or when
  the model has shown it is not held by the GIL). An event loop's CPU per record falls as
  N grows (fewer wake-ups per record), so while it falls no CPU bound is assumed;
- a climb that tracked the leader at its first steps (within 15 % at the same N) jumps
  to the leader's best N instead of doubling its way up (`jump_target`).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from profiler import format as fmt
from profiler.analysis.configs import ERRORS_RULE, violations
from profiler.models import get_model, simplicity_rank
from profiler.results import Config, Constraints, Trial

MIN_GAIN = 0.05
MIN_RECORDS = 20
MAX_RECORDS = 200_000
NO_LIMITS = Constraints(max_loop_lag_p99_ms=None)
CEILING_SLACK = 1.15  # the CPU-bound ceiling is an estimate: allow this much above it
TRACKING = 0.15  # a climb within this of the leader at the same N "tracks" it
SATURATED = 0.9  # of every core busy: more workers only queue for cores
ONE_CORE = 1.1  # cores busy above which a shared-interpreter model is not held by the GIL


class Stop(enum.Enum):
    """Why a climb ended."""

    FAILED = "a trial did not finish"
    ERRORS = "errors appeared"
    CONSTRAINT = "a constraint broke"
    FELL = "throughput fell"
    NO_GAIN = "the gain stopped"
    CAP = "the model's cap"
    SATURATED = "the CPU is saturated"
    SUSPECT = "a reading was never confirmed"
    CANNOT_WIN = "it cannot beat the leader"
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
    cores: int = 0  # the machine's cores, for the saturation cap (0: not applied)
    cap_reason: str = ""  # why the model's safety bound is where it is (`Model.cap_reason`)
    trials: list[Trial] = field(default_factory=list)  # the clean trials observed, for measured bounds

    def end(self, why: Stop, message: str) -> str:
        self.stop, self.stopped = why, message
        return message

    @property
    def started(self) -> bool:
        return bool(self.points) or self.best_n is not None

    def observe(self, trial: Trial, baseline_rps: float) -> str:
        """Take the trial at `self.n`; return the log message; set `stop` when done."""
        n = self.n
        if not trial.ok:
            return self.end(Stop.FAILED, f"{trial.status} at N={n} ({trial.status_detail})")
        if trial.suspect:
            return self.end(Stop.SUSPECT, f"N={n} never confirmed ({trial.suspect}): not counted, "
                            "the climb ends here")
        rps = trial.throughput_rps
        self.points.append((n, rps))
        self.trials.append(trial)
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
        busy = trial.cpu_util
        if self.cores and busy is not None and busy >= SATURATED * self.cores:
            return self.end(Stop.SATURATED, f"CPU saturated at N={n}: {busy:.2f} of {self.cores} "
                            f"cores busy (measured; {gain:+.1%}); more workers only queue for cores")
        if n >= self.cap:
            bound = self.cap_reason or "the model's safety bound, not a measurement"
            return self.end(Stop.CAP, f"reached the cap N={self.cap} ({bound}) while still "
                            f"gaining ({gain:+.1%})")
        nxt = min(n * 2, self.cap)
        over = self.projected_over(nxt)
        if over:
            return self.end(Stop.CONSTRAINT, f"N={n}: {rps:,.1f} records/s ({gain:+.1%}); N={nxt} "
                            f"not taken: {over}")
        self.n = nxt
        return f"N={n}: {rps:,.1f} records/s ({gain:+.1%}); next N={self.n}"

    def projected_over(self, n: int) -> str:
        """Which limit the next N would pass, from the growth measured so far ("" = none):
        the slope between the last two steps, or (one step, a process per worker) the
        memory measured per worker."""
        k = self.constraints
        out = []
        for limit, name, flag, render in (
                (k.max_rss_bytes, "rss_peak_bytes", "--max-rss", fmt.mib),
                (k.max_connections, "connections", "--max-connections", fmt.count)):
            if not limit:
                continue
            seen = [(t.concurrency, float(v)) for t in self.trials
                    if (v := getattr(t, name)) is not None]
            if not seen:
                continue
            n1, v1 = seen[-1]
            if len(seen) >= 2 and seen[-2][0] < n1:
                n0, v0 = seen[-2]
                slope = max(v1 - v0, 0.0) / (n1 - n0)
                basis = f"measured {render(v0)} at N={n0}, {render(v1)} at N={n1}"
            elif name == "rss_peak_bytes" and get_model(self.model).handlers_in_other_processes:
                slope = v1 / max(n1, 1)
                basis = f"{render(slope)} per worker process measured at N={n1}"
            else:
                continue
            projected = v1 + slope * (n - n1)
            if projected > limit:
                out.append(f"{render(projected)} expected at N={n} ({basis}) is over {flag} "
                           f"{render(limit)}")
        return "; ".join(out)

    def predicted_rps(self, baseline_rps: float) -> float:
        """Throughput expected at the next N, to size its trial: linear from the baseline
        for the first step (an upper bound: the window is never shorter than planned);
        after that, the last doubling's gain again (between 1× and the N ratio), so a
        flattening curve does not plan windows several times too long."""
        if self.best_n is None:
            return baseline_rps * self.n
        linear = self.n / self.best_n
        if len(self.points) >= 2 and self.points[-2][1] > 0:
            (n0, r0), (n1, r1) = self.points[-2], self.points[-1]
            step = max(r1 / r0, 1.0) ** (math.log(linear) / math.log(n1 / n0)) if n1 > n0 else linear
            return self.best_rps * min(max(step, 1.0), linear)
        return self.best_rps * linear

    def upside_rps(self, ceiling_rps: float) -> float:
        """The most this climb could still reach: linear scaling to its cap, within the ceiling."""
        if self.best_n is None:
            return math.inf
        return min(self.best_rps * self.cap / self.best_n, ceiling_rps)

    def rps_at(self, n: int) -> float | None:
        return next((rps for m, rps in self.points if m == n), None)


@dataclass(frozen=True)
class Bound:
    """The most throughput a climb can reach on the CPU, and the measurements it rests on."""

    rps: float = math.inf
    why: str = ""


def ceiling(climb: Climb, cores: int) -> Bound:
    """The CPU bound of this climb, from its own last two clean trials (see the module
    docstring); no bound while the CPU per record falls with N or was measured once."""
    seen = [t for t in climb.trials if t.cpu_ms_per_record]
    if len(seen) < 2:
        return Bound()
    a, b = seen[-2], seen[-1]
    cost_a, cost_b = a.cpu_ms_per_record or 0.0, b.cpu_ms_per_record or 0.0
    if cost_b < cost_a * (1 - MIN_GAIN):
        return Bound()
    busy = max((t.cpu_util or 0.0) for t in seen)
    capacity = cores if get_model(climb.model).handlers_in_other_processes or busy > ONE_CORE else 1
    rps = capacity * 1000.0 / cost_b * CEILING_SLACK
    return Bound(rps, f"bounded by the CPU each record needs: {fmt.ms(cost_a)} at N={a.concurrency}, "
                      f"{fmt.ms(cost_b)} at N={b.concurrency} (measured, not falling) on "
                      f"{capacity} core{'s' if capacity > 1 else ''}")


def records_for(target_s: float, rps: float, n: int, available: int | None) -> int:
    """Records for a trial of about target_s seconds at rps; enough to keep N workers busy."""
    want = int(target_s * rps) if rps > 0 else MIN_RECORDS
    count = max(want, MIN_RECORDS, 4 * max(n, 1))
    count = min(count, MAX_RECORDS)
    return min(count, available) if available else count


@dataclass(frozen=True)
class Pick:
    """The next step of the sweep: which climb, and what was decided on the way."""

    climb: Climb | None
    ended: list[tuple[Climb, str]]  # climbs that cannot beat the leader, with the sentence
    jump: str = ""  # why the chosen climb jumps (its `n` is already moved)
    expected_rps: float | None = None  # after a jump: the leader's throughput at that N


def next_climb(climbs: Sequence[Climb], leader_rps: float, ceilings: dict[str, Bound],
               kind: str) -> Pick:
    """The climb to step next (see the module docstring); ends the hopeless ones."""
    live = [c for c in climbs if c.stop is None]
    unstarted = [c for c in live if not c.started]
    if unstarted:
        return Pick(unstarted[0], [])
    ended: list[tuple[Climb, str]] = []
    hopeful = []
    leader = max((c for c in climbs if c.best_n is not None), key=lambda c: c.best_rps, default=None)
    for c in live:
        bound = ceilings.get(c.model, Bound())
        upside = c.upside_rps(bound.rps)
        if c is not leader and upside < leader_rps * (1 + MIN_GAIN):
            why = (f"cannot beat the leader ({fmt.rate(leader_rps)} records/s): at most "
                   f"{fmt.rate(upside)} records/s even at N={c.cap}"
                   + (f" ({bound.why})" if upside < c.best_rps * c.cap / max(c.best_n or 1, 1) else ""))
            c.end(Stop.CANNOT_WIN, why)
            ended.append((c, why))
        else:
            hopeful.append(c)
    if not hopeful:
        return Pick(None, ended)
    promise = {c.model: min(c.predicted_rps(0.0), ceilings.get(c.model, Bound()).rps) for c in hopeful}
    top = max(promise.values())
    close = [c for c in hopeful if promise[c.model] * (1 + TRACKING) >= top]
    chosen = min(close, key=lambda c: (simplicity_rank(c.model, kind), -promise[c.model]))
    if leader is not None and leader is not chosen and leader.stop is not None:
        target = jump_target(chosen, leader)
        if target is not None:
            jump = (f"tracked {leader.model} at N={chosen.best_n} ({fmt.rate(chosen.best_rps)} vs "
                    f"{fmt.rate(leader.rps_at(chosen.best_n or 0))} records/s): jumping to "
                    f"{leader.model}'s best N={target} instead of doubling up to it")
            chosen.n = target
            return Pick(chosen, ended, jump, leader.rps_at(target) or leader.best_rps)
    return Pick(chosen, ended)


def jump_target(climb: Climb, leader: Climb) -> int | None:
    """Where `climb` may jump: the leader's best N (within its cap), when it tracked the
    leader at the same N so far and that N is at least two doublings above its next."""
    if climb.best_n is None or leader.best_n is None:
        return None
    theirs = leader.rps_at(climb.best_n)
    if theirs is None or theirs <= 0 or abs(climb.best_rps / theirs - 1) > TRACKING:
        return None
    target = min(leader.best_n, climb.cap)
    return target if target >= 4 * climb.n else None
