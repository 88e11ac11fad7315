"""The verdict's sections of results.json, typed: what analysis writes and reports read.

Each section is a dataclass whose field names are the JSON keys users' scripts parse
(`classification.label`, `recommendation.model`, `recommendation.warnings`, ...).
Fields are added, never renamed or removed; a reader gets attributes, not `.get()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from profiler.errors import ConfigError


@dataclass
class Classification:
    """What kind of work this is, from the CPU share of one worker, refined by scaling."""

    label: str  # "cpu-bound", "io-bound", "mixed", "borderline", "unknown" or "failed" (no record succeeded)
    cpu_fraction: float | None = None
    confidence: str = "low"  # "low", "medium", "high"
    refinements: list[str] = field(default_factory=list)  # "releases-GIL", "serialized"
    evidence: list[str] = field(default_factory=list)
    basis_trial: int | None = None  # index into trials of the first trial classified from
    # The labels the CPU fraction may take within its noise: [label] when clear, both (or
    # all three) readings when "borderline".
    readings: list[str] = field(default_factory=list)
    cpu_fraction_noise: float | None = None  # ± how far another run's fraction may land
    noise: str = ""  # "measured" (repeats) or "assumed" (measured once)


@dataclass
class ScalingPoint:
    concurrency: int
    throughput_rps: float
    repeats: int = 1
    from_sequential: bool = False  # N=1 of a pool taken from the sequential trials


@dataclass
class ScalingFit:
    """One model's Universal Scalability Law fit; numbers are None unless status is "ok"."""

    status: str  # "ok", "not enough points", "fit failed"
    lambda_rps: float | None = None
    sigma: float | None = None
    kappa: float | None = None
    n_star: float | None = None
    r2: float | None = None
    points: list[ScalingPoint] = field(default_factory=list)
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok" and None not in (self.lambda_rps, self.sigma, self.kappa)


@dataclass(frozen=True)
class Constraints:
    """Limits a recommended configuration must stay within (None = no limit)."""

    max_connections: int | None = None
    max_rss_bytes: int | None = None
    max_loop_lag_p99_ms: float | None = 100.0
    max_cpu_util: float | None = None  # in cores
    # Practical equivalence: a simpler model this close to the best wins even when the
    # difference is real (`Standings.judge`); the measured noise decides beyond it.
    noise_margin: float = 0.05

    def __post_init__(self) -> None:
        if not 0 <= self.noise_margin < 1:
            raise ConfigError(f"noise margin must be between 0 and 1, got {self.noise_margin}")
        for name in ("max_connections", "max_rss_bytes", "max_loop_lag_p99_ms", "max_cpu_util"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"{name} must be positive, got {value}")


@dataclass
class Exclusion:
    """A configuration the recommendation could not take, and why."""

    model: str
    concurrency: int
    reason: str


@dataclass
class Recommendation:
    """The configuration to use; model and concurrency are None when none qualified."""

    model: str | None
    concurrency: int | None
    throughput_rps: float | None
    speedup: float | None  # over sequential
    keep_sequential: bool
    sentence: str
    rationale: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    constraints: Constraints = field(default_factory=Constraints)
    excluded: list[Exclusion] = field(default_factory=list)
    # The tool's own choices (a model skipped because it cannot run this handler, ...):
    # worth knowing, but not a reason to distrust the recommendation, unlike `warnings`.
    notes: list[str] = field(default_factory=list)
    # How the deciding tie question (sequential vs the best, or a simpler model vs the best)
    # was judged: "measured" (repeats on both sides), "assumed" (a side ran once), "" (none).
    noise: str = ""

    def names(self, model: str, concurrency: int) -> bool:
        return self.model == model and self.concurrency == concurrency


@dataclass
class PredictionRow:
    """Predicted wall time of the full batch at one configuration (low = optimistic end)."""

    model: str
    concurrency: int
    wall_s: float | None
    low_s: float | None
    high_s: float | None
    throughput_rps: float
    repeats: int
    recommended: bool = False
    note: str = ""
    drift: float | None = None  # throughput change within a trial, when significant (-0.12: fell 12 %)
    validated: bool = False  # corrected by the --validate run of this configuration


@dataclass
class Validation:
    """`--validate N`: the recommended configuration run once on N records after the sweep,
    against what the sweep's short trials predicted for N records."""

    model: str
    concurrency: int
    records: int
    status: str  # the trial's status: "ok", "crashed", "timeout", "failed"
    sweep_rps: float  # the configuration's mean over the sweep's trials
    predicted_s: float  # records / sweep_rps
    measured_s: float | None = None
    throughput_rps: float | None = None
    correction: float | None = None  # measured ÷ sweep throughput (0.71: the long run went 29 % slower)
    drift: float | None = None  # within the validation run, when significant
    errors: int = 0
    note: str = ""


@dataclass
class Predictions:
    total_records: int
    confidence: float
    rows: list[PredictionRow] = field(default_factory=list)

    @property
    def recommended(self) -> PredictionRow | None:
        return next((r for r in self.rows if r.recommended), None)


