"""The review gate's decision: candidate vs baseline, check by check, noise-aware.

Pure: `evaluate(baseline, candidate, thresholds)` takes the two sides' measurements and
returns a `GateOutcome`, whose `passed` is the exit-code decision (coverage.py's
`should_fail_under` is the model). Thresholds come from `profiler.review.config`.

Noise: throughput and CPU-per-record checks judge the ratio of the means with the one
noise judge every report uses (`profiler.stats.compare`: a Welch 95 % interval over the
repeats). A check fails only when the whole interval is past the threshold; when the
point estimate is past it but the interval is not, the check passes and says "within
noise". With one repeat on a side the noise is unknown and the point estimate decides,
as the check's note says.

Inconclusive: a side whose climb stopped while its model still gained (`Unfinished`) was
not measured at its best, so a throughput verdict on it compares effort, not code. The
outcome is then "inconclusive" (exit 5), unless the answer cannot change: the difference
is beyond noise at a configuration both sides ran, or the unfinished side could only move
the verdict further the way it already points (a baseline still gaining, a candidate
already slower than it: fails; a candidate still gaining that already passes: passes).
Checks other than throughput do not depend on how far a climb went: one of them failing
is a failure whatever the climbs.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from profiler import format as fmt
from profiler.analysis.compare import CompareOutcome, Side, compare_runs, representative, throughput
from profiler.analysis.standings import table
from profiler.errors import ConcurError, ConfigError
from profiler.results import Config, Results, Story
from profiler.results.schema import to_data
from profiler.stats import Comparison, compare


@dataclass(frozen=True)
class Thresholds:
    """Limits a candidate must meet; None = not checked. Fractions: 0.05 = 5 %."""

    max_slowdown: float | None = 0.05
    min_speedup: float | None = None
    max_connections: int | None = None
    max_connections_increase: float | None = None
    max_cpu_increase: float | None = None
    max_loop_lag_p99_ms: float | None = None
    max_rss_increase: float | None = None


THRESHOLD_KEYS = {f.name for f in fields(Thresholds)}


# ---------------------------------------------------------------- the sides


def parse_config(text: str | None) -> tuple[str, int] | None:
    """"threads:16" -> ("threads", 16); None stays None."""
    if text is None:
        return None
    model, sep, n = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return model.strip(), int(n)
    except ValueError:
        raise ConfigError(f"a configuration is MODEL:N, e.g. threads:16 (not {text!r})") from None


@dataclass(frozen=True)
class Unfinished:
    """A side whose climb stopped while its model still gained: `config` is its best so far."""

    label: str  # "baseline" or "candidate"
    config: str  # "threads×64"

    @property
    def sentence(self) -> str:
        return f"{self.label} still gaining at {self.config}: raise --budget"


THROUGHPUT_CHECKS = ("slowdown", "speedup")  # the checks an unfinished climb leaves open


class SideFailed(ConcurError):
    """A side could not run at all (every trial crashed, failed or raised): exit 3."""

    exit_code = 3


def side_from_results(label: str, results: Results, config: tuple[str, int] | None,
                      chosen_by: str = "") -> Side:
    """The side at its pinned configuration, else at its representative one."""
    return Side.of(label, chosen_config(label, results, config), chosen_by)


def chosen_config(label: str, results: Results, config: tuple[str, int] | None) -> Config:
    """The side's configuration: the pinned one, else its fastest eligible one
    (`analysis.compare.representative`).

    A side with no eligible configuration is `SideFailed` (exit 3, as the README says); a
    pinned configuration the results never ran is the user's mistake (exit 2)."""
    chosen = representative(results, config)
    if config is None:
        if chosen is None or not results.standings or not results.standings.is_eligible(chosen):
            raise SideFailed(f"{label}: no configuration completed with under 1 % errors; "
                             "nothing to compare")
    elif chosen is None:
        ran = any(t.key == config for t in results.trials)
        raise (SideFailed if ran else ConfigError)(
            f"{label}: no successful trial of {config[0]}:{config[1]} in the results")
    return chosen


def judge(baseline: Results, candidate: Results, thresholds: Thresholds, source: str = "defaults",
          configs: tuple[tuple[str, int] | None, tuple[str, int] | None] = (None, None),
          chosen_by: tuple[str, str] = ("", ""), total: int | None = None,
          unfinished: tuple[Unfinished, ...] = (), notes: tuple[str, ...] = ()) -> GateOutcome:
    """The gate's decision on two runs at their configurations: the one comparison of the
    pair (`analysis.compare`, with the story for the headline), then the thresholds, then
    whether climbs that did not finish leave the throughput verdict open."""
    a = chosen_config("baseline", baseline, configs[0])
    b = chosen_config("candidate", candidate, configs[1])
    compared = compare_runs(baseline, candidate, configs=(a, b), chosen_by=chosen_by, total=total)
    assert compared.baseline is not None and compared.candidate is not None
    outcome = evaluate(compared.baseline, compared.candidate, thresholds, source, unfinished,
                       shared_comparisons(baseline, candidate))
    outcome.compared, outcome.story, outcome.runs = compared, compared.story, (baseline, candidate)
    outcome.notes = [*notes, *outcome.notes]
    return outcome


