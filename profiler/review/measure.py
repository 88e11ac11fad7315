"""Measuring both sides of a gate, like with like: the same budget and grid for each side's
search, then repeats of both, interleaved A B B A …, on the same number of records at each
configuration, so machine drift and noise hit both sides alike. A side given as a
results.json is read, not run.

Which configurations a side is measured in, in this order (the verdict line names it):
1. pinned (`--baseline-config`/`--candidate-config`), if the side's code can run in it;
2. the workload's declared deployment (`Workload.deployed`, e.g. "asyncio:0" for a
   rewrite that gathers every record at once);
3. its best among the configurations either side's sweep proposed (and the other side's
   pinned or declared one), each measured on both sides where both can run it: the
   sweeps run over the models the side's code is written for, with the same share of
   the budget (`review.climbs`; a climb still gaining when its share ended climbs on, on
   both sides). Where the forms differ (a thread pool against an async rewrite) no
   configuration is shared, and each side's own best is measured, interleaved. Never,
   silently, a model the code would not run in (an async rewrite measured one record at a
   time in a plain loop is not the rewrite).
Both sides' run-scoped services (e.g. the embedded database) are started once, shared by
the two sides when they are the same, and stopped however the gate ends. A side at a git
revision (`--baseline-rev`) is checked out for the gate's duration (`review.revision`).
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from profiler import format as fmt
from profiler.analysis import analyse
from profiler.errors import ConfigError
from profiler.measure.session import Progress, Session, SilentProgress
from profiler.models import default_models, get_model
from profiler.results import Results, load_results
from profiler.review import climbs
from profiler.review.climbs import Swept
from profiler.review.decision import SideFailed, Unfinished
from profiler.review.revision import Checkout, checkouts, forget_modules
from profiler.run.options import RunOptions
from profiler.run.prepare import Prepared, new_results, now_iso, prepare
from profiler.run.service import exported, run_services
from profiler.workload import Workload

PROBE_RECORDS = 20
TARGET_TRIAL_S = 1.0
MIN_RECORDS = 50
SWEEP_SHARE = 0.5  # of --budget for the two sides' sweeps, split evenly
CLIMB_ON_SHARE = 0.2  # of --budget at least, for climbs still gaining when their share ended
REPEAT_SHARE = 0.3  # of --budget, kept for the interleaved repeats when climbing on


@dataclass
class GateSpec:
    baseline: str | None  # None: the candidate's target, at --baseline-rev
    candidate: str | None
    baseline_config: tuple[str, int] | None = None
    candidate_config: tuple[str, int] | None = None
    repeats: int = 5
    budget_s: float = 60.0
    records: int | None = None
    models: list[str] | None = None
    timeout_s: float = 120.0
    total: int | None = None  # records in the whole batch: the story's batch times
    dsn: str | None = None  # both sides' database (--dsn)
    db_max_connections: int | None = None  # the embedded server's size (--db-max-connections)
    baseline_rev: str | None = None  # measure the baseline's target at this git revision
    candidate_rev: str | None = None  # … and the candidate's


@dataclass(frozen=True)
class Chosen:
    """A side's configuration and how it was chosen (for the verdict line)."""

    model: str
    concurrency: int
    how: str  # "pinned", "as deployed", "best of a sweep over asyncio, uvloop"
    rps: float | None = None  # the sweep's best throughput (None: not swept)

    @property
    def key(self) -> tuple[str, int]:
        return (self.model, self.concurrency)


def is_results_file(arg: str) -> bool:
    return arg.endswith(".json")


def load_side(arg: str) -> Results:
    if not Path(arg).exists():
        raise ConfigError(f"results file not found: {arg}")
    return load_results(arg)


def deployed_models(workload: Workload) -> list[str]:
    """The models a side's code is written for: an event loop for an async-only handle,
    no event loop for a plain function; every model when the workload has both forms."""
    kind = workload.handle_kind
    if kind == "both":
        return default_models()
    return [m for m in default_models() if get_model(m).has_loop == (kind == "async")
            and get_model(m).can_run(workload, []) is None]


def _check_fits(label: str, prepared: Prepared, model: str, n: int, source: str) -> None:
    reason = get_model(model).concurrency_error(n) or prepared.cannot_run(model)
    if reason:
        raise ConfigError(f"{label} {prepared.target}: {source} {model}:{n} cannot run: {reason}")


def choose_config(label: str, prepared: Prepared, pin: tuple[str, int] | None) -> Chosen | None:
    """Pinned, else declared, configuration of a side (checked against its code); None: sweep."""
    if pin is not None:
        _check_fits(label, prepared, *pin, "pinned")
        return Chosen(*pin, "pinned")
    declared = prepared.workload.deployed
    if declared is not None:
        model, _, n = declared.partition(":")
        _check_fits(label, prepared, model, int(n), "its declared deployment")
        return Chosen(model, int(n), "as deployed")
    return None


