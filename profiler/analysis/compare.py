"""Comparing two runs, once: baseline vs candidate, each at one configuration, metric by metric.

`concur compare`, `concur gate` and the story of a pair all ask it here. Each side is
represented by a configuration of its standings (`representative`: the fastest eligible
one, else, when every configuration failed records beyond the allowance, its fastest one:
the rewrite as measured, its errors among the deltas; or the configuration the caller
pinned). Every metric's difference is judged by the one noise judge
(`profiler.stats.compare`: a Welch 95 % interval of the ratio of means over the repeats);
with one repeat on a side the noise is unknown and no winner is claimed on that metric.
The gate adds only thresholds and exit codes (`profiler.review.decision`), over the same
`Side` figures. Pure: nothing here runs a workload or writes a file.
"""

from __future__ import annotations

import shlex
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from profiler import format as fmt
from profiler.analysis.configs import unfinished
from profiler.analysis.standings import table
from profiler.analysis.story import bounded_form, is_rewrite_model, story_of
from profiler.results import Config, Results, Story, Trial
from profiler.results.schema import to_data
from profiler.results.standings import full_batch_s
from profiler.stats import Comparison, compare
from profiler.workload import describe_database


@dataclass(frozen=True)
class Metric:
    key: str
    name: str
    get: Callable[[Trial], float | None]
    render: Callable[[float | None], str]
    phrase: str  # inside a sentence
    higher_is_better: bool = False
    difference: Callable[[float | None], str] | None = None  # the change in the metric's unit
    # Why a configuration has no value at all (not merely an unmeasured one), e.g. a batch
    # time for a configuration that fails its records; None: every configuration has one.
    withheld: Callable[[Config], str | None] | None = None


METRICS: tuple[Metric, ...] = (
    Metric("throughput", "Throughput", lambda t: t.throughput_rps, fmt.rps, "throughput", True),
    Metric("cpu_util", "CPU", lambda t: t.cpu_util, fmt.cores, "CPU"),
    Metric("cpu_per_record", "CPU per record", lambda t: t.cpu_ms_per_record, fmt.ms, "CPU per record"),
    Metric("connections_peak", "Connections peak", lambda t: t.connections, fmt.count,
           "peak connections"),
    Metric("loop_lag_p99", "Loop lag p99", lambda t: t.loop_lag_p99_ms, fmt.ms, "loop lag p99"),
    Metric("rss_peak", "RSS peak", lambda t: t.rss_peak_bytes, fmt.mib, "peak RSS"),
    Metric("error_rate", "Records failed", lambda t: t.errors / t.records if t.records else None,
           fmt.pct, "records failed"),
    Metric("db_refused", "Connections refused", lambda t: t.db_refused, fmt.count,
           "connections refused"),
    Metric("server_cpu_per_record", "Server CPU per completed record",
           lambda t: t.server_cpu_ms_per_record, fmt.ms, "database server CPU per completed record"),
)


def batch_metric(total: int) -> Metric:
    """The whole batch's time at each trial's throughput (`--total`), with the difference."""
    return Metric("full_batch", f"Full batch ({fmt.count(total)} records)",
                  lambda t: full_batch_s(total, t.throughput_rps), fmt.duration, "full-batch time",
                  difference=fmt.signed_duration, withheld=unfinished)