def shared_comparisons(baseline: Results, candidate: Results) -> dict[str, Comparison]:
    """Throughput at every configuration both runs measured, candidate ÷ baseline, judged by
    the one noise judge: "a configuration both sides ran"."""
    theirs = {c.key: c for c in table(candidate).configs}
    return {c.label: compare(c.throughputs, theirs[c.key].throughputs)
            for c in table(baseline).configs if c.key in theirs}


# ---------------------------------------------------------------- the checks


@dataclass
class Check:
    name: str
    passed: bool
    baseline: str
    candidate: str
    delta: str
    threshold: str
    note: str = ""


@dataclass
class GateOutcome:
    baseline: Side
    candidate: Side
    checks: list[Check] = field(default_factory=list)
    thresholds_source: str = "defaults"
    throughput: Comparison | None = None  # the judgement the slowdown check and the report share
    story: Story | None = None  # the pair's story (analysis.story), shown before the verdict
    compared: CompareOutcome | None = None  # the one comparison of the pair, for the report
    runs: tuple[Results, Results] | None = None  # the two runs judged (baseline, candidate)
    unfinished: tuple[Unfinished, ...] = ()  # sides whose climb stopped still gaining
    conclusive: bool = True  # False: the throughput checks are open (see the module docstring)
    notes: list[str] = field(default_factory=list)  # how the sides were measured, in sentences

    @property
    def status(self) -> str:
        """"passed", "failed" or "inconclusive" (the exit code's decision: 0, 1, 5)."""
        if any(c.name not in THROUGHPUT_CHECKS for c in self.failed_checks):
            return "failed"
        if not self.conclusive:
            return "inconclusive"
        return "failed" if self.failed_checks else "passed"

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def inconclusive(self) -> bool:
        return self.status == "inconclusive"

    @property
    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def verdict(self) -> str:
        b, c = self.baseline, self.candidate
        head = (f"gate {self.status.upper()}: candidate {c.described} vs baseline "
                f"{b.described}, {fmt.plural(len(self.checks), 'check')}")
        if self.failed_checks and not self.inconclusive:
            head += f"; failed: {', '.join(ch.name for ch in self.failed_checks)}"
        if self.inconclusive:
            head += "; " + "; ".join(u.sentence for u in self.unfinished)
        return head + f" ({b.repeats} vs {c.repeats} repeats)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "status": self.status,
            "verdict": self.verdict(),
            "unfinished": [asdict(u) | {"sentence": u.sentence} for u in self.unfinished],
            "notes": list(self.notes),
            "baseline": asdict(self.baseline),
            "candidate": asdict(self.candidate),
            "checks": [asdict(ch) for ch in self.checks],
            "thresholds_source": self.thresholds_source,
            "story": to_data(self.story) if self.story else None,
        }


def _interval_note(cmp: Comparison) -> str:
    if not cmp.measured:
        return "1 repeat on a side: noise unknown, judged on the point estimate"
    assert cmp.low is not None and cmp.high is not None
    return f"95 % interval {fmt.signed_pct(cmp.low - 1)} to {fmt.signed_pct(cmp.high - 1)}"


