"""`profile()`: the whole `concur run` as a library call (the CLI only parses and prints).

Order: load and check the target in this process (bad input fails here, as one
`ConcurError`), decide the plan, run trials (each in its own child), then analyse.
"""

from __future__ import annotations

import datetime as dt
import os
import pickle
import platform
import shlex
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from profiler.errors import ConfigError
from profiler.models.processes import unpicklable_reason
from profiler.plan import explicit_grid
from profiler.results import Environment, Results, WorkloadInfo
from profiler.session import Progress, Session, SilentProgress
from profiler.trial import TrialSpec
from profiler.version import __version__
from profiler.workload import Workload, load_target, read_input

DEFAULT_RECORDS = 200
DEFAULT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class RunOptions:
    models: list[str] | None = None
    concurrency: list[int] | None = None  # None = adaptive sweep
    records: int | None = None
    repeat: int = 1
    total: int | None = None
    budget_s: float = 60.0
    input_file: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    sample_interval_s: float = 0.05
    model_options: tuple[tuple[str, Any], ...] = ()  # passed to every trial (see TrialSpec)
    json_path: str | None = None
    command: str = ""
    attribution: bool = False  # --attribution: py-spy/yappi passes after the sweep
    attribution_dir: str | None = None  # where their files go (default: beside json_path)

    def validate(self) -> None:
        if self.records is not None and self.records < 1:
            raise ConfigError(f"--records must be ≥ 1, not {self.records}")
        if self.repeat < 1:
            raise ConfigError(f"--repeat must be ≥ 1, not {self.repeat}")
        if self.timeout_s <= 0:
            raise ConfigError(f"--timeout must be > 0 seconds, not {self.timeout_s:g}")
        if self.budget_s <= 0:
            raise ConfigError(f"--budget must be > 0 seconds, not {self.budget_s:g}")
        if self.total is not None and self.total < 1:
            raise ConfigError(f"--total must be ≥ 1, not {self.total}")


def environment() -> Environment:
    gil_check = getattr(sys, "_is_gil_enabled", None)
    return Environment(
        python=platform.python_version(),
        implementation=platform.python_implementation(),
        cpu_count=os.cpu_count() or 1,
        gil_enabled=bool(gil_check()) if gil_check else True,
        platform=platform.platform(),
    )


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass
class Prepared:
    """A loaded, checked target and where its records come from."""

    workload: Workload
    records_file: str | None
    unpicklable: str | None
    available_records: int | None


def prepare(target: str, options: RunOptions) -> Prepared:
    workload = load_target(target)
    records_file = None
    available = None
    if options.input_file:
        rows = read_input(options.input_file)
        available = len(rows)
        fd, records_file = tempfile.mkstemp(prefix="concur-records-", suffix=".pickle")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(rows, fh)
        sample = rows[:50]
    else:
        try:
            sample = workload.make_records(50)
        except Exception as exc:
            raise ConfigError(f"the workload's records() raised {type(exc).__name__}: {exc}") from None
        if not sample:
            raise ConfigError("the workload's records() produced no records")
    return Prepared(workload, records_file, unpicklable_reason(sample), available)


def new_results(target: str, prepared: Prepared, records: int, options: RunOptions) -> Results:
    return Results(
        workload=WorkloadInfo(
            name=prepared.workload.name,
            target=target,
            records_per_trial=records,
            total_records=options.total,
            input_file=options.input_file,
            handle_kind=prepared.workload.handle_kind,
        ),
        environment=environment(),
        command=options.command or default_command(target, options),
        started_at=now_iso(),
        tool_version=__version__,
    )


def default_command(target: str, options: RunOptions) -> str:
    parts = ["concur", "run", target]
    if options.models:
        parts += ["--models", ",".join(options.models)]
    if options.concurrency:
        parts += ["--concurrency", ",".join(map(str, options.concurrency))]
    if options.records:
        parts += ["--records", str(options.records)]
    if options.repeat != 1:
        parts += ["--repeat", str(options.repeat)]
    if options.input_file:
        parts += ["--input", options.input_file]
    return shlex.join(parts)