@dataclass(frozen=True)
class Delta:
    metric: Metric
    baseline: float | None  # mean over the best configuration's repeats
    candidate: float | None
    comparison: Comparison | None  # None: not measured on both sides
    better: str | None  # label of the better run; None unless the difference is beyond the noise
    note: str = ""  # why a side has no value (`Metric.withheld`), said instead of a method

    @property
    def key(self) -> str:
        return self.metric.key

    @property
    def name(self) -> str:
        return self.metric.name

    def render(self, value: float | None) -> str:
        return self.metric.render(value)

    @property
    def change_pct(self) -> float | None:
        return None if self.comparison is None else self.comparison.ratio - 1

    @property
    def change(self) -> str:
        """`+49.2 %`, and for a metric with a unit of difference also that: `+49.2 % (+3 min 02 s)`."""
        text = fmt.signed_pct(self.change_pct)
        if self.metric.difference and self.baseline is not None and self.candidate is not None:
            text += f" ({self.metric.difference(self.candidate - self.baseline)})"
        return text

    @property
    def within_noise(self) -> bool | None:
        """None: not measured on both sides, or the noise is unknown (one repeat)."""
        if self.comparison is None or self.comparison.significant is None:
            return None
        return not self.comparison.significant

    @property
    def method(self) -> str:
        if self.note:
            return self.note
        return "not measured on both sides" if self.comparison is None else self.comparison.method

    @property
    def judged(self) -> str:
        if self.comparison is None:
            return "n/a"
        if self.better:
            return f"{self.better} better"
        return "noise unknown" if self.within_noise is None else "within noise"


@dataclass
class Side:
    """One side's figures at its configuration (one entry per repeat where a metric varies):
    what the gate's checks read, and what a reader of a comparison needs of each side."""

    label: str
    model: str
    concurrency: int
    throughput_rps: list[float]
    cpu_per_record_s: list[float]
    connections_peak: int | None
    loop_lag_p99_ms: float | None
    rss_peak_bytes: int | None
    errors: int
    records: int
    chosen_by: str = ""  # "pinned", "as deployed", "best of a sweep over …" (the verdict line)
    connections_kind: str = "connections"  # "database sessions" when the server counted them

    @property
    def config(self) -> str:
        return fmt.config(self.model, self.concurrency)

    @property
    def described(self) -> str:
        """`asyncio×unbounded (as deployed)`: the configuration measured, and why that one."""
        return f"{self.config} ({self.chosen_by})" if self.chosen_by else self.config

    @property
    def repeats(self) -> int:
        return len(self.throughput_rps)

    @property
    def mean_rps(self) -> float:
        return statistics.fmean(self.throughput_rps)

    @classmethod
    def of(cls, label: str, c: Config, chosen_by: str = "") -> Side:
        conns = c.connections
        return cls(
            label=label, model=c.model, concurrency=c.concurrency,
            throughput_rps=c.throughputs,
            cpu_per_record_s=[t.cpu_s / t.records for t in c.trials if t.cpu_s is not None and t.records],
            connections_peak=None if conns is None else int(conns),
            loop_lag_p99_ms=c.peak("loop_lag_p99_ms"),
            rss_peak_bytes=None if (rss := c.peak("rss_peak_bytes")) is None else int(rss),
            errors=c.errors, records=c.records, chosen_by=chosen_by,
            connections_kind="database sessions" if c.connections_kind == "database sessions"
            else "connections",
        )


def throughput(baseline: Side, candidate: Side) -> Comparison:
    """mean(candidate) ÷ mean(baseline) throughput, judged on the noise of the repeats: the
    judgement the gate's slowdown check, `concur compare` and their reports share."""
    return compare(baseline.throughput_rps, candidate.throughput_rps)


