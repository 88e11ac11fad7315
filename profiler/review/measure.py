"""Measuring both sides of a gate: each side as it would be deployed, then repeats of both,
interleaved A B B A …, on the same number of records, so machine drift and noise hit both
sides alike. A side given as a results.json is read, not run.

Which configuration a side is measured in, in this order (the verdict line names it):
1. pinned (`--baseline-config`/`--candidate-config`), if the side's code can run in it;
2. the workload's declared deployment (`Workload.deployed`, e.g. "asyncio:0" for a
   rewrite that gathers every record at once);
3. the best of a sweep over the models the side's code is written for: an `async def`
   handle on an event loop (asyncio, uvloop: bounded and unbounded), a plain function in
   sequential, threads or processes. Never, silently, a model the code would not run in
   (an async rewrite measured one record at a time in a plain loop is not the rewrite).
Both sides' run-scoped services (e.g. the embedded database) are started once, shared by
the two sides when they are the same, and stopped however the gate ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from profiler import format as fmt
from profiler.analysis import analyse
from profiler.errors import ConfigError
from profiler.measure.session import Progress, Session, SilentProgress
from profiler.measure.trial import TrialSpec
from profiler.models import default_models, get_model
from profiler.results import Results, load_results
from profiler.review.decision import SideFailed
from profiler.run.options import RunOptions
from profiler.run.prepare import Prepared, new_results, now_iso, prepare
from profiler.run.service import exported, run_services
from profiler.runner import run_profile
from profiler.workload import Workload

PROBE_RECORDS = 20
TARGET_TRIAL_S = 1.0
MIN_RECORDS = 50


@dataclass
class GateSpec:
    baseline: str
    candidate: str
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


def measure_sides(spec: GateSpec, progress: Progress | None = None
                  ) -> tuple[Results, Results, dict[str, Chosen]]:
    """Both sides as Results holding exactly the trials the decision uses, and how each
    side's configuration was chosen (results files: not included)."""
    progress = progress or SilentProgress()
    sides = {"baseline": spec.baseline, "candidate": spec.candidate}
    pins = {"baseline": spec.baseline_config, "candidate": spec.candidate_config}
    loaded = {k: load_side(v) for k, v in sides.items() if is_results_file(v)}
    to_run = [k for k in sides if k not in loaded]
    if not to_run:
        return loaded["baseline"], loaded["candidate"], {}
    options = RunOptions(repeat=spec.repeats, timeout_s=spec.timeout_s, total=spec.total,
                         dsn=spec.dsn, db_max_connections=spec.db_max_connections)
    options.validate()
    with exported(options.workload_env()):
        return _measure(spec, sides, pins, loaded, to_run, options, progress)


def _measure(spec: GateSpec, sides: dict[str, str], pins: dict[str, tuple[str, int] | None],
             loaded: dict[str, Results], to_run: list[str], options: RunOptions,
             progress: Progress) -> tuple[Results, Results, dict[str, Chosen]]:
    prepared = {label: prepare(sides[label], options) for label in to_run}  # bad targets fail here
    try:
        with run_services([p.workload for p in prepared.values()], progress) as described:
            for p in prepared.values():
                p.service = "; ".join(described)
            chosen = _configurations(spec, prepared, pins, progress)
            return (*_interleave(spec, sides, loaded, prepared, chosen, options, progress), chosen)
    finally:
        for p in prepared.values():
            p.close()


def _configurations(spec: GateSpec, prepared: dict[str, Prepared],
                    pins: dict[str, tuple[str, int] | None], progress: Progress) -> dict[str, Chosen]:
    sweep_budget = spec.budget_s * 0.3 / len(prepared)
    chosen: dict[str, Chosen] = {}
    for label, side in prepared.items():
        fixed = choose_config(label, side, pins[label])
        if fixed is not None:
            chosen[label] = fixed
            continue
        models = spec.models or deployed_models(side.workload)
        progress.note(f"{label}: sweeping {side.target} over {', '.join(models)} for its best "
                      f"configuration ({sweep_budget:.0f} s)")
        swept = run_profile(side.target, RunOptions(models=models, budget_s=sweep_budget,
                                                    timeout_s=spec.timeout_s, start_services=False),
                            progress)
        if swept.interrupted:  # the sweep kept its trials for a report; the gate has no answer
            raise KeyboardInterrupt
        top = swept.standings.fastest if swept.standings else None
        if top is None:
            raise SideFailed(f"{label} {side.target}: no configuration ran without errors in the sweep")
        chosen[label] = Chosen(top.model, top.concurrency,
                               f"best of a sweep over {', '.join(models)}", max(top.throughputs))
    return chosen


def _interleave(spec: GateSpec, sides: dict[str, str], loaded: dict[str, Results],
                prepared: dict[str, Prepared], chosen: dict[str, Chosen], options: RunOptions,
                progress: Progress) -> tuple[Results, Results]:
    to_run = list(prepared)
    sessions: dict[str, Session] = {}
    for label in to_run:
        results = new_results(prepared[label], 0, options)
        c = chosen[label]
        results.command = (f"concur gate ({label}: {sides[label]} at {c.model}:{c.concurrency}, "
                           f"{c.how})")
        sessions[label] = Session(results, None, progress, probe_factory=prepared[label].workload.probe)

    def spec_for(label: str, records: int, repeat: int) -> TrialSpec:
        return prepared[label].spec(options, chosen[label].model, chosen[label].concurrency,
                                    records, repeat)

    for label in to_run:
        progress.note(f"{label}: {fmt.config(*chosen[label].key)} ({chosen[label].how})")
    records = spec.records
    if records is None:
        rates = {label: c.rps for label, c in chosen.items() if c.rps is not None}
        for label in to_run:
            if label not in rates:  # not swept: a short probe trial tells its rate
                probe = sessions[label].run(spec_for(label, PROBE_RECORDS, 0), keep=False)
                if probe.status != "ok" or probe.records <= probe.errors:
                    raise SideFailed(f"{label} {sides[label]}: probe trial {probe.status} "
                                     f"{probe.status_detail or f'({probe.errors} errors)'}")
                rates[label] = probe.throughput_rps
        records = max(MIN_RECORDS, int(min(rates.values()) * TARGET_TRIAL_S))
    progress.note(f"interleaving {spec.repeats} repeats per side of {records} records each")
    order = list(to_run)
    for repeat in range(spec.repeats):
        for label in order:
            sessions[label].run(spec_for(label, records, repeat))
        order.reverse()  # A B, B A, A B …: drift within a round cancels out
    for label in to_run:
        results = sessions[label].results
        results.workload.records_per_trial = records
        results.finished_at = now_iso()
        if not any(t.ok and t.records > t.errors for t in results.trials):
            raise SideFailed(f"{label} {sides[label]}: every trial failed "
                             f"({', '.join(sorted({t.status_detail or f'{t.errors} errors' for t in results.trials}))})")
        analyse(results, total_records=spec.total)
        loaded[label] = results
    return loaded["baseline"], loaded["candidate"]
