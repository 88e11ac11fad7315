"""One trial's measurements, and what describes the run around them."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from profiler import format as fmt

# Trial statuses: "ok" ran to the end (errors inside records are still counted);
# "crashed" the trial process died (segfault, os._exit) or garbled its pipe; "timeout" it
# was killed after --timeout; "failed" setup or the harness failed before the timed
# window; "over-memory" its processes passed the memory ceiling; "service-lost" a service
# the run needs (an embedded database server) stopped while it ran.
TRIAL_STATUSES = ("ok", "crashed", "timeout", "failed", "over-memory", "service-lost")


class ModelAtN:
    """What a trial and a configuration share: a model at a concurrency, and its name."""

    model: str
    concurrency: int  # 0 = unbounded (every record in flight at once)

    @property
    def label(self) -> str:
        return fmt.config(self.model, self.concurrency)

    @property
    def key(self) -> tuple[str, int]:
        return (self.model, self.concurrency)


@dataclass
class Trial(ModelAtN):
    """One model x concurrency x records x repeat, measured in its own child process.

    Field names and units are the schema: CPU in seconds over the timed window,
    `cpu_util` in cores (1.0 = one core busy), times in seconds or milliseconds as named.
    A measurement that could not be taken is None ("n/a"), never 0.
    """

    model: str
    concurrency: int  # 0 = unbounded (asyncio gather of every record)
    repeat: int
    records: int  # records attempted in the timed window
    errors: int  # records whose handler raised
    wall_s: float
    throughput_rps: float  # records completed without error per wall second
    cpu_user_s: float | None = None
    cpu_system_s: float | None = None
    cpu_util: float | None = None
    rss_peak_bytes: int | None = None
    threads_peak: int | None = None
    fds_peak: int | None = None
    connections_peak: int | None = None
    ctx_switches_voluntary: int | None = None
    ctx_switches_involuntary: int | None = None
    runqueue_wait_s: float | None = None
    iowait_frac: float | None = None
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    loop_lag_p50_ms: float | None = None
    loop_lag_p99_ms: float | None = None
    loop_lag_max_ms: float | None = None
    tasks_peak: int | None = None
    # Beyond the design's list: what a reader needs to trust or distrust the row.
    status: str = "ok"
    status_detail: str = ""
    workers: int = 1  # threads/processes running handlers (for time decomposition)
    errors_by_type: dict[str, int] = field(default_factory=dict)
    error_messages: dict[str, list[str]] = field(default_factory=dict)
    # Per error type, where the first one was raised: the last frames of the handler's own
    # code as `file:line in function` (and `raised in …` for the library call that raised).
    error_tracebacks: dict[str, list[str]] = field(default_factory=dict)
    # The last lines the trial's processes printed (stdout and stderr, captured so they never
    # reach concur's own output; redacted): what a failed trial said before it failed.
    output_tail: list[str] = field(default_factory=list)
    # Records that died of a connection failure, by kind, classified in the trial from the
    # driver's error (SQLSTATE 53300 or the server's words: "refused"; "timeout"; "reset"),
    # on any server; None in files written before it was counted.
    connection_failures: dict[str, int] | None = None
    db_connections_peak: int | None = None  # sessions the server admitted at once (the probe)
    db_refused: int | None = None  # connection attempts the server refused (the probe)
    db_server_cpu_s: float | None = None  # CPU of the database server's processes (the probe)
    probe_metrics: dict[str, Any] = field(default_factory=dict)
    model_options: dict[str, Any] = field(default_factory=dict)  # e.g. dask scheduler, chunk
    model_metrics: dict[str, Any] = field(default_factory=dict)  # e.g. dask task overhead
    samples_taken: int = 0
    # Why this trial's numbers looked impossible (speedup above N × 1.15, CPU above the
    # cores, a window under 0.3 s), set when the sweep re-measured it; "" = nothing seen.
    # A configuration leaves a suspect trial out when it has a clean one.
    suspect: str = ""
    # Throughput in each tenth of the window, and its drift: the relative change from
    # start to end (-0.12 = ended 12 % slower; None when too few records to read it).
    throughput_series_rps: list[float] = field(default_factory=list)
    drift: float | None = None
    # CPU seconds the outside sampler's own thread spent on this window (in concur's
    # process, not the tree's): what measuring cost, to keep its overhead honest.
    sampler_cpu_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def cpu_s(self) -> float | None:
        if self.cpu_user_s is None or self.cpu_system_s is None:
            return None
        return self.cpu_user_s + self.cpu_system_s

    @property
    def cpu_ms_per_record(self) -> float | None:
        cpu = self.cpu_s
        return None if cpu is None or not self.records else cpu / self.records * 1000.0

    @property
    def server_cpu_ms_per_record(self) -> float | None:
        """The database server's CPU per *completed* record: a record that failed at the door
        (refused) costs the server a fork and little else, so per attempted record a failing
        job looks cheap (`server_cpu_ms_per_attempted`)."""
        completed = self.records - self.errors
        if self.db_server_cpu_s is None or completed <= 0:
            return None
        return self.db_server_cpu_s / completed * 1000.0

    @property
    def server_cpu_ms_per_attempted(self) -> float | None:
        if self.db_server_cpu_s is None or not self.records:
            return None
        return self.db_server_cpu_s / self.records * 1000.0

    @property
    def connections(self) -> int | None:
        """Peak connections the job held: the sessions the database server admitted when a
        probe counted them, else the client's TCP sockets. Not the larger of the two: a
        refused attempt is a client socket for a moment, so under refusals the client count
        runs to ~3× the sessions the server ever held; refusals are `db_refused`."""
        return self.db_connections_peak if self.db_connections_peak is not None else self.connections_peak

    @property
    def connections_kind(self) -> str:
        """What `connections` counts, for sentences: "database sessions" or "client sockets"."""
        return "database sessions" if self.db_connections_peak is not None else "client sockets"


TRIAL_COLUMNS = [f.name for f in fields(Trial)]
# The figures the parent's sampler measures over the trial's process tree (the rest of a
# Trial comes from the child, or from the trial's own bookkeeping): `TreeSummary.figures`.
TREE_FIELDS = ("cpu_user_s", "cpu_system_s", "rss_peak_bytes", "threads_peak", "fds_peak",
               "connections_peak", "ctx_switches_voluntary", "ctx_switches_involuntary",
               "runqueue_wait_s", "iowait_frac")


@dataclass
class Skipped:
    """A model (or model x concurrency) that was not run, and why."""

    model: str
    concurrency: int | None
    reason: str


@dataclass
class WorkloadInfo:
    name: str
    target: str
    records_per_trial: int
    total_records: int | None = None
    input_file: str | None = None
    handle_kind: str = "sync"  # "sync", "async" or "both"
    service: str = ""  # what the run started for the workload, e.g. "embedded PostgreSQL 18.6 …"
    # Where the workload's database was (CONCUR_DSN, from --dsn), without credentials;
    # None: the workload's own default. Two runs against different databases are not
    # a comparison of code (`concur compare` says so).
    database: str | None = None


@dataclass
class Environment:
    python: str
    implementation: str
    cpu_count: int
    gil_enabled: bool
    platform: str
