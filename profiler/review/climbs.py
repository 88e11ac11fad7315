"""Finding each swept side's best configuration for the gate, with equal effort.

Both sides get the same share of `--budget` and the same grid (the models the side's code
is written for, or `--models`): each side climbs as the adaptive sweep does, without
settling (the repeats that count are the gate's own, interleaved, afterwards). What a
sweep proposes is its fastest configuration.

A climb that stopped because the budget ended, while its model still gained, did not
find the side's best: comparing it with a side whose climb went further compares effort,
not code. Such a climb is given more budget here (`climb_on`): the next N of that model
is measured on every side that can run it, alternating sides, and the doubling goes on
while any side still gains ≥ 5 % (the sweep's own rule) and the extra budget lasts. A
side whose model still gained when the extra budget ended is `Unfinished`, and the
decision says so (`review.decision`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from profiler import format as fmt
from profiler.analysis.standings import table
from profiler.measure.session import Progress, Session
from profiler.models import get_model
from profiler.results import Config, Results
from profiler.review.decision import SideFailed, Unfinished
from profiler.run.climb import MIN_GAIN, Stop, records_for
from profiler.run.options import RunOptions
from profiler.run.prepare import Prepared, new_results
from profiler.run.sweep import Sweep

TARGET_TRIAL_S = 1.0  # each trial of the joint climb is sized to about this long
OVERHEAD_GUESS_S = 0.5  # a trial's process start and setup, beyond its window


@dataclass
class Swept:
    """A side whose best configuration is searched: its sweep's trials, and how far its
    climb got."""

    label: str
    prepared: Prepared
    models: list[str]
    session: Session | None = None
    gaining: tuple[str, int] | None = None  # (model, next N) of a climb still gaining
    cap: int = 0  # that model's cap
    notes: list[str] = field(default_factory=list)

    @property
    def results(self) -> Results:
        assert self.session is not None
        return self.session.results

    @property
    def best(self) -> Config:
        """The sweep's proposal: its fastest eligible configuration of the models its code is
        written for (the sequential trial every sweep starts with only when none ran)."""
        standings = table(self.results)
        own = [c for c in standings.eligible if c.model in self.models]
        top = max(own, key=lambda c: c.throughput_rps, default=None) or standings.fastest
        if top is None:
            raise SideFailed(f"{self.label} {self.prepared.target}: no configuration ran without "
                             "errors in the sweep")
        return top

    def can_run(self, model: str, n: int) -> bool:
        return (model in self.models and get_model(model).concurrency_error(n) is None
                and self.prepared.cannot_run(model) is None)

    def rate(self, key: tuple[str, int]) -> float | None:
        """Mean throughput the sweep measured at `key` (None: not measured)."""
        found = table(self.results).find(*key)
        return found.throughput_rps if found is not None else None

    def unfinished(self) -> Unfinished | None:
        if self.gaining is None:
            return None
        return Unfinished(self.label, self.best.label)


def sweep(side: Swept, budget_s: float, options: RunOptions, progress: Progress) -> None:
    """The side's climbs within `budget_s` (see the module docstring)."""
    progress.note(f"{side.label}: sweeping {side.prepared.target} over {', '.join(side.models)} "
                  f"for its best configuration ({budget_s:.0f} s, the same for both sides)")
    opts = RunOptions(models=side.models, budget_s=budget_s, timeout_s=options.timeout_s,
                      start_services=False, model_options=options.model_options)
    side.session = Session(new_results(side.prepared, 0, opts), None, progress,
                           probe_factory=side.prepared.workload.probe)
    climbs = Sweep(side.session, side.prepared, opts, settle=False).climb()
    if climbs is None:
        raise SideFailed(f"{side.label} {side.prepared.target}: its calibration trial failed "
                         f"({side.results.sweep_log[-1].message if side.results.sweep_log else ''})")
    best = side.best
    own = best.model in side.models  # else its share ended before any of its models ran
    for climb in climbs:
        if climb.stop is Stop.BUDGET and (climb.model == best.model or not own):
            side.gaining, side.cap = (climb.model, climb.n), climb.cap
            progress.note(f"{side.label}: still gaining at {best.label} when its share of the "
                          "budget ended")
            break


def climb_on(sides: list[Swept], options: RunOptions, until: float, progress: Progress) -> None:
    """More budget for climbs still gaining (see the module docstring), until the monotonic
    time `until`; measured on every side that can run the configuration, like with like."""
    for model, n, cap in sorted({(s.gaining[0], s.gaining[1], s.cap) for s in sides if s.gaining}):
        runners = [s for s in sides if s.can_run(model, n)]
        while any(s.gaining and s.gaining[0] == model for s in runners):
            rps = min(_expected(s, model, n) for s in runners)
            records = records_for(TARGET_TRIAL_S, rps, n, None)
            if time.monotonic() + len(runners) * (records / rps + OVERHEAD_GUESS_S) > until:
                break
            progress.note(f"climbing on to {fmt.config(model, n)} on "
                          f"{' and '.join(s.label for s in runners)}: a climb was still gaining")
            gains = {}
            for s in runners:
                before = _model_best(s, model) or table(s.results).sequential_rps or 0.0
                assert s.session is not None
                trial = s.session.run(s.prepared.spec(options, model, n, records, 0))
                gains[s.label] = trial.throughput_rps / before - 1 if trial.ok and before else -1.0
            gained = n < cap and any(g >= MIN_GAIN for g in gains.values())
            for s in runners:
                still = gained and gains[s.label] >= MIN_GAIN
                if s.gaining and not still:
                    why = "its cap" if n >= cap else f"{fmt.signed_pct(gains[s.label])} at N={n}"
                    s.notes.append(f"{s.label}: the {model} climb finished ({why})")
                s.gaining = (model, min(n * 2, cap)) if still else None
            if not gained:
                break
            n = min(n * 2, cap)


def _model_top(side: Swept, model: str) -> Config | None:
    """The side's fastest bounded configuration of `model` so far."""
    return max((c for c in table(side.results).configs if c.model == model and c.concurrency > 0),
               key=lambda c: c.throughput_rps, default=None)


def _model_best(side: Swept, model: str) -> float:
    top = _model_top(side, model)
    return top.throughput_rps if top is not None else 0.0


def _expected(side: Swept, model: str, n: int) -> float:
    """Throughput expected at `n`: the model's best so far, scaled linearly (an upper bound,
    so the window is never shorter than planned)."""
    top = _model_top(side, model)
    if top is None:
        return max(1.0, table(side.results).sequential_rps or 1.0)
    return max(top.throughput_rps * n / top.concurrency, 1.0)
