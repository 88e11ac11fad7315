"""The adaptive sweep: find each model's best concurrency within a time budget.

1. Calibrate the per-record cost on a few records (sequential), then measure sequential.
2. Measure the naive rewrite (unbounded, every record in flight) once, if a model takes it.
3. Climb N per model (`profiler.run.climb`): every model's first step, then the budget
   goes where the answer is: the most promising climb steps next, climbs that cannot
   beat the leader end, a climb that tracks the leader jumps to its best N.
4. Settle: a second measurement of sequential and of the leader (the label and "keep it
   sequential" rest on them), then the comparisons the recommendation turns on
   (`analysis.standings.decisive`) are repeated until their intervals separate (or
   agree within the practical margin) or the budget ends, then the leaders' repeats.
Every trial is sized to about `target_s` seconds at its expected throughput (or takes
`--records` as given), no trial starts that would not finish inside the budget, and a
trial with an impossible number (`analysis.sanity`) is re-measured with a longer window
before it counts. Every decision goes to `sweep_log`.
"""

from __future__ import annotations

import os

from profiler import format as fmt
from profiler.analysis.sanity import MIN_WINDOW_S, Reason, trial_reasons
from profiler.analysis.standings import decisive, table
from profiler.analysis.story import sides
from profiler.measure.session import Session
from profiler.models import default_models, get_model, simplicity_rank
from profiler.results import Config, Results, Standings, Tie, Trial
from profiler.run.climb import (
    MIN_GAIN,
    Climb,
    Stop,
    ceiling,
    next_climb,
    records_for,
)
from profiler.run.options import RunOptions
from profiler.run.prepare import Prepared

__all__ = ["MIN_GAIN", "Climb", "Stop", "Sweep", "records_for"]

CALIBRATION_RECORDS = 3
TRIAL_OVERHEAD_GUESS_S = 0.6  # process start + imports + setup, until one is measured
REPEAT_SHARE = 0.15  # of the budget, kept from the climbs for settling and repeats
LEADERS = 3
UNBOUNDED_SCALE = 4  # the unbounded trial's batch: ~1 s at 4x sequential throughput
UNBOUNDED_TIME_SHARE = 0.25  # of the budget, at most, for the unbounded trial
FIRST_STEP_SHARE = 0.5  # a model's first trial is sized to this share of target_s (its speed is a guess) ...
FIRST_STEP_MIN_S = MIN_WINDOW_S + 0.1  # ... but never under this: short windows read low
MAX_SETTLE_REPEATS = 6  # a side of an undecided comparison is repeated at most this often
REMEASURE_MIN_S = 1.0  # a suspect trial's re-measurement runs at least this long
REPRODUCED = 0.25  # a re-measurement this close to the first reading reproduced it
CLIMB_RESERVE_S = 0.5  # kept back by climbs that draw no report (the gate's)


class Budget:
    def __init__(self, total_s: float, session: Session, reserve_s: float | None = None) -> None:
        self.total_s = total_s
        self.session = session
        self.overhead_s = TRIAL_OVERHEAD_GUESS_S
        self._reserve_s = reserve_s
        self.per_worker_s: dict[str, float] = {}  # start-up per worker process, by model

    @property
    def reserve_s(self) -> float:
        """Kept back for the analysis and the report (rendering measured at 2-4 s on 2 busy
        cores), so the whole `concur run` ends inside the budget; a caller that draws no
        report (the gate's climbs) keeps back what it says."""
        return max(4.0, 0.08 * self.total_s) if self._reserve_s is None else self._reserve_s

    @property
    def remaining_s(self) -> float:
        return self.total_s - self.reserve_s - self.session.elapsed_s

    def fits(self, window_s: float, keep_back_s: float = 0.0, model: str = "", n: int = 1) -> bool:
        return window_s + self.start_s(model, n) <= self.remaining_s - keep_back_s

    def start_s(self, model: str, n: int) -> float:
        """What a trial costs beyond its window: the last trial's, or for a model that
        starts a process per worker, the start measured per worker times N (32 processes
        importing a database driver took 27 s on 2 busy cores: a guess from 2 would not)."""
        per_worker = self.per_worker_s.get(model)
        if per_worker is None:
            return self.overhead_s
        return max(self.overhead_s, per_worker * max(n, 1))

    def learn(self, trial: Trial, took_s: float) -> None:
        if trial.ok:
            self.overhead_s = max(0.2, took_s - trial.wall_s)
        if get_model(trial.model).handlers_in_other_processes and trial.concurrency > 0:
            spent = took_s - (trial.wall_s if trial.ok else 0.0)
            self.per_worker_s[trial.model] = max(self.per_worker_s.get(trial.model, 0.0),
                                                 spent / trial.concurrency)


