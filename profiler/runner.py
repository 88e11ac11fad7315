"""`run_profile()`: the whole `concur run`, from checked options to analysed Results.

Order: load and check the target in this process (bad input fails here, as one
`ConcurError`), hand the run's settings to the workload (`RunOptions.workload_env`: the
DSN, the records, the total, for the duration of the run only), start the workload's
run-scoped service (e.g. an embedded database), run the plan or the adaptive sweep (each
trial in its own child), analyse, and, when asked, attribute the recommended
configuration's time; then stop the service and restore the environment, on every path.
The public face is `profiler.api.profile`.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from profiler.analysis import analyse
from profiler.analysis.sanity import mark_unconfirmed
from profiler.attribution import attribute, choose_configurations
from profiler.errors import ServiceLost
from profiler.measure.session import Progress, Session, SilentProgress, keep_results
from profiler.results import Results
from profiler.run.options import DEFAULT_RECORDS, RunOptions
from profiler.run.plan import explicit_grid
from profiler.run.prepare import Prepared, new_results, now_iso, prepare
from profiler.run.service import exported, run_services
from profiler.run.signals import signal_name
from profiler.run.sweep import Sweep
from profiler.run.validate import validate

MIN_SWEEP_BUDGET_S = 10.0  # a service slower than the budget still leaves the sweep this much


def run_profile(target: str, options: RunOptions, progress: Progress | None = None) -> Results:
    """Run `target` under the concurrency models and return the analysed Results (see the
    module docstring). A KeyboardInterrupt stops the run; the results measured so far are
    returned with `interrupted=True` (and are already on disk when json_path is set)."""
    options.validate()
    progress = progress or SilentProgress()
    # The user's code that runs in this process (the target's import, records(), the
    # service, the probe) prints to stderr: stdout is concur's (`--json -` holds only JSON).
    with exported(options.workload_env()), contextlib.redirect_stdout(sys.stderr):
        return _run(target, options, progress)


def _run(target: str, options: RunOptions, progress: Progress) -> Results:
    prepared = prepare(target, options)
    services = [prepared.workload] if options.start_services else []
    try:  # from here every way out removes prepare's temp file and stops the run's service
        started = time.monotonic()
        with run_services(services, progress) as described:
            prepared.service = "; ".join(described)
            options = within_budget(options, time.monotonic() - started, progress)
            results = measure(prepared, options, progress, described.down)
            analyse(results, options.constraints, total_records=options.total)
            if options.validate_records and not (results.interrupted or results.stopped_by):
                validate(prepared, results, options, progress)
                analyse(results, options.constraints, total_records=options.total)  # takes it in
            if options.attribution and not (results.interrupted or results.stopped_by):
                _attribute(prepared, results, options, progress)
    finally:
        prepared.close()
    if options.json_path:
        keep_results(results, options.json_path, progress)
    return results


def within_budget(options: RunOptions, spent_s: float, progress: Progress) -> RunOptions:
    """The adaptive sweep's budget less what starting the run's service took: `--budget` is
    the whole run's (a database started for the run is part of the run)."""
    if options.concurrency is not None or spent_s < 0.5:
        return options
    left = max(MIN_SWEEP_BUDGET_S, options.budget_s - spent_s)
    progress.note(f"starting the run's service took {spent_s:.1f} s of the {options.budget_s:g} s budget; "
                  f"{left:.1f} s left for the sweep")
    return replace(options, budget_s=left)


def measure(prepared: Prepared, options: RunOptions, progress: Progress,
            service_down: Callable[[], str | None] | None = None) -> Results:
    """The trials of one run: an explicit grid, or the adaptive sweep without --concurrency.
    A service that stops under a trial (`service_down`) ends the run there, said in
    `Results.stopped_by`; the trials before it are kept."""
    records = options.records or DEFAULT_RECORDS
    if prepared.available_records is not None:
        records = min(records, prepared.available_records)
    # A grid no model can run fails before anything starts (even `uname`, which describing
    # the environment runs).
    grid = (explicit_grid(prepared, options.models, options.concurrency)
            if options.concurrency is not None else None)
    results = new_results(prepared, records, options)
    session = Session(results, Path(options.json_path) if options.json_path else None, progress,
                      probe_factory=prepared.workload.probe, service_down=service_down)
    try:
        if grid is None:
            Sweep(session, prepared, options).run()
        else:
            for s in grid.skipped:
                session.skip(s.model, s.concurrency, s.reason)
            planned = len(grid.pairs) * options.repeat
            # Repeats interleave (all pairs, then all pairs again) so drift hits every pair.
            for repeat in range(options.repeat):
                for model, n in grid.pairs:
                    session.run(prepared.spec(options, model, n, records, repeat), planned)
            mark_unconfirmed(results.trials, results.environment.cpu_count)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP under the CLI (run.signals)
        results.interrupted = True
        progress.note(f"interrupted ({signal_name(exc)}): keeping the trials measured so far")
    except ServiceLost as exc:
        results.stopped_by = str(exc)
        progress.note(f"{exc}: the run stops here, keeping the trials measured before")
    if prepared.feed is not None and prepared.feed.error:
        session.log("records", f"{prepared.feed.error}: trials used the {prepared.feed.written:,} "
                    "rows before it")
        progress.note(f"{prepared.feed.error}: trials used the {prepared.feed.written:,} rows before it")
    if results.trials:  # the sweep sizes each trial to ~1 s: report the largest
        results.workload.records_per_trial = max(t.records for t in results.trials)
    results.finished_at = now_iso()
    session.save()
    return results


def _attribute(prepared: Prepared, results: Results, options: RunOptions,
               progress: Progress) -> None:
    """--attribution: re-run the recommended configuration (and the fastest event-loop one)
    under py-spy and yappi, outside the timed sweep, and keep why each is slow."""
    out_dir = Path(options.attribution_dir or Path(options.json_path or "results.json").parent)
    for config in choose_configurations(results):
        progress.note(f"attribution: {config.label} under py-spy and yappi (about 10 s)")
        try:
            entry = attribute(prepared.target, config.model, config.concurrency,
                              results.workload.records_per_trial, out_dir,
                              expected_rps=config.throughput_rps, records_file=prepared.records_file,
                              timeout_s=options.timeout_s, model_options=options.model_options)
        except KeyboardInterrupt:
            results.interrupted = True
            progress.note("interrupted: keeping the attribution measured so far")
            break
        results.attribution.append(entry)
        for warning in entry.warnings:
            progress.note(f"attribution: {warning}")
        if options.json_path:
            results.save(options.json_path)