@dataclass
class Measured:
    """Both sides as Results holding exactly the trials the decision uses, and what the
    decision needs to know of how they were measured."""

    baseline: Results
    candidate: Results
    configs: dict[str, tuple[str, int] | None]  # a side's configuration (None: its best measured)
    how: dict[str, str]  # how each side's configuration was chosen (the verdict line)
    unfinished: tuple[Unfinished, ...] = ()
    notes: tuple[str, ...] = ()


def measure_sides(spec: GateSpec, progress: Progress | None = None) -> Measured:
    """Both sides measured (or loaded), see the module docstring; a side at a git revision
    is checked out first and removed however the gate ends."""
    progress = progress or SilentProgress()
    with checkouts(spec, progress) as checkout:
        sides = checkout.sides
        pins = {"baseline": spec.baseline_config, "candidate": spec.candidate_config}
        loaded = {k: load_side(v) for k, v in sides.items() if is_results_file(v)}
        to_run = [k for k in sides if k not in loaded]
        if not to_run:
            return Measured(loaded["baseline"], loaded["candidate"], pins, {"baseline": "", "candidate": ""})
        options = RunOptions(repeat=spec.repeats, timeout_s=spec.timeout_s, total=spec.total,
                             dsn=spec.dsn, db_max_connections=spec.db_max_connections)
        options.validate()
        # The user's code that runs in this process (imports, records(), services, probes)
        # prints to stderr: stdout is concur's (`--json -` holds only the JSON).
        with exported(options.workload_env()), contextlib.redirect_stdout(sys.stderr):
            measured = _measure(spec, checkout, pins, loaded, to_run, options, progress)
        measured.notes = (*checkout.notes, *measured.notes)
        return measured


def _measure(spec: GateSpec, checkout: Checkout, pins: dict[str, tuple[str, int] | None],
             loaded: dict[str, Results], to_run: list[str], options: RunOptions,
             progress: Progress) -> Measured:
    started = time.monotonic()
    sides = checkout.sides
    prepared: dict[str, Prepared] = {}
    try:
        for label in sorted(to_run, key=lambda k: k not in checkout.trees):
            # A side at a revision first, its modules forgotten after: the working tree's
            # module of the same name must import as itself (`revision.forget_modules`).
            prepared[label] = prepare(sides[label], options)  # bad targets fail here
            if label in checkout.trees:
                forget_modules(checkout.trees[label])
        with run_services([prepared[k].workload for k in to_run], progress) as described:
            for p in prepared.values():
                p.service = "; ".join(described)
            fixed = {k: choose_config(k, prepared[k], pins[k]) for k in to_run}
            swept = [Swept(k, prepared[k], spec.models or deployed_models(prepared[k].workload))
                     for k in to_run if fixed[k] is None]
            for side in swept:
                climbs.sweep(side, spec.budget_s * SWEEP_SHARE / 2, options, progress)
            if any(s.gaining for s in swept):
                spent = time.monotonic() - started
                extra = max(spec.budget_s * CLIMB_ON_SHARE, spec.budget_s * (1 - REPEAT_SHARE) - spent)
                climbs.climb_on(swept, options, time.monotonic() + extra, progress)
            plan = _plan(to_run, fixed, swept)
            for label in to_run:
                progress.note(f"{label}: {plan.how[label]}")
            results = _interleave(spec, checkout.shown, prepared, plan, options, progress)
    finally:
        for p in prepared.values():
            p.close()
    loaded.update(results)
    unfinished = tuple(u for s in swept if (u := s.unfinished()) is not None)
    for u in unfinished:
        progress.note(u.sentence)
    notes = (*plan.notes, *(n for s in swept for n in s.notes))
    configs = {k: fixed[k].key if fixed.get(k) else pins[k] for k in sides}
    how = {k: plan.how.get(k, "") for k in sides}
    return Measured(loaded["baseline"], loaded["candidate"], configs, how, unfinished, notes)


@dataclass
class Plan:
    """The configurations each side is measured in, and the words for how they were chosen."""

    configs: dict[str, list[tuple[str, int]]]
    how: dict[str, str]
    rates: dict[tuple[str, tuple[str, int]], float]  # (side, configuration) -> records/s seen
    notes: list[str]


