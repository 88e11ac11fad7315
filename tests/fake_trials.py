"""A deterministic world for the sweep: trials computed from a throughput curve, time
from a fake clock. The sweep's budget decisions are then the same on every machine, so
tests can assert exactly what the sweep log contains (no process runs, nothing flips).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profiler.measure.session import Session
from profiler.measure.trial import TrialOutcome, TrialSpec
from profiler.results import Results, Trial
from profiler.run.options import RunOptions
from profiler.run.prepare import new_results, prepare
from profiler.run.sweep import Sweep

OVERHEAD_S = 0.6  # process start, imports, setup: what a real trial costs beyond its window

Curve = Callable[[str, int], tuple[float, float]]  # (model, N) -> (records/s, cores busy)


@dataclass
class World:
    curve: Curve
    noise: Callable[[TrialSpec, int], float] = lambda spec, i: 1.0  # multiplies throughput
    now: float = 0.0
    specs: list[TrialSpec] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def run(self, spec: TrialSpec, probe: Any = None) -> TrialOutcome:
        rps, cores = self.curve(spec.model, spec.concurrency)
        rps *= self.noise(spec, len(self.specs))
        self.specs.append(spec)
        wall = spec.records / rps
        self.now += wall + OVERHEAD_S
        trial = Trial(model=spec.model, concurrency=spec.concurrency, repeat=spec.repeat,
                      records=spec.records, errors=0, wall_s=wall, throughput_rps=rps,
                      cpu_user_s=cores * wall, cpu_system_s=0.0, cpu_util=cores,
                      workers=max(spec.concurrency, 1))
        return TrialOutcome(trial, {})


def sweep(tmp_path: Path, curve: Curve, *, handler: str = "sync", budget_s: float = 60.0,
          noise: Callable[[TrialSpec, int], float] | None = None, **options: Any
          ) -> tuple[Results, World]:
    """Run the real Sweep against `curve`; `handler` picks a sync, an async or a story
    target ("both": a sync handle and its async rewrite)."""
    target = tmp_path / "job.py"
    body = {"async": "async def handle(record):\n    pass\n",
            "sync": "def handle(record):\n    pass\n",
            "both": ("from profiler.workload import Workload\n\n"
                     "def sync(record):\n    pass\n\n"
                     "async def rewrite(record):\n    pass\n\n"
                     "handle = Workload(name='story', handle=sync, async_handle=rewrite)\n")}[handler]
    target.write_text(body)
    world = World(curve, noise or (lambda spec, i: 1.0))
    opts = RunOptions(budget_s=budget_s, **options)
    prepared = prepare(f"{target}:handle", opts)
    results = new_results(prepared, 0, opts)
    session = Session(results, trial_runner=world.run, clock=world.clock)
    Sweep(session, prepared, opts).run()
    return results, world


def io_curve(per_record_s: float = 0.010, cap: int | None = None, cpu_per_record_s: float = 0.0002
             ) -> Curve:
    """Waiting work: N workers do N/per_record_s records/s (up to `cap` sessions, if any)."""
    def curve(model: str, n: int) -> tuple[float, float]:
        workers = 1 if model == "sequential" else (n or 10_000)
        if cap is not None:
            workers = min(workers, cap)
        if model == "processes":
            workers = min(workers, 4)
        rps = workers / per_record_s
        return rps, min(rps * cpu_per_record_s, 1.0)
    return curve


def cpu_curve(cores: int = 2, per_record_s: float = 0.003) -> Curve:
    """Pure-Python CPU work: processes scale to the cores, everything else stays at one."""
    def curve(model: str, n: int) -> tuple[float, float]:
        busy = min(n, cores) if model == "processes" else 1
        return busy / per_record_s, float(busy)
    return curve


def log(results: Results, event: str | None = None) -> list[str]:
    return [f"{e.event} {e.model}×{e.concurrency}: {e.message}" for e in results.sweep_log
            if event is None or e.event == event]


def reached(results: Results, model: str) -> int:
    """The highest N of `model` the sweep measured."""
    return max((t.concurrency for t in results.trials if t.model == model), default=0)


def seeded(spread: float) -> Callable[[TrialSpec, int], float]:
    """Deterministic ±spread noise: the same pattern on every run."""
    return lambda spec, i: 1.0 + spread * math.sin(1.7 * i + 0.3)
