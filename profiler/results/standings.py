"""The standings: the one judged table of a run's configurations, as data.

A configuration (`Config`) is the repeats of one model × concurrency that count. The
standings (`Standings`) are every configuration of a run, judged once by
`profiler.analysis.standings` (this module only holds the verdict, so a results file
loads it without judging again): which configurations are eligible for the
recommendation and which are excluded and why, which is the best (the one the verdict
recommends), which the fastest, where sequential stands, and the leaders. The sweep,
the verdict, the gate, compare and every renderer read this table; nothing else groups
or ranks trials.

results.json carries it as the top-level `standings` list (`StandingRow`, one per
configuration), ranked: the best first, then the other eligible configurations by mean
throughput, then the excluded ones (fastest first), then the configurations no trial of
which finished. A row names its trials by index, so `jq '.standings[0]'` is the
recommendation's configuration and loading the file rebuilds this table as it was judged.

The noise verdict between two configurations is `judge` (a `Tie`): is the simpler one as
good as the faster one? A tie is never decided on an assumed margin when the noise was
measured:

1. *Practical*: the simpler one is within `margin` of the faster (the constraints'
   `noise_margin`, 5 % by default: the same 5 % below which the sweep calls a step "no
   gain"). A difference that small is not worth a harder model even when it is real.
2. *Measured*: both sides have repeats, the Welch interval of the ratio of their means
   (`profiler.stats.compare`) includes 1 (not a significant difference), and the simpler
   one is within `MAX_TIE` (10 %). Beyond 10 % a difference the noise hides is still too
   large to give away: the faster one is taken, and the sentence says the noise was too
   wide to tell.
3. *Assumed*: a side was measured once, so its noise is unknown; within `ASSUMED_NOISE`
   (10 %, the spread of repeats we see on a busy 2-core machine) it counts as a tie, and
   the sentence says the noise was assumed.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from profiler import format as fmt
from profiler.models import simplicity_rank
from profiler.results.sections import Constraints
from profiler.results.trial import ModelAtN, Trial
from profiler.stats import Comparison, coefficient_of_variation, compare, mean_interval

MAX_TIE = 0.10  # a measured, non-significant difference is a tie only this close
ASSUMED_NOISE = 0.10  # with a side measured once, differences this small count as noise

# Why a configuration is excluded from the recommendation (`Standing.kind`).
ERRORS = "errors"  # 1 % of its records or more failed
CONSTRAINT = "constraint"  # over --max-connections, --max-rss, the loop-lag limit, the CPU cap
UNBOUNDED = "unbounded"  # every record in flight: grows with the batch; a bounded N ran
SUSPECT = "suspect"  # an impossible or unconfirmed reading (analysis.sanity), never confirmed
UNFINISHED = "unfinished"  # no trial of it finished (crashed, timed out, failed)
# Suspect, and the re-measurement that was to confirm it did not finish (timed out, crashed):
# the reading can never be confirmed, so it never leads, prunes or wins.
REMEASURE_FAILED = "remeasure-failed"
UNCONFIRMED = (SUSPECT, REMEASURE_FAILED)  # a reading nothing confirmed: no speed stands on it
EXCLUSION_KINDS = (ERRORS, CONSTRAINT, UNBOUNDED, SUSPECT, REMEASURE_FAILED, UNFINISHED)


def concurrency_key(concurrency: int) -> float:
    """Sort key for N: 0 means unbounded, i.e. above every finite N."""
    return math.inf if concurrency == 0 else float(concurrency)


def reading_order(configs: Iterable[Config], handle_kind: str) -> tuple[Config, ...]:
    """Simplest model first (for this handler form), then N rising, unbounded last."""
    return tuple(sorted(configs, key=lambda c: (simplicity_rank(c.model, handle_kind), c.model,
                                                concurrency_key(c.concurrency))))


@dataclass(frozen=True)
class Config(ModelAtN):
    """The repeats of one model × concurrency that count, with their indices into
    `results.trials`. Throughput is averaged over the repeats; resource ceilings are taken
    at their worst (`peak`), so a limit is judged on the worst repeat the user could hit."""

    model: str
    concurrency: int
    trials: tuple[Trial, ...]
    indices: tuple[int, ...] = ()

    @classmethod
    def of(cls, *trials: Trial) -> Config:
        """A configuration of these trials alone (e.g. one trial the sweep just ran)."""
        return cls(trials[0].model, trials[0].concurrency, tuple(trials))

    @property
    def repeats(self) -> int:
        return len(self.trials)

    @property
    def throughputs(self) -> list[float]:
        return [t.throughput_rps for t in self.trials]

    @property
    def throughput_rps(self) -> float:
        return statistics.fmean(self.throughputs)

    @property
    def throughput_cv(self) -> float | None:
        return coefficient_of_variation(self.throughputs)

    @property
    def records(self) -> int:
        return sum(t.records for t in self.trials)

    @property
    def errors(self) -> int:
        return sum(t.errors for t in self.trials)

    @property
    def error_rate(self) -> float:
        return self.errors / self.records if self.records else 0.0

    @property
    def errors_by_type(self) -> dict[str, int]:
        merged: dict[str, int] = {}
        for t in self.trials:
            for name, n in t.errors_by_type.items():
                merged[name] = merged.get(name, 0) + n
        return merged

    @property
    def best_index(self) -> int:
        """The repeat with the highest throughput (its samples stand for the configuration)."""
        return max(zip(self.trials, self.indices, strict=True), key=lambda p: p[0].throughput_rps)[1]

    def values(self, get: str | Callable[[Trial], float | None]) -> list[float]:
        """The measured (non-None) values of a Trial field (or getter) across repeats."""
        getter = (lambda t: getattr(t, get)) if isinstance(get, str) else get
        return [float(v) for v in map(getter, self.trials) if v is not None]

    def peak(self, get: str | Callable[[Trial], float | None]) -> float | None:
        vals = self.values(get)
        return max(vals) if vals else None

    def mean_of(self, get: str | Callable[[Trial], float | None]) -> float | None:
        vals = self.values(get)
        return statistics.fmean(vals) if vals else None

    def metric(self, key: str) -> float | None:
        """Mean of a numeric `Trial.model_metrics[key]` over the repeats (a model's own figures)."""
        vals = [float(v) for t in self.trials
                if isinstance(v := t.model_metrics.get(key), int | float) and not isinstance(v, bool)]
        return statistics.fmean(vals) if vals else None

    @property
    def connections(self) -> float | None:
        """Peak connections: sessions the server admitted when counted, else client sockets
        (`Trial.connections`)."""
        return self.peak(lambda t: t.connections)

    @property
    def connections_kind(self) -> str:
        """What `connections` counts here: "database sessions" or "client sockets"."""
        return "database sessions" if self.peak("db_connections_peak") is not None else "client sockets"

    @property
    def workload_connections(self) -> float | None:
        """Peak connections the workload opened, less the model's own plumbing (a cluster's
        client, scheduler and worker sockets: `model_metrics["cluster_connections"]`)."""
        conns = self.connections
        plumbing = self.metric("cluster_connections")
        if conns is not None and plumbing is not None:
            conns = max(conns - plumbing, 0.0)
        return conns


# ---------------------------------------------------------------- the one noise judge


@dataclass(frozen=True)
class Tie:
    """`simpler` against `faster`: is it a tie, on what basis, and is the answer settled?"""

    simpler: Config
    faster: Config
    comparison: Comparison  # mean(simpler) ÷ mean(faster)
    margin: float  # the practical-equivalence floor

    @property
    def ratio(self) -> float:
        return self.comparison.ratio

    @property
    def measured(self) -> bool:
        return self.comparison.measured

    @property
    def basis(self) -> str:
        """"practical", "measured" or "assumed" when a tie; "" when the faster one wins."""
        if self.ratio >= 1 - self.margin:
            return "practical"
        if self.measured:
            return "measured" if not self.comparison.significant and self.ratio >= 1 - MAX_TIE else ""
        return "assumed" if self.ratio >= 1 - ASSUMED_NOISE else ""

    @property
    def tie(self) -> bool:
        return bool(self.basis)

    @property
    def noise(self) -> str:
        """"measured" (repeats on both sides) or "assumed" (a side measured once)."""
        return "measured" if self.measured else "assumed"

    @property
    def settled(self) -> bool:
        """More repeats would not change whether these two differ: the interval excludes 1,
        or lies within the practical margin. A pair that is not settled is worth repeating."""
        return self.comparison.settled(self.margin)

    def advantage(self) -> str:
        """`threads×4 ran 1.08× as fast as sequential (833 vs 771 records/s; 95 % interval
        1.02×–1.15× over 3 and 3 repeats)`."""
        c = self.comparison
        text = (f"{self.faster.label} ran {fmt.times(1 / self.ratio) if self.ratio > 0 else fmt.NA} "
                f"as fast as {self.simpler.label} ({fmt.rate(self.faster.throughput_rps)} vs "
                f"{fmt.rate(self.simpler.throughput_rps)} records/s")
        if not c.measured or c.low is None or c.high is None:
            return text + "; one side measured once, so its noise is unknown)"
        high = fmt.times(1 / c.low) if c.low > 0 else "∞"
        return (text + f"; {fmt.pct(c.confidence)} interval {fmt.times(1 / c.high)}–{high} over "
                f"{self.faster.repeats} and {self.simpler.repeats} repeats)")

    def reason(self) -> str:
        """Why it is (or is not) a tie, in words, with the numbers."""
        ahead = self.advantage()
        basis = self.basis
        if basis == "practical":
            return f"{ahead}: under the {fmt.pct(self.margin)} a harder model must gain to be worth it"
        if basis == "measured":
            return (f"{ahead}: not a significant difference (measured noise), and within "
                    f"{fmt.pct(MAX_TIE)}")
        if basis == "assumed":
            return (f"{ahead}: within the {fmt.pct(ASSUMED_NOISE)} a single run may vary by "
                    "(noise assumed, not measured: --repeat 3 measures it)")
        if self.measured and not self.comparison.significant:
            return (f"{ahead}: the noise is too wide to call it significant, but the gap is over "
                    f"{fmt.pct(MAX_TIE)}, so the faster one is taken")
        if self.measured:
            return f"{ahead}: a significant difference (measured noise)"
        return f"{ahead}: more than the {fmt.pct(ASSUMED_NOISE)} a single run may vary by"


def judge(simpler: Config, faster: Config, margin: float) -> Tie:
    """The one noise verdict between two configurations (see the module docstring)."""
    return Tie(simpler, faster, compare(faster.throughputs, simpler.throughputs), margin)


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class Choice:
    """The comparisons the best was chosen on, against the fastest."""

    sequential_tie: Tie | None  # sequential vs the fastest (None: sequential not eligible, or fastest)
    simpler_tie: Tie | None  # the simpler model's best vs the fastest (None: the fastest's model won)
    model_best: Config  # the chosen model's best, before a lower N within the margin was taken


@dataclass(frozen=True)
class Standing:
    """One configuration's place: eligible for the recommendation, or excluded and why."""

    config: Config
    eligible: bool
    kind: str = ""  # why excluded: one of EXCLUSION_KINDS ("" when eligible)
    reason: str = ""  # the same in words, with the numbers
    left_out: tuple[int, ...] = ()  # suspect trials a clean re-measurement of it replaced
    broken: tuple[tuple[str, str], ...] = ()  # (rule, what was measured) for each rule it broke

    @property
    def label(self) -> str:
        return self.config.label


@dataclass
class StandingRow:
    """A row of results.json's `standings` list (what a reader with `jq` gets)."""

    model: str
    concurrency: int
    label: str
    rank: int | None  # 1 = the recommendation; None for excluded configurations
    eligible: bool
    excluded_kind: str  # "" or one of EXCLUSION_KINDS ("errors", "constraint", "unbounded", "suspect", "remeasure-failed", "unfinished")
    excluded_reason: str
    best: bool  # the configuration the verdict recommends
    fastest: bool  # the highest mean throughput among the eligible ones
    sequential: bool
    runs: int  # repeats that count (0: none finished)
    trials: list[int] = field(default_factory=list)  # indices into `trials` (the unfinished ones when runs is 0)
    left_out: list[int] = field(default_factory=list)  # suspect trials replaced by a clean re-measurement
    mean_rps: float | None = None
    median_rps: float | None = None
    sd_rps: float | None = None
    ci_low_rps: float | None = None  # 95 % t-interval of the mean (None with one run)
    ci_high_rps: float | None = None
    cores: float | None = None  # mean CPU busy, in cores
    sessions: int | None = None  # peak connections (database sessions when the server counted them)
    sessions_kind: str = ""  # "database sessions" or "client sockets"
    errors: int = 0
    records: int = 0
    error_rate: float | None = None


@dataclass(frozen=True)
class Standings:
    """Every configuration of a run, judged (see the module docstring). Built only by
    `profiler.analysis.standings.standings`, or loaded as it was judged."""

    rows: tuple[Standing, ...]  # ranked: best, other eligible by mean, excluded, fastest first
    configs: tuple[Config, ...]  # the same configurations in reading order: simplest model first, then N
    best: Config | None = None  # the recommendation's configuration
    fastest: Config | None = None  # the highest mean throughput among the eligible
    sequential: Config | None = None  # eligible or not: the baseline every speedup is of
    unfinished: tuple[int, ...] = ()  # trials that did not finish (crashed, timeout, failed)
    constraints: Constraints = field(default_factory=Constraints)
    handle_kind: str = "sync"  # the handler's form: which models are simpler (`Model.rank`)
    # How `best` was chosen, for the rationale's words. Judged in this process only: a
    # loaded table has its words in the recommendation already.
    choice: Choice | None = None
    # What the table was judged from (trial count, statuses, suspect marks): a table whose
    # trials changed since is stale (`analysis.standings.table` judges again).
    basis: tuple[tuple[str, bool, float, int], ...] = ()

    @property
    def margin(self) -> float:
        return self.constraints.noise_margin

    @property
    def eligible(self) -> list[Config]:
        """Eligible configurations, the best first, then by mean throughput."""
        return [r.config for r in self.rows if r.eligible]

    @property
    def excluded(self) -> list[Standing]:
        return [r for r in self.rows if not r.eligible]

    def leaders(self, k: int) -> list[Config]:
        """The first `k` eligible configurations."""
        return self.eligible[:k]

    def first(self, keep: Callable[[Config], bool], eligible_only: bool = True) -> Config | None:
        """The highest-ranked configuration that `keep` accepts (an excluded one, fastest
        first, only when `eligible_only` is False and no eligible one is accepted)."""
        return next((r.config for r in self.rows
                     if (r.eligible or not eligible_only) and keep(r.config)), None)

    def find(self, model: str | None, concurrency: int | None = None) -> Config | None:
        """The configuration of `model` (at `concurrency`, or its lowest N when not given)."""
        for c in self.configs:
            if c.model == model and (concurrency is None or c.concurrency == concurrency):
                return c
        return None

    def standing(self, c: ModelAtN) -> Standing | None:
        return next((r for r in self.rows if r.config.key == c.key), None)

    def is_eligible(self, c: ModelAtN) -> bool:
        r = self.standing(c)
        return r is not None and r.eligible

    def by_model(self) -> dict[str, list[Config]]:
        """Configurations per model, in reading order (simplest model first, N rising,
        unbounded last)."""
        out: dict[str, list[Config]] = {}
        for c in self.configs:
            out.setdefault(c.model, []).append(c)
        return out

    @property
    def sequential_rps(self) -> float | None:
        s = self.sequential
        return s.throughput_rps if s is not None and s.throughput_rps > 0 else None

    @property
    def sequential_capacity_rps(self) -> float | None:
        """One worker's capacity: sequential's fastest counted reading. What N workers cannot
        exceed N times of (`analysis.sanity`): a slow reading is interference (a cold
        database, a busy neighbour), not the worker, and judging against it calls real
        speed-ups impossible (a CI run read 350 then 520 records/s and excluded threads×2)."""
        s = self.sequential
        return max(s.throughputs) if s is not None and s.throughput_rps > 0 else None

    @property
    def fastest_clean(self) -> Config | None:
        """The highest mean among the configurations that ran cleanly (under the error
        allowance, never suspect), whatever the constraints: what stands for a run's speed
        when two runs are compared, or when no verdict was computed."""
        return max((r.config for r in self.rows if r.kind not in (ERRORS, UNFINISHED, *UNCONFIRMED)),
                   key=lambda c: (c.throughput_rps, -concurrency_key(c.concurrency)), default=None)

    @property
    def one_worker(self) -> Config | None:
        """What "× sequential" is of: sequential, else a pool of one (threads×1, the same job
        on one worker) when sequential did not run."""
        return self.sequential or self.find("threads", 1)

    @property
    def top(self) -> Config | None:
        """The best, else (nothing eligible) the fastest configuration measured at all: what
        stands for a run whose every configuration failed (the rewrite as measured)."""
        return self.best or max(self.configs, key=lambda c: c.throughput_rps, default=None)

    def judge(self, simpler: Config, faster: Config) -> Tie:
        """The noise verdict between two of these configurations, at this table's margin."""
        return judge(simpler, faster, self.margin)

    # ------------------------------------------------------------ results.json

    def to_rows(self, trials: Sequence[Trial]) -> list[StandingRow]:
        ranked = [_row(r, i + 1 if r.eligible else None, self) for i, r in enumerate(self.rows)]
        unfinished: dict[tuple[str, int], list[int]] = {}
        for i in self.unfinished:
            unfinished.setdefault(trials[i].key, []).append(i)
        for key, idx in unfinished.items():
            if self.find(*key) is not None:
                continue  # some repeat of it finished: the row above stands for it
            first = trials[idx[0]]
            ranked.append(StandingRow(
                key[0], key[1], first.label, None, False, UNFINISHED,
                "; ".join(dict.fromkeys(f"{trials[i].status}: {trials[i].status_detail}".rstrip(": ")
                                        for i in idx)),
                False, False, key[0] == "sequential", 0, idx))
        return ranked

    @classmethod
    def from_rows(cls, rows: Sequence[StandingRow], trials: Sequence[Trial],
                  constraints: Constraints, handle_kind: str) -> Standings:
        """The table as it was judged."""
        standings: list[Standing] = []
        unfinished: list[int] = []
        best = fastest = sequential = None
        for row in rows:
            if row.runs == 0:
                unfinished += row.trials
                continue
            config = Config(row.model, row.concurrency, tuple(trials[i] for i in row.trials),
                            tuple(row.trials))
            standings.append(Standing(config, row.eligible, row.excluded_kind, row.excluded_reason,
                                      tuple(row.left_out)))
            best = config if row.best else best
            fastest = config if row.fastest else fastest
            sequential = config if row.sequential else sequential
        configs = reading_order((r.config for r in standings), handle_kind)
        return cls(tuple(standings), configs, best, fastest, sequential,
                   tuple(sorted(unfinished)), constraints, handle_kind, basis=basis_of(trials))


def full_batch_s(total: int | None, rps: float | None) -> float | None:
    """The whole batch at this rate: `total / rps` (None without a total or a rate)."""
    return total / rps if total and rps and rps > 0 else None


def basis_of(trials: Sequence[Trial]) -> tuple[tuple[str, bool, float, int], ...]:
    """What a table is judged from: each trial's status, suspect mark, throughput and errors."""
    return tuple((t.status, bool(t.suspect), t.throughput_rps, t.errors) for t in trials)


def _row(r: Standing, rank: int | None, s: Standings) -> StandingRow:
    c = r.config
    xs = c.throughputs
    interval = mean_interval(xs)
    sessions = c.connections
    return StandingRow(
        model=c.model, concurrency=c.concurrency, label=c.label, rank=rank, eligible=r.eligible,
        excluded_kind=r.kind, excluded_reason=r.reason, best=c is s.best, fastest=c is s.fastest,
        sequential=c is s.sequential, runs=c.repeats, trials=list(c.indices),
        left_out=list(r.left_out), mean_rps=c.throughput_rps, median_rps=statistics.median(xs),
        sd_rps=statistics.stdev(xs) if len(xs) > 1 else None,
        ci_low_rps=interval[0] if interval else None, ci_high_rps=interval[1] if interval else None,
        cores=c.mean_of("cpu_util"), sessions=None if sessions is None else int(sessions),
        sessions_kind=c.connections_kind if sessions is not None else "", errors=c.errors,
        records=c.records, error_rate=c.error_rate if c.records else None)
