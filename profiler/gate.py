"""The review gate's decision: candidate vs baseline, check by check, noise-aware.

Pure: `evaluate(baseline, candidate, thresholds)` takes the two sides' measurements and
returns a `GateOutcome`; `should_fail(outcome)` is the exit-code decision (coverage.py's
`should_fail_under` is the model). Thresholds come from `[tool.concur.gate]` in the
nearest pyproject.toml, overridden by flags (`load_thresholds`).

Noise: throughput and CPU-per-record checks compare the ratio of means with a bootstrap
95 % interval over the repeats (fixed seed, so the same numbers give the same verdict).
A check fails only when the whole interval is past the threshold; when the point
estimate is past it but the interval is not, the check passes and says "within noise".
"""

from __future__ import annotations

import random
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from profiler.errors import ConfigError
from profiler.results import Results, Trial
from profiler.stats import mean, percentile

BOOTSTRAP_SAMPLES = 2000
CONFIDENCE = 0.95


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


THRESHOLD_KEYS = {f.name for f in fields(Thresholds)}


def _check_value(key: str, value: Any, source: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{source}: {key} must be a number, not {value!r}")
    if value < 0:
        raise ConfigError(f"{source}: {key} must be ≥ 0, not {value}")
    if key == "max_connections" and int(value) != value:
        raise ConfigError(f"{source}: max_connections must be a whole number, not {value}")
    return int(value) if key == "max_connections" else float(value)


def find_pyproject(start: Path) -> Path | None:
    for folder in [start, *start.parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def read_gate_config(path: Path) -> dict[str, Any]:
    """`[tool.concur.gate]` of a pyproject.toml, validated (unknown key: ConfigError)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    section = data.get("tool", {}).get("concur", {}).get("gate", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [tool.concur.gate] must be a table")
    out = {}
    for key, value in section.items():
        if key not in THRESHOLD_KEYS:
            raise ConfigError(f"{path}: unknown key {key!r} in [tool.concur.gate] "
                              f"(known: {', '.join(sorted(THRESHOLD_KEYS))})")
        out[key] = _check_value(key, value, f"{path} [tool.concur.gate]")
    return out


def load_thresholds(flags: dict[str, Any], config: Path | None = None,
                    search_from: Path | None = None) -> tuple[Thresholds, str]:
    """Defaults < [tool.concur.gate] < flags. Returns the thresholds and where they came from."""
    path = config if config is not None else find_pyproject(search_from or Path.cwd())
    values: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        values.update(read_gate_config(path))
        if values:
            source = f"{path} [tool.concur.gate]"
    given = {k: _check_value(k, v, f"--{k.replace('_', '-')}") for k, v in flags.items() if v is not None}
    if given:
        source += " + flags"
    values.update(given)
    return Thresholds(**values), source


# ---------------------------------------------------------------- the sides


@dataclass
class Side:
    """One side's measurements at its chosen configuration (one entry per repeat)."""

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

    @property
    def config(self) -> str:
        return f"{self.model}×{'unbounded' if self.concurrency == 0 else self.concurrency}"

    @property
    def repeats(self) -> int:
        return len(self.throughput_rps)


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


def best_config(results: Results) -> tuple[str, int] | None:
    """The configuration with the highest mean throughput among error-free ok trials."""
    groups: dict[tuple[str, int], list[float]] = {}
    for t in results.trials:
        if t.status == "ok" and t.errors == 0 and t.records:
            groups.setdefault((t.model, t.concurrency), []).append(t.throughput_rps)
    if not groups:
        return None
    return max(groups, key=lambda k: mean(groups[k]))


def side_from_results(label: str, results: Results, config: tuple[str, int] | None) -> Side:
    chosen = config or best_config(results)
    if chosen is None:
        raise ConfigError(f"{label}: no configuration completed without errors; nothing to compare")
    trials = [t for t in results.trials if (t.model, t.concurrency) == chosen and t.status == "ok"]
    if not trials:
        raise ConfigError(f"{label}: no successful trial of {chosen[0]}:{chosen[1]} in the results")
    return Side(
        label=label,
        model=chosen[0],
        concurrency=chosen[1],
        throughput_rps=[t.throughput_rps for t in trials],
        cpu_per_record_s=[t.cpu_s / t.records for t in trials if t.cpu_s is not None and t.records],
        connections_peak=_max(_connections(t) for t in trials),
        loop_lag_p99_ms=_max(t.loop_lag_p99_ms for t in trials),
        rss_peak_bytes=_max(t.rss_peak_bytes for t in trials),
        errors=sum(t.errors for t in trials),
        records=sum(t.records for t in trials),
    )


def _connections(t: Trial) -> int | None:
    values = [v for v in (t.connections_peak, t.db_connections_peak) if v is not None]
    return max(values) if values else None


def _max(values: Any) -> Any:
    present = [v for v in values if v is not None]
    return max(present) if present else None


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GateOutcome:
    baseline: Side
    candidate: Side
    checks: list[Check] = field(default_factory=list)
    thresholds_source: str = "defaults"

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def verdict(self) -> str:
        b, c = self.baseline, self.candidate
        head = (f"gate {'PASSED' if self.passed else 'FAILED'}: candidate {c.config} vs baseline {b.config}, "
                f"{len(self.checks)} check{'' if len(self.checks) == 1 else 's'}")
        if not self.passed:
            head += f"; failed: {', '.join(ch.name for ch in self.failed_checks)}"
        return head + f" ({b.repeats} vs {c.repeats} repeats)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "verdict": self.verdict(),
            "baseline": asdict(self.baseline),
            "candidate": asdict(self.candidate),
            "checks": [ch.to_dict() for ch in self.checks],
            "thresholds_source": self.thresholds_source,
        }


def should_fail(outcome: GateOutcome) -> bool:
    return not outcome.passed


def ratio_interval(base: list[float], cand: list[float], seed: int = 0) -> tuple[float, float] | None:
    """Bootstrap 95 % interval of mean(cand) / mean(base); None with < 2 repeats a side."""
    if len(base) < 2 or len(cand) < 2 or mean(base) <= 0:
        return None
    rng = random.Random(seed)
    ratios = []
    for _ in range(BOOTSTRAP_SAMPLES):
        b = mean(rng.choices(base, k=len(base)))
        c = mean(rng.choices(cand, k=len(cand)))
        if b > 0:
            ratios.append(c / b)
    ratios.sort()
    tail = (1 - CONFIDENCE) / 2 * 100
    return percentile(ratios, tail), percentile(ratios, 100 - tail)


def _pct(x: float) -> str:
    return f"{x:+.1%}"


def evaluate(baseline: Side, candidate: Side, th: Thresholds, source: str = "defaults") -> GateOutcome:
    out = GateOutcome(baseline, candidate, thresholds_source=source)
    b_rps, c_rps = mean(baseline.throughput_rps), mean(candidate.throughput_rps)
    ratio = c_rps / b_rps if b_rps > 0 else 0.0
    interval = ratio_interval(baseline.throughput_rps, candidate.throughput_rps)
    spread = (f"95 % interval {_pct(interval[0] - 1)} to {_pct(interval[1] - 1)}" if interval
              else "1 repeat on a side: noise unknown, judged on the point estimate")
    if th.max_slowdown is not None:
        limit = 1 - th.max_slowdown
        favourable = interval[1] if interval else ratio  # the best reading for the candidate
        failed = favourable < limit
        note = spread
        if not failed and ratio < limit:
            note = f"slower than the threshold on average but within noise ({spread})"
        out.checks.append(Check("slowdown", not failed, f"{b_rps:,.1f} records/s", f"{c_rps:,.1f} records/s",
                                _pct(ratio - 1), f"≤ {th.max_slowdown:.0%} slower", note))
    if th.min_speedup is not None:
        best_case = interval[1] if interval else ratio
        failed = best_case < th.min_speedup
        out.checks.append(Check("speedup", not failed, f"{b_rps:,.1f} records/s", f"{c_rps:,.1f} records/s",
                                f"{ratio:.2f}×", f"≥ {th.min_speedup:g}×", spread))
    _connection_checks(out, baseline, candidate, th)
    if th.max_cpu_increase is not None and baseline.cpu_per_record_s and candidate.cpu_per_record_s:
        b_cpu, c_cpu = mean(baseline.cpu_per_record_s), mean(candidate.cpu_per_record_s)
        cpu_ratio = c_cpu / b_cpu if b_cpu > 0 else float("inf")
        cpu_iv = ratio_interval(baseline.cpu_per_record_s, candidate.cpu_per_record_s)
        best_case = cpu_iv[0] if cpu_iv else cpu_ratio
        failed = best_case > 1 + th.max_cpu_increase
        note = (f"95 % interval {_pct(cpu_iv[0] - 1)} to {_pct(cpu_iv[1] - 1)}" if cpu_iv
                else "noise unknown (1 repeat)")
        out.checks.append(Check("cpu", not failed, f"{b_cpu * 1000:,.2f} ms CPU/record",
                                f"{c_cpu * 1000:,.2f} ms CPU/record", _pct(cpu_ratio - 1),
                                f"≤ +{th.max_cpu_increase:.0%}", note))
    if th.max_loop_lag_p99_ms is not None:
        lag = candidate.loop_lag_p99_ms
        out.checks.append(Check(
            "loop_lag", lag is None or lag <= th.max_loop_lag_p99_ms,
            _ms(baseline.loop_lag_p99_ms), _ms(lag), "", f"≤ {th.max_loop_lag_p99_ms:g} ms p99",
            "no event loop in the candidate" if lag is None else ""))
    if th.max_rss_increase is not None and baseline.rss_peak_bytes and candidate.rss_peak_bytes:
        r = candidate.rss_peak_bytes / baseline.rss_peak_bytes
        out.checks.append(Check("rss", r <= 1 + th.max_rss_increase, _mib(baseline.rss_peak_bytes),
                                _mib(candidate.rss_peak_bytes), _pct(r - 1), f"≤ +{th.max_rss_increase:.0%}"))
    if candidate.errors and candidate.records:
        out.checks.append(Check("errors", False, f"{baseline.errors} errors", f"{candidate.errors} errors",
                                "", "0 errors", "the candidate raised in some records"))
    return out


def _connection_checks(out: GateOutcome, b: Side, c: Side, th: Thresholds) -> None:
    bc, cc = b.connections_peak, c.connections_peak
    if th.max_connections is not None:
        ok = cc is None or cc <= th.max_connections
        out.checks.append(Check("connections", ok, _n(bc), _n(cc), "", f"≤ {th.max_connections}",
                                "not measured" if cc is None else ""))
    if th.max_connections_increase is not None and cc is not None:
        base = max(bc or 0, 1)  # 0 -> 1 is one new connection, not an infinite increase
        inc = (cc - (bc or 0)) / base
        out.checks.append(Check("connections_increase", inc <= th.max_connections_increase, _n(bc), _n(cc),
                                f"{cc / base:.1f}×", f"≤ +{th.max_connections_increase:.0%}"))


def _n(v: int | None) -> str:
    return "n/a" if v is None else f"{v:,}"


def _ms(v: float | None) -> str:
    return "n/a" if v is None else f"{v:,.1f} ms"


def _mib(v: int) -> str:
    return f"{v / 2**20:,.0f} MiB"
