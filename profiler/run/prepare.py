"""A target loaded and checked once in this process, before any trial runs.

Bad input fails here, as one `ConcurError`: a target that does not load, records that
cannot be produced, an input file that cannot be read. What each model can run is
decided from a sample of the real records (`Prepared.cannot_run`).
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
from typing import Any

from profiler.errors import ConcurError, ConfigError
from profiler.measure.trial import TrialSpec
from profiler.models import get_model
from profiler.results import Environment, Results, WorkloadInfo
from profiler.run.options import RunOptions
from profiler.version import __version__
from profiler.workload import Workload, describe_database, load_target, read_input

SAMPLE_RECORDS = 50


@dataclass
class Prepared:
    """A loaded, checked target and where its records come from."""

    target: str
    workload: Workload
    records_file: str | None  # pickled rows of --input, for the trial children
    sample: list[Any]  # the first records, to check what each model can run
    available_records: int | None  # rows of --input; None = as many as asked

    def cannot_run(self, model: str) -> str | None:
        return get_model(model).can_run(self.workload, self.sample)

    def spec(self, options: RunOptions, model: str, n: int, records: int, repeat: int = 0,
             timeout_s: float | None = None) -> TrialSpec:
        return TrialSpec(target=self.target, model=model, concurrency=n, records=records,
                         repeat=repeat, records_file=self.records_file,
                         timeout_s=options.timeout_s if timeout_s is None else timeout_s,
                         sample_interval_s=options.sample_interval_s,
                         options=options.model_options)

    def close(self) -> None:
        if self.records_file:
            os.unlink(self.records_file)
            self.records_file = None


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
        sample = rows[:SAMPLE_RECORDS]
    else:
        try:
            sample = workload.make_records(SAMPLE_RECORDS)
        except ConcurError:  # the workload said itself what is wrong (e.g. a missing extra)
            raise
        except Exception as exc:
            raise ConfigError(f"the workload's records() raised {type(exc).__name__}: {exc}") from None
        if not sample:
            raise ConfigError("the workload's records() produced no records")
    return Prepared(target, workload, records_file, sample, available)


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


def new_results(prepared: Prepared, records: int, options: RunOptions) -> Results:
    return Results(
        workload=WorkloadInfo(
            name=prepared.workload.name,
            target=prepared.target,
            records_per_trial=records,
            total_records=options.total,
            input_file=options.input_file,
            handle_kind=prepared.workload.handle_kind,
            database=describe_database(os.environ.get("CONCUR_DSN")),
        ),
        environment=environment(),
        command=options.command or default_command(prepared.target, options),
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
