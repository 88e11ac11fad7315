"""A target loaded and checked once in this process, before any trial runs.

Bad input fails here, as one `ConcurError`: a target that does not load, records that
cannot be produced, an input file that cannot be read. What each model can run is
decided from a sample of the real records (`Prepared.cannot_run`).

`--input` is streamed (`workload.iter_input`): its rows are read, a chunk at a time, only
as far as the largest trial so far needs, and appended to a private temp file of pickled
chunks that each trial child reads up to its own count (`RecordFeed`). So concur's memory
and the temp file follow the records measured, not the size of the input file.

Every trial gets a memory ceiling: `--max-rss` when given, else a share of the memory
available when the run starts, so one leaking handler is stopped before it takes the
machine (see `profiler.measure.trial`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import pickle
import platform
import secrets
import shlex
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psutil

from profiler import format as fmt
from profiler.errors import ConcurError, ConfigError, InputError
from profiler.measure.trial import TrialSpec
from profiler.models import get_model
from profiler.results import Environment, Results, WorkloadInfo
from profiler.run.options import RunOptions
from profiler.version import __version__
from profiler.workload import Workload, describe_database, iter_input, load_target

SAMPLE_RECORDS = 50
DEFAULT_MEMORY_SHARE = 0.8  # of the memory available at the start: the default trial ceiling


@dataclass
class RecordFeed:
    """The records of `--input` (or given as objects) for the trial children: a temp file of
    pickled chunks, extended from the input only as far as a trial asks (`supply`)."""

    path: str
    chunks: Iterator[list[Any]] | None  # the input still to read; None once it is all written
    written: int = 0
    error: str = ""  # why reading stopped before the end of the input (a row it cannot parse)

    def supply(self, n: int) -> int:
        """Make at least `n` records readable from the file (fewer if the input has fewer);
        how many it holds now."""
        while self.written < n and self.chunks is not None:
            try:
                rows = next(self.chunks)
            except StopIteration:
                self.chunks = None
                break
            except InputError as exc:
                if not self.written:
                    raise
                self.chunks, self.error = None, str(exc)  # the rows before it are the input
                break
            with open(self.path, "ab") as fh:
                pickle.dump(rows, fh, protocol=pickle.HIGHEST_PROTOCOL)
            self.written += len(rows)
        return self.written

    @property
    def exhausted(self) -> bool:
        return self.chunks is None


@dataclass
class Prepared:
    """A loaded, checked target and where its records come from."""

    target: str
    workload: Workload
    records_file: str | None  # pickled chunks of --input's rows, for the trial children
    sample: list[Any]  # the first records, to check what each model can run
    available_records: int | None  # rows of --input once all are read; None = as many as asked
    model_options: dict[str, Any] = field(default_factory=dict)  # a broker to reach, …
    service: str = ""  # what the run's service is (Workload.service), once it is running
    max_rss_bytes: int | None = None  # each trial's memory ceiling
    max_rss_source: str = "--max-rss"  # whose ceiling, in the trial's status detail
    feed: RecordFeed | None = None  # --input, read as far as the trials need

    def cannot_run(self, model: str) -> str | None:
        found = get_model(model)
        return found.can_run(self.workload, self.sample) or found.options_reason(self.model_options)

    def spec(self, options: RunOptions, model: str, n: int, records: int, repeat: int = 0,
             timeout_s: float | None = None) -> TrialSpec:
        """The trial's spec; its records are made readable first (`RecordFeed.supply`). A
        trial that asks for more records than there are gets what there is (the session
        says so)."""
        self.supply(records)
        limited = timeout_s is not None and timeout_s < options.timeout_s
        return TrialSpec(target=self.target, model=model, concurrency=n, records=records,
                         repeat=repeat, records_file=self.records_file,
                         timeout_s=options.timeout_s if timeout_s is None else timeout_s,
                         sample_interval_s=options.sample_interval_s,
                         options=options.model_options, max_rss_bytes=self.max_rss_bytes,
                         max_rss_source=self.max_rss_source,
                         timeout_source="what was left of --budget" if limited else "--timeout")

    def supply(self, records: int) -> None:
        """Read --input as far as `records` rows; once it is all read, `available_records`
        says how many it has."""
        if self.feed is not None:
            self.feed.supply(records)
            if self.feed.exhausted:
                self.available_records = self.feed.written

    def close(self) -> None:
        """Remove the --input pickle; safe to call twice (every exit path calls it)."""
        if self.records_file:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.records_file)
            self.records_file = None


def prepare(target: str, options: RunOptions) -> Prepared:
    """Load and check `target`; the caller must `close()` the result (it may hold a temp file)."""
    workload = load_target(target)
    ceiling = memory_ceiling(options.constraints.max_rss_bytes)
    if not options.input_file and options.input_rows is None:
        try:
            sample = workload.make_records(SAMPLE_RECORDS)
        except ConcurError:  # the workload said itself what is wrong (e.g. a missing extra)
            raise
        except Exception as exc:
            raise ConfigError(f"the workload's records() raised {type(exc).__name__}: {exc}") from None
        if not sample:
            raise ConfigError("the workload's records() produced no records")
        return Prepared(target, workload, None, sample, None, dict(options.model_options),
                        max_rss_bytes=ceiling[0], max_rss_source=ceiling[1])
    chunks: Iterator[list[Any]] = (iter([list(options.input_rows)]) if options.input_rows is not None
                                   else iter_input(options.input_file))
    # Named before it exists, so an interrupt anywhere in the writing still finds it.
    records_file = os.path.join(tempfile.gettempdir(),
                                f"concur-records-{os.getpid()}-{secrets.token_hex(6)}.pickle")
    try:
        os.close(os.open(records_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
        feed = RecordFeed(records_file, chunks)
        try:
            feed.supply(SAMPLE_RECORDS)
            with open(records_file, "rb") as fh:
                sample = pickle.load(fh)[:SAMPLE_RECORDS] if feed.written else []
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise InputError(f"the records cannot be handed to a trial process: {type(exc).__name__}: {exc}") from None
        if not sample:
            raise InputError(f"input file {os.path.basename(options.input_file or '')} has no rows"
                             if options.input_file else "no records were given")
        return Prepared(target, workload, records_file, sample,
                        feed.written if feed.exhausted else None, dict(options.model_options),
                        max_rss_bytes=ceiling[0], max_rss_source=ceiling[1], feed=feed)
    except BaseException:  # interrupted or unpicklable: leave no temp file behind
        with contextlib.suppress(FileNotFoundError):
            os.unlink(records_file)
        raise


def memory_ceiling(max_rss_bytes: int | None) -> tuple[int, str]:
    """Each trial's memory ceiling and where it comes from: --max-rss, else
    DEFAULT_MEMORY_SHARE of the memory available now."""
    if max_rss_bytes:
        return max_rss_bytes, "--max-rss"
    available = psutil.virtual_memory().available
    return (int(available * DEFAULT_MEMORY_SHARE),
            f"default: {fmt.pct(DEFAULT_MEMORY_SHARE, 0)} of the {fmt.mib(available)} available "
            "at the start; set --max-rss")


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
            service=prepared.service,
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