def profile(target: str, options: RunOptions | None = None, progress: Progress | None = None,
            constraints: Any = None, **kwargs: Any) -> Results:
    """Run `target` under the concurrency models and return the Results.

    `profile("jobs.py:handle", concurrency=[1, 4, 16], records=500)` is the same run as
    `concur run jobs.py:handle --concurrency 1,4,16 --records 500`. A KeyboardInterrupt
    stops the run; the results measured so far are returned with `interrupted=True`
    (and are already on disk when json_path is set).
    """
    from profiler.analysis import Constraints, analyse

    options = options or RunOptions(**kwargs)
    options.validate()
    constraints = constraints or Constraints()
    prepared = prepare(target, options)
    progress = progress or SilentProgress()
    try:
        results = _run(target, prepared, options, progress, constraints)
        analyse(results, constraints, total_records=options.total)
        if options.attribution and not results.interrupted:
            _attribute(target, prepared, results, options, progress)
    finally:
        if prepared.records_file:
            os.unlink(prepared.records_file)
    if options.json_path:
        results.save(options.json_path)
    return results


def _attribute(target: str, prepared: Prepared, results: Results, options: RunOptions,
               progress: Progress) -> None:
    """--attribution: re-run the recommended configuration (and the fastest event-loop one)
    under py-spy and yappi, outside the timed sweep, and keep why each is slow."""
    from profiler.attribution import attribute, choose_configurations

    out_dir = Path(options.attribution_dir or Path(options.json_path or "results.json").parent)
    for model, n, rps in choose_configurations(results):
        progress.note(f"attribution: {model} × {n} under py-spy and yappi (about 10 s)")
        try:
            entry = attribute(target, model, n, results.workload.records_per_trial, out_dir,
                              expected_rps=rps, records_file=prepared.records_file,
                              timeout_s=options.timeout_s, model_options=options.model_options)
        except KeyboardInterrupt:
            results.interrupted = True
            progress.note("interrupted: keeping the attribution measured so far")
            break
        results.attribution.append(entry)
        for warning in entry["warnings"]:
            progress.note(f"attribution: {warning}")
        if options.json_path:
            results.save(options.json_path)


def _run(target: str, prepared: Prepared, options: RunOptions, progress: Progress,
         constraints: Any) -> Results:
    records = options.records or DEFAULT_RECORDS
    if prepared.available_records is not None and records > prepared.available_records:
        records = prepared.available_records
    results = new_results(target, prepared, records, options)
    session = Session(results, Path(options.json_path) if options.json_path else None, progress,
                      probe_factory=prepared.workload.probe)

    def spec(model: str, n: int, repeat: int, count: int = records) -> TrialSpec:
        return TrialSpec(target=target, model=model, concurrency=n, records=count,
                         repeat=repeat, records_file=prepared.records_file,
                         timeout_s=options.timeout_s, sample_interval_s=options.sample_interval_s,
                         options=options.model_options)

    try:
        if options.concurrency is None:
            from profiler.sweep import adaptive_sweep

            adaptive_sweep(session, prepared, options, spec, constraints)
        else:
            grid = explicit_grid(prepared.workload, options.models, options.concurrency,
                                 prepared.unpicklable)
            for s in grid.skipped:
                session.skip(s.model, s.concurrency, s.reason)
            planned = len(grid.pairs) * options.repeat
            # Repeats interleave (all pairs, then all pairs again) so drift hits every pair.
            for repeat in range(options.repeat):
                for model, n in grid.pairs:
                    session.run(spec(model, n, repeat), planned)
    except KeyboardInterrupt:
        results.interrupted = True
        progress.note("interrupted: keeping the trials measured so far")
    if results.trials:  # the sweep sizes each trial to ~1 s: report the largest
        results.workload.records_per_trial = max(t.records for t in results.trials)
    results.finished_at = now_iso()
    session.save()
    return results
