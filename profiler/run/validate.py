"""`--validate N`: run the recommended configuration once on N records after the sweep.

The sweep's trials last about a second; a batch lasts minutes or hours, long enough for
a database to grow dead rows, for checkpoints to start, for a cache to fill. One long
run of the configuration the verdict recommends shows whether the short trials' speed
holds: the result goes to `results.validation` (predicted vs measured for N records, the
correction, the drift inside the run) and the full-batch prediction takes it in
(`analysis.predict`). It runs after the sweep, outside its budget, because it was asked
for; it is never one of the configuration's repeats (its size differs).
"""

from __future__ import annotations

from pathlib import Path

from profiler import format as fmt
from profiler.analysis.predict import significant_drift
from profiler.analysis.standings import table
from profiler.measure.session import Progress, Session
from profiler.results import Results, Validation
from profiler.run.options import RunOptions
from profiler.run.prepare import Prepared

TIMEOUT_FACTOR = 3.0  # the run may take this many times its predicted time before it is killed


def validate(prepared: Prepared, results: Results, options: RunOptions, progress: Progress) -> None:
    """Fill `results.validation` (nothing to do without a recommendation or --validate)."""
    rec = results.recommendation
    if not options.validate_records or rec is None or rec.model is None or rec.concurrency is None:
        if options.validate_records:
            progress.note("--validate: no configuration was recommended, nothing to validate")
        return
    config = table(results).find(rec.model, rec.concurrency)
    if config is None or config.throughput_rps <= 0:
        return
    records = options.validate_records
    if prepared.available_records is not None:
        records = min(records, prepared.available_records)
    predicted_s = records / config.throughput_rps
    timeout = max(options.timeout_s, TIMEOUT_FACTOR * predicted_s + 30.0)
    progress.note(f"--validate: {config.label} on {fmt.count(records)} records (about "
                  f"{fmt.duration(predicted_s)})")
    session = Session(results, Path(options.json_path) if options.json_path else None, progress,
                      probe_factory=prepared.workload.probe)
    spec = prepared.spec(options, config.model, config.concurrency, records, repeat=0,
                         timeout_s=timeout)
    trial = session.run(spec, keep=False)
    v = Validation(config.model, config.concurrency, records, trial.status, config.throughput_rps,
                   predicted_s, errors=trial.errors)
    if trial.ok and trial.throughput_rps > 0:
        v.measured_s = trial.wall_s
        v.throughput_rps = trial.throughput_rps
        v.correction = trial.throughput_rps / config.throughput_rps
        v.drift = significant_drift(trial)
        v.note = (f"{fmt.count(records)} records took {fmt.duration(trial.wall_s)} against "
                  f"{fmt.duration(predicted_s)} predicted from the sweep's trials "
                  f"({fmt.times(v.correction)} their throughput)")
    else:
        v.note = f"the validation run did not finish: {trial.status} ({trial.status_detail})"
    results.validation = v
    session.save()