@dataclass(frozen=True)
class CompareOutcome:
    labels: tuple[str, str]
    baseline: Side | None  # None: that run has no configuration that finished a trial
    candidate: Side | None
    deltas: tuple[Delta, ...]
    winner: str | None  # label of the faster run; None unless beyond the noise
    verdict: str
    story: Story | None = None  # the pair as the job and its rewrite: the headline, first
    # What differs between the runs besides the code (target, database, machine): a reader
    # must know before taking the deltas as the code's.
    mismatches: tuple[str, ...] = ()
    databases: tuple[str, str] = ("", "")  # where each run's database was (`database`)

    @property
    def baseline_config(self) -> str:
        return self.baseline.config if self.baseline else fmt.NA

    @property
    def candidate_config(self) -> str:
        return self.candidate.config if self.candidate else fmt.NA

    @property
    def within_noise(self) -> bool:
        return self.winner is None

    def delta(self, key: str) -> Delta:
        return next(d for d in self.deltas if d.key == key)

    def lines(self) -> list[str]:
        """The verdict, then one line per measured metric: what `concur compare` prints."""
        out = [self.story.headline] if self.story else []
        out += [self.verdict, *(f"warning: {m}" for m in self.mismatches)]
        for d in self.deltas:
            if d.comparison is not None:
                out.append(f"  {d.name}: {d.render(d.baseline)} → {d.render(d.candidate)} "
                           f"({d.change}, {d.judged})")
        return out

    def to_dict(self) -> dict[str, Any]:
        """`concur compare --json`: the verdict, each side, and every measured delta."""
        def side(s: Side | None) -> dict[str, Any] | None:
            return None if s is None else {**asdict(s), "config": s.config, "mean_rps": s.mean_rps}

        return {
            "verdict": self.verdict, "winner": self.winner, "labels": list(self.labels),
            "baseline": side(self.baseline), "candidate": side(self.candidate),
            "deltas": [{"metric": d.key, "name": d.name, "baseline": d.baseline,
                        "candidate": d.candidate, "change": d.change_pct,
                        "ratio_low": d.comparison.low if d.comparison else None,
                        "ratio_high": d.comparison.high if d.comparison else None,
                        "within_noise": d.within_noise, "better": d.better, "judged": d.judged,
                        "method": d.method} for d in self.deltas],
            "mismatches": list(self.mismatches),
            "story": to_data(self.story) if self.story else None,
        }


def compare_metric(metric: Metric, base: Config | None, cand: Config | None,
                   labels: tuple[str, str]) -> Delta:
    withheld = {label: why for label, c in zip(labels, (base, cand), strict=True)
                if c is not None and metric.withheld and (why := metric.withheld(c))}
    a = base.values(metric.get) if base and labels[0] not in withheld else []
    b = cand.values(metric.get) if cand and labels[1] not in withheld else []
    mean_a = sum(a) / len(a) if a else None
    mean_b = sum(b) / len(b) if b else None
    if not a or not b:
        note = "; ".join(f"the {label} {why}" for label, why in withheld.items())
        return Delta(metric, mean_a, mean_b, None, None, note)
    judgement = compare(a, b)
    better = None
    if judgement.significant:
        better = labels[1] if (judgement.ratio > 1) == metric.higher_is_better else labels[0]
    return Delta(metric, mean_a, mean_b, judgement, better)


def representative(results: Results, pin: tuple[str, int] | None = None) -> Config | None:
    """The configuration that stands for a run: the pinned one when given, else the fastest
    that ran cleanly (`Standings.fastest_clean`: the constraints of a run are not a
    comparison's), else (every configuration failed records beyond the allowance) the
    fastest measured: the rewrite as measured, its errors among the deltas."""
    s = table(results)
    if pin is not None:
        return s.find(*pin)
    return s.fastest_clean or max(s.configs, key=lambda c: c.throughput_rps, default=None)


def compare_runs(a: Results, b: Results, labels: tuple[str, str] = ("baseline", "candidate"),
                 configs: tuple[Config | None, Config | None] | None = None,
                 chosen_by: tuple[str, str] = ("", ""), total: int | None = None) -> CompareOutcome:
    """The deltas and the verdict of two runs, each at its representative configuration (or
    at `configs`, chosen by the caller, e.g. the gate's), the full batch of `total` records
    (default: the runs' own --total); pure."""
    chosen = configs or (representative(a), representative(b))
    total = total or b.workload.total_records or a.workload.total_records
    metrics = (*METRICS, batch_metric(total)) if total else METRICS
    deltas = tuple(compare_metric(m, chosen[0], chosen[1], labels) for m in metrics)
    # The candidate as written is an unbounded gather: its run's bounded form, if it measured one.
    bounded = (bounded_form(table(b)) if chosen[1] is not None and chosen[1].concurrency == 0
               and is_rewrite_model(chosen[1].model) else None)
    story = (story_of(chosen[0], chosen[1], total, [*a.attribution, *b.attribution], bounded)
             if chosen[0] and chosen[1] else None)
    sides = tuple(Side.of(label, c, how) if c is not None else None
                  for label, c, how in zip(labels, chosen, chosen_by, strict=True))
    return CompareOutcome(labels, sides[0], sides[1], deltas, deltas[0].better,
                          _verdict_sentence(deltas, labels), story=story,
                          mismatches=mismatches(a, b, labels), databases=(database(a), database(b)))