def evaluate(baseline: Side, candidate: Side, th: Thresholds, source: str = "defaults",
             unfinished: tuple[Unfinished, ...] = (),
             shared: dict[str, Comparison] | None = None) -> GateOutcome:
    """The checks on two sides' figures: the throughput judgement is the comparison's own
    (`analysis.compare.throughput`); the rest are the thresholds'. `unfinished` sides and
    the throughput `shared` at configurations both ran decide whether it is conclusive."""
    judged = throughput(baseline, candidate)
    out = GateOutcome(baseline, candidate, thresholds_source=source, throughput=judged,
                      unfinished=tuple(unfinished))
    b_rps, c_rps = fmt.rps(statistics.fmean(baseline.throughput_rps)), fmt.rps(
        statistics.fmean(candidate.throughput_rps))
    spread = _interval_note(judged)
    if th.max_slowdown is not None:
        limit = 1 - th.max_slowdown
        failed = judged.best_case() < limit
        note = spread
        if not failed and judged.ratio < limit:
            note = f"slower than the threshold on average but within noise ({spread})"
        out.checks.append(Check("slowdown", not failed, b_rps, c_rps, fmt.signed_pct(judged.ratio - 1),
                                f"≤ {fmt.pct(th.max_slowdown)} slower", note))
    if th.min_speedup is not None:
        failed = judged.best_case() < th.min_speedup
        out.checks.append(Check("speedup", not failed, b_rps, c_rps, fmt.times(judged.ratio),
                                f"≥ {th.min_speedup:g}×", spread))
    _connection_checks(out, baseline, candidate, th)
    if th.max_cpu_increase is not None and baseline.cpu_per_record_s and candidate.cpu_per_record_s:
        cpu = compare(baseline.cpu_per_record_s, candidate.cpu_per_record_s)
        failed = cpu.best_case(higher_is_better=False) > 1 + th.max_cpu_increase
        per = [f"{fmt.ms(statistics.fmean(side.cpu_per_record_s) * 1000)} CPU/record"
               for side in (baseline, candidate)]
        out.checks.append(Check("cpu", not failed, per[0], per[1], fmt.signed_pct(cpu.ratio - 1),
                                f"≤ +{fmt.pct(th.max_cpu_increase)}", _interval_note(cpu)))
    if th.max_loop_lag_p99_ms is not None:
        lag = candidate.loop_lag_p99_ms
        out.checks.append(Check(
            "loop_lag", lag is None or lag <= th.max_loop_lag_p99_ms,
            fmt.ms(baseline.loop_lag_p99_ms), fmt.ms(lag), "", f"≤ {fmt.ms(th.max_loop_lag_p99_ms)} p99",
            "no event loop in the candidate" if lag is None else ""))
    if th.max_rss_increase is not None and baseline.rss_peak_bytes and candidate.rss_peak_bytes:
        r = candidate.rss_peak_bytes / baseline.rss_peak_bytes
        out.checks.append(Check("rss", r <= 1 + th.max_rss_increase, fmt.mib(baseline.rss_peak_bytes),
                                fmt.mib(candidate.rss_peak_bytes), fmt.signed_pct(r - 1),
                                f"≤ +{fmt.pct(th.max_rss_increase)}"))
    if candidate.errors and candidate.records:
        out.checks.append(Check("errors", False, f"{fmt.count(baseline.errors)} errors",
                                f"{fmt.count(candidate.errors)} errors", "", "0 errors",
                                "the candidate raised in some records"))
    _settle_unfinished(out, shared or {})
    return out


def _settle_unfinished(out: GateOutcome, shared: dict[str, Comparison]) -> None:
    """Whether the climbs that did not finish leave the throughput verdict open (see the
    module docstring); says why either way."""
    if not out.unfinished:
        return
    labels = {u.label for u in out.unfinished}
    held = all(c.passed for c in out.checks if c.name in THROUGHPUT_CHECKS)
    beyond = [label for label, cmp in shared.items() if cmp.significant]
    if beyond:
        why = (f"the difference is beyond noise at {', '.join(beyond)}, which both sides ran")
    elif labels == {"baseline"} and not held:
        why = "the baseline still gaining could only widen the gap"
    elif labels == {"candidate"} and held:
        why = "the candidate still gaining could only do better"
    else:
        out.conclusive = False
        for ch in out.checks:
            if ch.name in THROUGHPUT_CHECKS:
                ch.note = (f"provisional: {'; '.join(u.sentence for u in out.unfinished)}"
                           + (f" ({ch.note})" if ch.note else ""))
        out.notes.append("inconclusive: " + "; ".join(u.sentence for u in out.unfinished)
                         + ", and no configuration both sides ran tells them apart beyond noise")
        return
    out.notes.append(f"{'; '.join(u.sentence for u in out.unfinished)}; the verdict stands: {why}")


def _connection_checks(out: GateOutcome, b: Side, c: Side, th: Thresholds) -> None:
    bc, cc = b.connections_peak, c.connections_peak
    if th.max_connections is not None:
        ok = cc is None or cc <= th.max_connections
        out.checks.append(Check("connections", ok, fmt.count(bc), fmt.count(cc), "",
                                f"≤ {fmt.count(th.max_connections)}",
                                "not measured" if cc is None else c.connections_kind))
    if th.max_connections_increase is not None and cc is not None:
        base = max(bc or 0, 1)  # 0 -> 1 is one new connection, not an infinite increase
        inc = (cc - (bc or 0)) / base
        out.checks.append(Check("connections_increase", inc <= th.max_connections_increase,
                                fmt.count(bc), fmt.count(cc), fmt.times(cc / base),
                                f"≤ +{fmt.pct(th.max_connections_increase)}", c.connections_kind))