class Sweep:
    """Runs the sweep into a session (see the module docstring)."""

    def __init__(self, session: Session, prepared: Prepared, options: RunOptions,
                 settle: bool = True) -> None:
        self.session = session
        self.prepared = prepared
        self.options = options
        # Without settling (the gate's climbs: its repeats are its own, interleaved), the
        # whole budget goes to the climbs and nothing is kept back for a report.
        self.budget = Budget(options.budget_s, session, None if settle else CLIMB_RESERVE_S)
        # Never under FIRST_STEP_MIN_S: a window planned at 0.3 s lands under it half the
        # time, and the sanity check would pay for a re-measurement.
        self.target_s = min(1.0, max(FIRST_STEP_MIN_S, options.budget_s / 45))
        self.keep_back_s = REPEAT_SHARE * options.budget_s if settle else 0.0
        self.base_rps = 0.0
        self.cores = os.cpu_count() or 1
        self.kind = prepared.workload.handle_kind

    @property
    def results(self) -> Results:
        return self.session.results

    def _table(self) -> Standings:
        """The standings of the trials so far (judged again only when they changed)."""
        return table(self.results, self.options.constraints)

    def run(self) -> None:
        climbs = self.climb()
        if climbs is None:
            return
        self._settle()
        self._resume(climbs)
        not_reached = [c.model for c in climbs if c.stop is Stop.BUDGET]
        if not_reached:
            self.session.log("budget", "models not fully explored within the budget: "
                             + ", ".join(not_reached))
        self.session.log("done", f"sweep finished in {self.session.elapsed_s:.1f} s of a "
                         f"{self.options.budget_s:g} s budget")

    def climb(self) -> list[Climb] | None:
        """Calibrate, sequential, the unbounded trial and every model's climb, without
        settling; the climbs say where and why each stopped (`Climb.stop`: `Stop.BUDGET` is
        a climb still gaining when the budget ended). None: the calibration failed."""
        if not self._calibrate():
            return None
        self._baseline()
        climbs = self._climbs()
        self._unbounded(climbs)
        while self._step(climbs):
            pass
        return climbs

    # ------------------------------------------------------------------ trials

    def _records(self, want: int) -> int:
        """`--records` when given (every trial the same size), else what sizing asked for."""
        if self.options.records is None:
            return want
        available = self.prepared.available_records
        return min(self.options.records, available) if available else self.options.records

    def _trial(self, model: str, n: int, records: int, repeat: int = 0, keep: bool = True,
               cap_s: float | None = None) -> Trial:
        start = self.session.elapsed_s
        timeout = max(1.0, min(self.options.timeout_s, cap_s or self.options.timeout_s,
                               self.budget.remaining_s + self.budget.reserve_s * 0.5))
        spec = self.prepared.spec(self.options, model, n, records, repeat, timeout_s=timeout)
        trial = self.session.run(spec, keep=keep)
        self.budget.learn(trial, self.session.elapsed_s - start)
        return trial

    def _measure(self, model: str, n: int, records: int) -> Trial:
        """A kept trial, re-measured with a longer window when its numbers look impossible
        (`analysis.sanity`); returns the trial the sweep should believe."""
        trial = self._trial(model, n, records, repeat=self._repeats(model, n))
        why = self._suspect(trial)
        if not why:
            return trial
        if any(w.check == "speedup" for w in why) and self._repeats("sequential", 1) < 2:
            self._repeat_config("sequential", 1, f"{trial.label} looked impossible against "
                                "sequential: measuring sequential again first, longer",
                                window_s=REMEASURE_MIN_S)
            why = self._suspect(trial)
            if not why:
                return trial
        trial.suspect = "; ".join(map(str, why))
        fixed = self.options.records is not None
        again_records = records if fixed else self._records(max(
            2 * records, int(records * REMEASURE_MIN_S / max(trial.wall_s, 1e-3))))
        window = trial.wall_s * again_records / max(records, 1)
        if not self.budget.fits(window):
            self.session.log("suspect", f"{trial.label}: {trial.suspect}; no time left to "
                             "re-measure it", model, n)
            return trial
        self.session.log("suspect", f"{trial.label}: {trial.suspect}; re-measuring with "
                         f"{again_records:,} records", model, n)
        again = self._trial(model, n, again_records, repeat=self._repeats(model, n))
        still = self._suspect(again)
        if not again.ok:
            self.session.log("suspect", f"{again.label} re-measurement failed ({again.status}: "
                             f"{again.status_detail}): excluded, its first reading never confirmed",
                             model, n)
        elif still and self._reproduced(trial, again, still):
            self.session.log("suspect", f"{again.label} re-measured: {again.throughput_rps:,.1f} "
                             f"records/s in {again.wall_s:.1f} s, again {'; '.join(map(str, still))}, "
                             f"within {REPRODUCED:.0%} of its first reading and against sequential "
                             "measured at least twice: kept as measured (one worker waits on "
                             "something concurrency overlaps: an idle core's wake-up, a server that "
                             "batches); the first trial is left out", model, n)
        elif still:
            again.suspect = "; ".join(map(str, still))
            self.session.log("suspect", f"{again.label} re-measured: still {again.suspect}", model, n)
        else:
            self.session.log("suspect", f"{again.label} re-measured: {again.throughput_rps:,.1f} "
                             "records/s, nothing impossible; the first trial is left out", model, n)
        self.session.save()
        return again

    def _reproduced(self, first: Trial, again: Trial, still: list[Reason]) -> bool:
        """A speed-up beyond N workers that a longer window reproduced is a measurement, not
        a glitch: only the speed-up check still trips, the re-measurement ran at least
        `REMEASURE_MIN_S` / 2, agrees with the first reading within `REPRODUCED`, and
        sequential has two clean readings. A redis client read 1,100 records/s sequential
        (three 1 s windows) and 2,900 with threads×2, 3,900 with processes×2 on every look:
        excluding them recommended asyncio-threads×2 at 1.11×."""
        sequential = self._table().sequential
        return (all(w.check == "speedup" for w in still)
                and again.wall_s >= REMEASURE_MIN_S / 2
                and abs(again.throughput_rps / max(first.throughput_rps, 1e-9) - 1) <= REPRODUCED
                and sequential is not None and sequential.repeats >= 2)

    def _agrees_beyond_n(self, trial: Trial) -> bool:
        """`trial` repeats a configuration whose counted reading is already beyond N workers
        (`_reproduced`) and agrees with it within `REPRODUCED`: one more reproduction, not a
        suspect (marking it left the reproduced leader at one counted run, repeat after
        repeat)."""
        cap = self._table().sequential_capacity_rps
        return any(t.key == trial.key and t is not trial and t.ok and not t.suspect
                   and any(w.check == "speedup" for w in trial_reasons(t, cap, self.cores))
                   and abs(trial.throughput_rps / max(t.throughput_rps, 1e-9) - 1) <= REPRODUCED
                   for t in self.results.trials)

    def _suspect(self, trial: Trial) -> list[Reason]:
        why = trial_reasons(trial, self._table().sequential_capacity_rps, self.cores)
        if self.options.records is not None:  # the user fixed the size: a short window is theirs
            why = [w for w in why if w.check != "window"]
        return why

    def _repeats(self, model: str, n: int) -> int:
        return sum(1 for t in self.results.trials if t.key == (model, n))

    def _repeat_config(self, model: str, n: int, why: str, window_s: float | None = None
                       ) -> Trial | None:
        """One more trial of a measured configuration, sized like its last or, when that
        would now be shorter than `window_s` (default `target_s`) at its fastest reading,
        to that window: a first reading slowed by a cold server sizes a repeat that runs
        under the sanity window and is left out (CI: sequential 350 records/s, its repeats
        520 in 0.298 s, every one suspect). None when the budget has no room for it."""
        done = [t for t in self.results.trials if t.key == (model, n) and t.ok]
        if not done:
            return None
        last = done[-1]
        fastest = max(t.throughput_rps for t in done)
        records = last.records if self.options.records is not None else max(
            last.records, records_for(window_s or self.target_s, fastest, n, self.prepared.available_records))
        if not self.budget.fits(records / max(last.throughput_rps, 1e-9), 0.0, model, n):
            return None
        trial = self._trial(model, n, records, repeat=self._repeats(model, n))
        suspect = self._suspect(trial)
        if self._agrees_beyond_n(trial):
            suspect = [w for w in suspect if w.check != "speedup"]
        if suspect:  # a repeat is already a second look: marked, not re-measured again
            trial.suspect = "; ".join(map(str, suspect))
            self.session.save()
        self.session.log("repeat", f"{why}: repeat {trial.repeat + 1}: "
                         f"{trial.throughput_rps:,.1f} records/s"
                         + (f" (suspect: {trial.suspect})" if suspect else ""), model, n)
        return trial

    # ------------------------------------------------------------------ phases

    def _calibrate(self) -> bool:
        """A few records (logged, not kept as a trial: too few) for the per-record cost."""
        available = self.prepared.available_records
        calib = self._trial("sequential", 1, min(CALIBRATION_RECORDS, available or CALIBRATION_RECORDS),
                            keep=False)
        if not calib.ok or calib.records <= calib.errors:
            why = calib.status_detail or f"{calib.errors} errors in {calib.records} records"
            self.session.log("calibrate", f"calibration failed ({calib.status}: {why}); sweep "
                             "stopped", "sequential", 1)
            self.results.trials.append(calib)  # the failure is the evidence: keep it
            self.session.save()
            return False
        per_record_s = calib.wall_s / calib.records
        self.base_rps = 1 / per_record_s if per_record_s > 0 else 1000.0
        sizing = (f"every trial takes --records {self.options.records}" if self.options.records
                  else f"trials sized to ~{self.target_s:.1f} s")
        self.session.log("calibrate", f"{calib.records} records took {calib.wall_s * 1000:,.1f} ms: "
                         f"{per_record_s * 1000:,.2f} ms per record; {sizing}", "sequential", 1)
        return True

    def _baseline(self) -> None:
        records = self._records(records_for(self.target_s, self.base_rps, 1,
                                            self.prepared.available_records))
        if not self.budget.fits(records / self.base_rps):
            records = max(CALIBRATION_RECORDS, int(max(self.budget.remaining_s - self.budget.overhead_s,
                                                       0.1) * self.base_rps * 0.5))
            self.session.log("budget", f"budget allows only {records} records for the sequential "
                             "trial", "sequential", 1)
        seq = self._measure("sequential", 1, records)
        if seq.ok and seq.throughput_rps > 0:
            self.base_rps = seq.throughput_rps
        self.session.log("baseline", f"sequential: {self.base_rps:,.1f} records/s, CPU "
                         f"{seq.cpu_util or 0:.2f} cores", "sequential", 1)

    def _climbs(self) -> list[Climb]:
        climbs: list[Climb] = []
        names = self.options.models or default_models()
        for name in sorted(names, key=lambda m: simplicity_rank(m, self.kind)):
            model = get_model(name)
            if model.max_concurrency(self.cores) == 1:
                continue  # sequential: measured as the baseline
            reason = self.prepared.cannot_run(name)
            if reason:
                self.session.skip(name, None, reason)
                continue
            first, cap = model.first_step(self.options.model_settings)
            climbs.append(Climb(name, cap or model.climb_cap(self.cores), self.options.constraints,
                                n=first, cores=self.cores,
                                cap_reason="" if cap else model.cap_reason(self.cores)))
        return climbs

    def _unbounded(self, climbs: list[Climb]) -> None:
        """The naive rewrite, before the climbs so a tight budget still has it: every record
        in flight at once, on a batch the size a good climb reaches in ~1 s."""
        model = next((c.model for c in climbs if get_model(c.model).unbounded), None)
        if model is None:
            return
        count = self._records(records_for(self.target_s, self.base_rps * UNBOUNDED_SCALE, 0,
                                          self.prepared.available_records))
        if not self.budget.fits(count / self.base_rps / UNBOUNDED_SCALE, self.keep_back_s):
            self.session.log("budget", f"not reached: unbounded {model} (budget)", model, 0)
            return
        # Capped: refused connections can make the naive rewrite crawl; a timeout is a finding.
        trial = self._trial(model, 0, count,
                            cap_s=max(5.0, UNBOUNDED_TIME_SHARE * self.options.budget_s))
        outcome = (f"{trial.throughput_rps:,.1f} records/s, {trial.tasks_peak or 0} tasks peak, "
                   f"{trial.errors} errors" if trial.ok else f"{trial.status}: {trial.status_detail}")
        self.session.log("unbounded", f"unbounded gather of {count} records: {outcome}", model, 0)
        if self.kind == "both":  # a story: its three sides before any climb goes further
            self._story_first_steps(climbs, model)

    def _story_first_steps(self, climbs: list[Climb], rewrite: str) -> None:
        """The job as it was (a thread pool) and the rewrite's bounded form are the story's
        other two sides: their first steps come before any climb's second, or a tight budget
        on a busy machine spends itself on the rewrite's climb and never measures the thread
        pool (20 s budget, one core taken: asyncio×2 and ×4 measured, threads×2 not reached,
        and the story's baseline fell back to sequential)."""
        for name in ("threads", rewrite):
            climb = next((c for c in climbs if c.model == name and not c.started and c.stop is None),
                         None)
            if climb is not None:
                self._take(climb, climb.predicted_rps(self.base_rps))

    def _leader_rps(self) -> float:
        """What a climb must beat to go on: the fastest confirmed configuration at its
        slowest repeat, so noise in the leader's favour prunes nothing; or sequential before
        anything else is. Never a suspect reading (the standings exclude it), nor one whose
        suspect first trial a single re-measurement replaced: until a repeat agrees with that
        re-measurement, nothing is pruned against it."""
        s = self._table()
        confirmed = [c for c in s.eligible
                     if not ((r := s.standing(c)) is not None and r.left_out and c.repeats < 2)]
        lead = max((min(c.throughputs) for c in confirmed), default=0.0)
        return max(self.base_rps, lead)

    def _step(self, climbs: list[Climb]) -> bool:
        """One step of the most promising climb; False when none is left to take."""
        ceilings = {c.model: ceiling(c, self.cores) for c in climbs}
        pick = next_climb(climbs, self._leader_rps(), ceilings, self.kind)
        for climb, why in pick.ended:
            self.session.log("stop", why, climb.model, climb.n)
        climb = pick.climb
        if climb is None:
            return False
        if pick.jump:
            self.session.log("jump", pick.jump, climb.model, climb.n)
        self._take(climb, pick.expected_rps or climb.predicted_rps(self.base_rps))
        return True

    def _take(self, climb: Climb, rps: float) -> None:
        """Measure the climb's next N (or end it there when the budget cannot pay for it)."""
        first = not climb.started
        share = max(FIRST_STEP_SHARE * self.target_s, FIRST_STEP_MIN_S) if first else self.target_s
        count = self._records(records_for(share, rps, climb.n, self.prepared.available_records))
        if not self.budget.fits(count / rps, self.keep_back_s, climb.model, climb.n):
            start = self.budget.start_s(climb.model, climb.n)
            climb.end(Stop.BUDGET, f"not reached N={climb.n}: {max(self.budget.remaining_s, 0):.1f} s "
                      f"left for a trial of ~{count / rps + start:.1f} s (its window and "
                      f"{start:.1f} s to start, as measured), {REPEAT_SHARE:.0%} of the budget "
                      "kept for settling and repeats")
            self.session.log("budget", climb.stopped, climb.model, climb.n)
            return
        n = climb.n
        message = climb.observe(self._measure(climb.model, n, count), self.base_rps)
        self.session.log("climb" if climb.stop is None else "stop", message, climb.model, n)

    def _resume(self, climbs: list[Climb]) -> None:
        """Budget left after settling goes where the evidence says more is to gain: a climb
        the budget stopped while its last step still gained resumes (without the share kept
        for settling, which is spent), then the comparisons are settled again."""
        waiting = [c for c in climbs if c.stop is Stop.BUDGET and c.points
                   and (len(c.points) < 2 or c.points[-1][1] > c.points[-2][1] * (1 + MIN_GAIN))]
        if not waiting or not self.budget.fits(self.target_s):
            return
        for c in waiting:
            gain = (c.points[-1][1] / c.points[-2][1] - 1) if len(c.points) >= 2 else None
            c.stop, c.stopped = None, ""
            self.session.log("budget", f"{max(self.budget.remaining_s, 0):.1f} s left after settling: "
                             f"resuming {c.model}'s climb at N={c.n}, stopped by the budget while "
                             + (f"still gaining ({gain:+.1%})" if gain is not None else "after its first step"),
                             c.model, c.n)
        self.keep_back_s = 0.0
        while self._step(climbs):
            pass
        self._settle()

    def _settle(self) -> None:
        """Second measurements, then repeats until the deciding comparisons separate."""
        reported: set[tuple[tuple[str, int], tuple[str, int]]] = set()
        attempts: dict[tuple[str, int], int] = {}
        while True:
            want = self._next_repeat(reported)
            if want is None:
                break
            config, why = want
            attempts[config.key] = attempts.get(config.key, 0) + 1
            if attempts[config.key] > MAX_SETTLE_REPEATS + 2:  # its repeats keep failing
                self.session.log("settle", f"{config.label}: repeats keep failing; settling "
                                 "stopped", config.model, config.concurrency)
                break
            if self._repeat_config(config.model, config.concurrency, why) is None:
                self.session.log("budget", f"no time to repeat {config.label} ({why}); noise from "
                                 f"{config.repeats} run(s)", config.model, config.concurrency)
                break
        for tie in self._decisive():
            if not tie.settled and (tie.simpler.key, tie.faster.key) not in reported:
                self.session.log("settle", f"{tie.simpler.label} vs {tie.faster.label} not "
                                 f"separated when the repeats ended: {tie.advantage()}",
                                 tie.faster.model, tie.faster.concurrency)

    def _story_sides(self, standings: Standings) -> list[tuple[Config, str]]:
        """The story's job as it was and its rewrite's bounded form (`analysis.story.sides`),
        whose batch times the headline gives with their interval (a job with both forms only)."""
        if self.kind != "both":
            return []
        baseline, _, bounded = sides(standings)
        return [(c, what) for c, what in ((baseline, "the story's job as it was"),
                                          (bounded, "the story's bounded rewrite")) if c is not None]

    def _decisive(self) -> list[Tie]:
        return decisive(self._table())

    def _next_repeat(self, reported: set[tuple[tuple[str, int], tuple[str, int]]]
                     ) -> tuple[Config, str] | None:
        """The next configuration to repeat and why, in order of what the verdict needs."""
        standings = self._table()
        sequential, best = standings.sequential, standings.fastest
        for c, why in ((sequential, "a second measurement of sequential, which the label and "
                        "'keep it sequential' rest on"),
                       (best, "a second measurement of the leader")):
            if c is not None and c.repeats < 2:
                return c, why
        story = self._story_sides(standings)
        for c, why in story:
            if c.repeats < 2:
                return c, f"a second measurement of {why}: the spread of its batch time"
        for tie in self._decisive():
            key = (tie.simpler.key, tie.faster.key)
            if tie.settled:
                if key not in reported and tie.measured:
                    reported.add(key)
                    verdict = ("separated" if tie.comparison.significant else
                               f"the same within {fmt.pct(self.options.constraints.noise_margin)}")
                    self.session.log("settle", f"{tie.simpler.label} vs {tie.faster.label}: "
                                     f"{verdict}: {tie.advantage()}", tie.faster.model,
                                     tie.faster.concurrency)
                continue
            side = min((tie.simpler, tie.faster), key=lambda c: c.repeats)
            if side.repeats < MAX_SETTLE_REPEATS:
                return side, (f"{tie.simpler.label} vs {tie.faster.label} not yet separated "
                              f"(ratio {tie.ratio:.3f})")
            if key not in reported:
                reported.add(key)
                self.session.log("settle", f"{tie.simpler.label} vs {tie.faster.label} not "
                                 f"separated after {MAX_SETTLE_REPEATS} repeats: {tie.advantage()}",
                                 tie.faster.model, tie.faster.concurrency)
        want = max(self.options.repeat, 3)
        for c in (best, sequential, *(c for c, _ in story)):
            if c is not None and c.repeats < want:
                return c, f"repeat {c.repeats + 1} of {want} for the noise of the prediction"
        for c in standings.leaders(LEADERS):
            if c.concurrency != 0 and c.repeats < max(self.options.repeat, 2):
                return c, "one of the leaders: its noise"
        return None