DEFAULT_DATABASE = "the workload's default database"


def database(results: Results) -> str:
    """Where a run's database was: the server the run started for itself (its kind, not its
    port: every run starts a fresh one), recorded by the run, or its command's --dsn."""
    if results.workload.service:
        return results.workload.service.split(" at ")[0]
    if results.workload.database:
        return results.workload.database
    try:
        args = shlex.split(results.command)
    except ValueError:
        args = []
    for i, arg in enumerate(args):
        value = args[i + 1] if arg == "--dsn" and i + 1 < len(args) else (
            arg.split("=", 1)[1] if arg.startswith("--dsn=") else None)
        if value:
            return describe_database(value) or DEFAULT_DATABASE
    return DEFAULT_DATABASE


def mismatches(a: Results, b: Results, labels: tuple[str, str]) -> tuple[str, ...]:
    """What the two runs differ in besides the code under test, one sentence each."""
    out = []
    if a.workload.target != b.workload.target:
        out.append(f"different targets: {labels[0]} ran {a.workload.target}, {labels[1]} ran "
                   f"{b.workload.target}")
    if database(a) != database(b):
        out.append(f"different databases: {labels[0]} used {database(a)}, {labels[1]} used "
                   f"{database(b)}; the deltas are the databases' as much as the code's")
    ea, eb = a.environment, b.environment
    if (ea.cpu_count, ea.python, ea.gil_enabled) != (eb.cpu_count, eb.python, eb.gil_enabled):
        out.append(f"different environments ({ea.cpu_count} vs {eb.cpu_count} cores, Python "
                   f"{ea.python} vs {eb.python}): the difference is not only the code's")
    return tuple(out)


def _verdict_sentence(deltas: tuple[Delta, ...], labels: tuple[str, str]) -> str:
    thr = deltas[0]
    base, cand = labels
    if thr.comparison is None:
        return f"No comparison: {base if thr.baseline is None else cand} has no successful trial."
    nums = f"{thr.render(thr.candidate)} vs {thr.render(thr.baseline)} ({fmt.signed_pct(thr.change_pct)})"
    if thr.within_noise is None:
        return (f"{cand[:1].upper() + cand[1:]} runs at {nums}; one repeat on a side, so the noise "
                "is unknown and no winner is claimed (--repeat 3 measures it).")
    if thr.within_noise:
        return f"No clear winner: {cand} runs at {nums}, within the noise of the repeats."
    winner = thr.better
    loser = base if winner == cand else cand
    faster = "faster" if winner == cand else "slower"
    sentence = f"{cand[:1].upper() + cand[1:]} is {faster}: {nums}, beyond the noise of the repeats."
    costs = []
    for d in deltas[1:]:
        # Cores busy scale with records done per second: the faster run "costing more CPU"
        # is no cost; CPU per record is the fair comparison, and it is among the deltas.
        if d.key == "cpu_util":
            continue
        if d.better == loser:
            mine, theirs = (d.candidate, d.baseline) if winner == cand else (d.baseline, d.candidate)
            costs.append(f"{d.metric.phrase} {d.render(mine)} vs {d.render(theirs)}")
    if costs:
        sentence += f" But {winner} costs more: {'; '.join(costs)}."
    return sentence