def _plan(to_run: list[str], fixed: dict[str, Chosen | None], swept: list[Swept]) -> Plan:
    """Every configuration a sweep proposed (its fastest, after any climbing on), and the
    other side's pinned or declared one, on each swept side that can run it; a fixed side
    in its own configuration only."""
    proposed = [s.best.key for s in swept] + [c.key for c in fixed.values() if c is not None]
    proposed = list(dict.fromkeys(proposed))
    configs: dict[str, list[tuple[str, int]]] = {}
    how: dict[str, str] = {}
    rates: dict[tuple[str, tuple[str, int]], float] = {}
    by_label = {s.label: s for s in swept}
    for label in to_run:
        chosen = fixed[label]
        if chosen is not None:
            configs[label], how[label] = [chosen.key], chosen.how
            continue
        side = by_label[label]
        mine = [k for k in proposed if k == side.best.key or side.can_run(*k)]
        configs[label] = mine
        for key in mine:
            if (rate := side.rate(key)) is not None:
                rates[(label, key)] = rate
    notes = []
    for label in to_run:
        if fixed[label] is None:
            how[label] = f"best of a sweep over {', '.join(by_label[label].models)}"
    if len(to_run) == 2 and swept:
        both = [k for k in configs[to_run[0]] if k in configs[to_run[1]]]
        if both:
            notes.append(f"like with like: both sides measured at "
                         f"{', '.join(fmt.config(*k) for k in both)}, interleaved; a swept side's "
                         "figure is its best of the configurations it was measured at")
        else:
            notes.append("no configuration both sides can run (their code is written for "
                         "different models): each side's own best, measured interleaved")
    return Plan(configs, how, rates, notes)


def _interleave(spec: GateSpec, sides: dict[str, str], prepared: dict[str, Prepared], plan: Plan,
                options: RunOptions, progress: Progress) -> dict[str, Results]:
    """`spec.repeats` rounds; in each, every configuration on every side that runs it, the
    sides alternating (A B, then B A) so drift within a round cancels out. `sides`: the
    targets as the user reads them (not a checkout's temporary path)."""
    to_run = list(prepared)
    sessions: dict[str, Session] = {}
    for label in to_run:
        results = new_results(prepared[label], 0, options)
        results.workload.target = sides[label]
        results.command = f"concur gate ({label}: {sides[label]}, {plan.how[label]})"
        sessions[label] = Session(results, None, progress, probe_factory=prepared[label].workload.probe)
    keys = list(dict.fromkeys(k for label in to_run for k in plan.configs[label]))
    records = {key: spec.records or _records_at(key, to_run, plan, prepared, sessions, options, sides)
               for key in keys}
    # Configurations only one side runs (each side as deployed, or forms that differ) still
    # run the same records on both sides: the unbounded rewrite's batch is its load.
    alone = [k for k in keys if sum(k in plan.configs[label] for label in to_run) < len(to_run)]
    for key in alone:
        records[key] = min(records[k] for k in alone)
    progress.note(f"interleaving {spec.repeats} repeats per side at "
                  f"{', '.join(f'{fmt.config(*k)} ({records[k]} records)' for k in keys)}")
    order = list(to_run)
    for repeat in range(spec.repeats):
        for key in keys:
            for label in order:
                if key in plan.configs[label]:
                    sessions[label].run(prepared[label].spec(options, *key, records[key], repeat))
            order.reverse()
    out = {}
    for label in to_run:
        results = sessions[label].results
        results.workload.records_per_trial = max(records.values())
        results.finished_at = now_iso()
        if not any(t.ok and t.records > t.errors for t in results.trials):
            raise SideFailed(f"{label} {sides[label]}: every trial failed "
                             f"({', '.join(sorted({t.status_detail or f'{t.errors} errors' for t in results.trials}))})")
        analyse(results, total_records=spec.total)
        out[label] = results
    return out


def _records_at(key: tuple[str, int], to_run: list[str], plan: Plan, prepared: dict[str, Prepared],
                sessions: dict[str, Session], options: RunOptions, sides: dict[str, str]) -> int:
    """The same records for every side at `key`: about TARGET_TRIAL_S at the slower side's
    rate there (a side not measured there yet: a short probe trial tells its rate)."""
    rates = []
    for label in to_run:
        if key not in plan.configs[label]:
            continue
        rate = plan.rates.get((label, key))
        if rate is None:
            probe = sessions[label].run(prepared[label].spec(options, *key, PROBE_RECORDS, 0), keep=False)
            if probe.status != "ok" or probe.records <= probe.errors:
                raise SideFailed(f"{label} {sides[label]}: probe trial {probe.status} "
                                 f"{probe.status_detail or f'({probe.errors} errors)'}")
            rate = probe.throughput_rps
        rates.append(rate)
    return max(MIN_RECORDS, int(min(rates) * TARGET_TRIAL_S))
