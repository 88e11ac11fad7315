"""Measuring both sides of a gate: each side's configuration (pinned, or the best a sweep
finds), then repeats of both, interleaved A B B A …, on the same number of records, so
machine drift and noise hit both sides alike. A side given as a results.json is read,
not run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from profiler.analysis import analyse
from profiler.analysis.configs import best, group_configs
from profiler.api import profile
from profiler.errors import ConfigError
from profiler.gate.decision import SideFailed
from profiler.measure.session import Progress, Session, SilentProgress
from profiler.measure.trial import TrialSpec
from profiler.results import Results, load_results
from profiler.run.options import RunOptions
from profiler.run.prepare import new_results, now_iso, prepare

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


def is_results_file(arg: str) -> bool:
    return arg.endswith(".json")


def load_side(arg: str) -> Results:
    if not Path(arg).exists():
        raise ConfigError(f"results file not found: {arg}")
    return load_results(arg)


def measure_sides(spec: GateSpec, progress: Progress | None = None) -> tuple[Results, Results]:
    """Both sides as Results holding exactly the trials the decision uses."""
    progress = progress or SilentProgress()
    sides = {"baseline": spec.baseline, "candidate": spec.candidate}
    pins = {"baseline": spec.baseline_config, "candidate": spec.candidate_config}
    loaded = {k: load_side(v) for k, v in sides.items() if is_results_file(v)}
    to_run = [k for k in sides if k not in loaded]
    if not to_run:
        return loaded["baseline"], loaded["candidate"]
    sweep_budget = spec.budget_s * 0.3 / len(to_run)
    configs: dict[str, tuple[str, int]] = {}
    rates: dict[str, float] = {}
    for label in to_run:
        target = sides[label]
        if pins[label] is not None:
            configs[label] = pins[label]
            continue
        progress.note(f"{label}: sweeping {target} for its best configuration ({sweep_budget:.0f} s)")
        swept = profile(target, RunOptions(models=spec.models, budget_s=sweep_budget, timeout_s=spec.timeout_s),
                        progress)
        if swept.interrupted:  # the sweep kept its trials for a report; the gate has no answer
            raise KeyboardInterrupt
        top = best(group_configs(swept))
        if top is None:
            raise SideFailed(f"{label} {target}: no configuration ran without errors in the sweep")
        configs[label] = top.key
        rates[label] = max(top.throughputs)
    return _interleave(spec, sides, loaded, to_run, configs, rates, progress)


def _interleave(spec: GateSpec, sides: dict[str, str], loaded: dict[str, Results], to_run: list[str],
                configs: dict[str, tuple[str, int]], rates: dict[str, float],
                progress: Progress) -> tuple[Results, Results]:
    options = RunOptions(repeat=spec.repeats, timeout_s=spec.timeout_s)
    prepared: dict[str, Any] = {}
    try:
        for label in to_run:
            prepared[label] = prepare(sides[label], options)
        return _measure_interleaved(spec, sides, loaded, to_run, configs, rates, progress,
                                    options, prepared)
    finally:
        for p in prepared.values():
            p.close()


def _measure_interleaved(spec: GateSpec, sides: dict[str, str], loaded: dict[str, Results],
                         to_run: list[str], configs: dict[str, tuple[str, int]],
                         rates: dict[str, float], progress: Progress, options: RunOptions,
                         prepared: dict[str, Any]) -> tuple[Results, Results]:
    sessions: dict[str, Session] = {}
    for label in to_run:
        results = new_results(prepared[label], 0, options)
        results.command = f"concur gate ({label}: {sides[label]} at {configs[label][0]}:{configs[label][1]})"
        sessions[label] = Session(results, None, progress, probe_factory=prepared[label].workload.probe)

    def spec_for(label: str, records: int, repeat: int) -> TrialSpec:
        model, n = configs[label]
        return prepared[label].spec(options, model, n, records, repeat)

    records = spec.records
    if records is None:
        for label in to_run:
            if label not in rates:  # pinned: a short probe trial tells its rate
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
        analyse(results)
        loaded[label] = results
    return loaded["baseline"], loaded["candidate"]