@dataclass
class SweepEvent:
    """One decision of the adaptive sweep, so a reader can see why it went where it did."""

    t_s: float
    event: str  # calibrate, baseline, unbounded, climb, stop, budget, repeat, done
    model: str | None
    concurrency: int | None
    message: str


@dataclass
class Decomposition:
    """Where the workers' time went, as fractions of worker-seconds (they sum to 1)."""

    on_cpu: float
    runqueue: float
    waiting: float
    worker_s: float | None = None  # workers × wall seconds; None for an average of several


@dataclass
class TopFunction:
    function: str
    file: str
    samples: int
    share: float


@dataclass
class YappiRow:
    function: str
    kind: str  # "user", "loop_internal", "harness", "other"
    file: str
    wall_s: float | None
    cpu_s: float | None
    calls: int | None


@dataclass
class Attribution:
    """Why one configuration is slow: the py-spy and yappi passes (`concur run --attribution`).

    Every share is None when its pass did not run or could not measure it; `warnings` and
    `gil_note` say why."""

    model: str
    concurrency: int
    records: int | None = None
    gil_share: float | None = None
    gil_note: str = ""
    gil_wait_share: float | None = None
    wait_breakdown: dict[str, float] | None = None  # running, gil, lock, sleep, io
    idle_share: float | None = None
    loop_internal_share: float | None = None
    user_share: float | None = None
    harness_share: float | None = None
    other_share: float | None = None
    top_cpu: list[TopFunction] = field(default_factory=list)
    yappi_top: list[YappiRow] = field(default_factory=list)
    flamegraph: str | None = None  # file names relative to the report folder
    speedscope: str | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    throughput_rps: float | None = None  # while py-spy sampled
    unsampled_throughput_rps: float | None = None
    decomposition: Decomposition | None = None
    cpu_samples: int | None = None
    window_s: float | None = None
    pyspy_cores: float | None = None
    yappi_records: int | None = None
    python: str = ""
    pyspy_version: str = ""


@dataclass
class StorySide:
    """One side of the story (the job as it was, or its rewrite) at its measured configuration.

    Means over the configuration's repeats for rates; the worst repeat for sessions,
    refusals and loop lag. A side that failed more than 1 % of its records has no batch
    time (`batch_s` None, `batch_note` says why): a job that fails is not a job that
    finishes later. Server CPU per record is per *completed* record (its CPU over all
    repeats ÷ the records that succeeded), and per attempted record beside it."""

    name: str  # "the thread pool (threads×4)", "the asyncio rewrite (gather over all records)"
    config: str  # "threads×4"
    model: str
    concurrency: int
    rps: float  # records that succeeded per second
    batch_s: float | None  # total / rps: the full batch at this rate (None: no total, or it fails)
    db_sessions_peak: int | None  # sessions the database server admitted at once
    db_refused: int | None  # connection attempts refused (per trial, worst repeat)
    cpu_per_record_ms: float | None  # the client's (the job's process tree), per attempted record
    loop_lag_p99_ms: float | None
    error_rate: float  # the failed fraction of the records attempted (all repeats)
    repeats: int = 1
    records_per_trial: int = 0
    client_sockets_peak: int | None = None  # TCP sockets of the job's tree (refused ones too)
    db_refused_source: str = ""  # "driver errors", "server log" (older files) or "client errors"
    server_cpu_per_record_ms: float | None = None  # the database server's, per completed record
    top_waits: dict[str, float] = field(default_factory=dict)  # wait type → share of active samples
    loop_overhead_cores: float | None = None  # event-loop bookkeeping (--attribution's yappi)
    attempted: int = 0  # records attempted in the timed windows, all repeats
    completed: int = 0  # of them, records that succeeded
    batch_low_s: float | None = None  # the batch time's interval (optimistic end), from the repeats
    batch_high_s: float | None = None  # its pessimistic end (None: unknown or unbounded)
    batch_note: str = ""  # how firm batch_s is, or why there is none
    db_timeouts: int | None = None  # records that died of a timeout (per trial, worst repeat)
    db_resets: int | None = None  # records whose connection broke (per trial, worst repeat)
    db_refused_server_log: int | None = None  # the server's own log, a cross-check (embedded)
    server_cpu_per_attempted_ms: float | None = None  # the same CPU ÷ records attempted
    delta_s: float | None = None  # batch_s − the baseline's (the rewrite's sides only)


@dataclass
class Story:
    """The seed's question answered for a baseline and its rewrite: how long the whole batch
    takes each way, and why. Every number comes from the trials in the same results.
    `rewrite_bounded` is the rewrite's best bounded configuration (N records in flight):
    what a team ships after the rewrite as written failed; priced against the baseline."""

    total: int | None
    baseline: StorySide
    rewrite: StorySide
    delta_s: float | None  # rewrite batch − baseline batch (positive: the rewrite is slower)
    headline: str = ""
    details: list[str] = field(default_factory=list)
    server_shared: bool = False  # the server CPU is a shared server's (others' sessions in it)
    rewrite_bounded: StorySide | None = None
