"""Caveats: what a reader of the recommendation must know, each with its numbers.

They name the failure modes of the story concur exists for (connections growing with N,
or flat at a pool's or server's cap while N grows, an event loop too busy to keep up, a machine that is the real limit) and anything that
makes the numbers less trustworthy (one run, noisy repeats, few records, crashed trials,
skipped models, a limit that could not be checked). A warning says what was seen and,
where there is one, what to do about it; it never changes the recommendation.
"""

from __future__ import annotations

from collections.abc import Callable

from profiler import format as fmt
from profiler.analysis.cluster import dask_warnings
from profiler.analysis.queue import queue_warnings
from profiler.analysis.sanity import NOT_REMEASURED, config_reasons, cpu_impossible
from profiler.results import Config, Results, Standings
from profiler.results.standings import REMEASURE_FAILED, concurrency_key

CONNECTION_GROWTH = 4.0  # highest-N connections ≥ this × lowest-N: warn
MEMORY_GROWTH = 2.0  # highest-N peak RSS > this × lowest-N: warn
CPU_SATURATED = 0.9  # cpu_util ≥ this × cpu_count: the machine is the limit
NOISY_CV = 0.10
FEW_RECORDS = 50
STILL_CLIMBING = 1.05  # top measured N this much above the next: more N may help
CAP_TOLERANCE = 0.10  # connections within this share (or 1) of each other are "flat"
CAP_FLAT_GAIN = 0.10  # throughput gaining less than this across the flat stretch: capped

STATUS_WORDS = {"crashed": "crashed", "timeout": "timed out", "failed": "failed before its timed window",
                "over-memory": "was killed over the memory limit",
                "service-lost": "stopped: the run's service died under it"}


def choice_warnings(results: Results, s: Standings, choice: Config) -> list[str]:
    """Warnings about the recommended configuration itself: first, they matter most."""
    configs = list(s.configs)
    out: list[str] = []
    cpu = choice.mean_of("cpu_util")
    cpu_count = results.environment.cpu_count
    if (cpu is not None and cpu_count and cpu >= CPU_SATURATED * cpu_count
            and not cpu_impossible(cpu, cpu_count)):  # an impossible reading is named as suspect
        out.append(f"CPU saturated at {choice.label}: {fmt.cores(cpu)} busy of {cpu_count} — the "
                   "machine, not the model, limits throughput; expect different numbers elsewhere")
    if choice.repeats == 1:
        out.append(f"{choice.label} measured once; noise unknown — repeat it (--repeat 3) before "
                   f"trusting differences under {fmt.pct(NOISY_CV)}")
    elif (cv := choice.throughput_cv) is not None and cv > NOISY_CV:
        out.append(f"{choice.label} is noisy: throughput varied {fmt.pct(cv)} (coefficient of "
                   f"variation) across {choice.repeats} repeats, above {fmt.pct(NOISY_CV)}")
    mine = choice.workload_connections
    if mine is not None:
        heavy = [f"{c.label} {fmt.count(conns)} ({fmt.times(conns / max(mine, 1))})" for c in configs
                 if (conns := c.workload_connections) is not None and c is not choice
                 and conns >= CONNECTION_GROWTH * max(mine, 1)]
        if heavy:
            out.append(f"far more {_word(choice)} than {choice.label}'s {fmt.count(mine)}: "
                       f"{', '.join(heavy)} — each would load the database that much more")
    same_model = sorted((c for c in configs if c.model == choice.model and c.concurrency >= 1),
                        key=lambda c: c.concurrency)
    # Processes stop at 2 × cores (the sweep's cap): beyond it they only queue for cores.
    at_cap = choice.model == "processes" and cpu_count and choice.concurrency >= 2 * cpu_count
    if (choice.model != "sequential" and len(same_model) >= 2 and same_model[-1] is choice
            and not at_cap
            and choice.throughput_rps > STILL_CLIMBING * same_model[-2].throughput_rps):
        out.append(f"{choice.label} is the highest concurrency measured for {choice.model} and "
                   f"still {fmt.pct(choice.throughput_rps / same_model[-2].throughput_rps - 1)} above "
                   f"{same_model[-2].label}: a higher N may be faster")
    return out


def run_warnings(results: Results, s: Standings, choice: Config | None = None) -> list[str]:
    """Warnings about the whole run; the choice's own noise is in `choice_warnings`."""
    configs, k = list(s.configs), s.constraints
    out: list[str] = []
    out += _suspects(results, s)
    capped = {model: sentence for model in dict.fromkeys(c.model for c in configs)
              if (sentence := capped_sessions([c for c in configs if c.model == model]))}
    out += list(capped.values())
    uncapped = [c for c in configs if c.model not in capped]
    counted = next((c for c in uncapped if c.connections is not None), None)
    out += _growth(uncapped, "connections", CONNECTION_GROWTH,
                   f"{_word(counted) if counted else 'connections'} grow with concurrency",
                   fmt.count, "each worker or task opens its own; cap them with a pool")
    lagging = [(c, c.peak("loop_lag_p99_ms")) for c in configs]
    over = [f"{c.label} ({fmt.ms(v)})" for c, v in lagging
            if v is not None and k.max_loop_lag_p99_ms is not None and v > k.max_loop_lag_p99_ms]
    if over:
        out.append(f"event-loop lag p99 over {fmt.ms(k.max_loop_lag_p99_ms or 0)}: "
                   f"{', '.join(over)} — the loop is busy with CPU work or too many tasks")
    out += dask_warnings(configs)
    out += queue_warnings(configs)
    for c in configs:
        if c.errors:
            kinds = ", ".join(f"{name} ×{n}" for name, n in
                              sorted(c.errors_by_type.items(), key=lambda kv: -kv[1]))
            out.append(f"errors in {c.label}: {fmt.count(c.errors)} of {fmt.count(c.records)} records "
                       f"({fmt.pct(c.error_rate)})" + (f": {kinds}" if kinds else ""))
    out += _growth(configs, "rss", MEMORY_GROWTH, "peak memory grows with concurrency",
                   fmt.mib, "each worker holds its own copy of something")
    noisy = [f"{c.label} ({fmt.pct(cv)})" for c in configs
             if c is not choice and (cv := c.throughput_cv) is not None and cv > NOISY_CV]
    if noisy:
        other = "other " if choice is not None else ""
        out.append(f"{other}noisy measurements (throughput varied > {fmt.pct(NOISY_CV)} across repeats): "
                   + ", ".join(noisy))
    few = [f"{c.label} ({min(t.records for t in c.trials)})" for c in configs
           if any(t.records < FEW_RECORDS for t in c.trials)]
    if few:
        out.append(f"few records per trial (< {FEW_RECORDS}): {', '.join(few)} — throughput is "
                   "rough; raise --records")
    for i, t in enumerate(results.trials):
        if t.status != "ok":
            detail = f": {t.status_detail}" if t.status_detail else ""
            out.append(f"{t.label} (repeat {t.repeat}, trial {i}) "
                       f"{STATUS_WORDS.get(t.status, t.status)}{detail}")
    teardowns: dict[str, list[str]] = {}
    for t in results.trials:  # after the window, so the numbers stand; the cleanup did not
        listed = t.model_metrics.get("teardown_errors")
        for text in listed if isinstance(listed, list) else ():
            if text not in teardowns.setdefault(t.label, []):
                teardowns[t.label].append(str(text))
    for label, texts in teardowns.items():
        out.append(f"after the records of {label}: {'; '.join(texts[:2])} — resources may not "
                   "have been released")
    for field_name, limit, flag in (("connections", k.max_connections, "--max-connections"),
                                    ("rss_peak_bytes", k.max_rss_bytes, "--max-rss")):
        if limit is None:
            continue
        unmeasured = [c.label for c in configs
                      if (c.workload_connections if field_name == "connections" else c.peak(field_name)) is None]
        if unmeasured:
            out.append(f"{flag} not checked for {', '.join(unmeasured)}: not measured")
    return out


def _word(c: Config) -> str:
    """Connections as counted: sessions the database server admitted, else client sockets
    (the plain word: refused attempts are among them)."""
    return "database sessions" if c.connections_kind == "database sessions" else "connections"


def run_notes(results: Results) -> list[str]:
    """The tool's own choices, which a reader should know but need not distrust the numbers
    for: models skipped (a handler form a model cannot run, records it cannot pickle, an
    extra not installed)."""
    return [f"skipped {fmt.config(s.model, s.concurrency)}: {s.reason}" for s in results.skipped]


def capped_sessions(same_model: list[Config]) -> str | None:
    """"capped at K sessions" when a model's throughput plateaued while its connections
    stayed flat at K across N beyond K: a pool or the server admits K and the rest queue.
    Adding a pool cannot help there (there is one); raising its limit might."""
    measured = sorted(((c, conns) for c in same_model if c.concurrency >= 1
                       and (conns := c.workload_connections) is not None),
                      key=lambda cv: cv[0].concurrency)
    if len(measured) < 2:
        return None
    k = measured[-1][1]
    if k < 1:
        return None
    flat: list[Config] = []
    for c, conns in reversed(measured):
        if abs(conns - k) > max(1.0, CAP_TOLERANCE * k):
            break
        flat.insert(0, c)
    if len(flat) < 2 or flat[-1].concurrency <= k:
        return None
    rates = [c.throughput_rps for c in flat]
    if flat[-1].throughput_rps > flat[0].throughput_rps * (1 + CAP_FLAT_GAIN):
        return None  # still gaining with the same sessions: not the limit
    return (f"{flat[0].model}: capped at {fmt.count(k)} sessions — a pool or server limit: "
            f"throughput stayed at {fmt.rate(min(rates))}–{fmt.rate(max(rates))} records/s from "
            f"{flat[0].label} to {flat[-1].label} while connections stayed at {fmt.count(k)}; more "
            "concurrency only queues for a session, so no further pool is needed: raise that "
            "limit (if the server can take it) to go faster")


def _suspects(results: Results, s: Standings) -> list[str]:
    """Configurations whose numbers cannot be right (`analysis.sanity`), with the reason."""
    out = []
    for c in s.configs:
        why = config_reasons(c, s.sequential_capacity_rps, results.environment.cpu_count)
        if not why:
            continue
        row = s.standing(c)
        if row is not None and row.eligible and row.left_out and all(w.check == "speedup" for w in why):
            out.append(f"beyond {c.label}'s share: {'; '.join(map(str, why))}, reproduced by a longer "
                       "re-measurement, so it is kept as measured: one worker waits on something "
                       "concurrency overlaps (an idle core's wake-up, a server that batches requests)")
            continue
        remeasured = any(t.suspect and not t.suspect.endswith(NOT_REMEASURED) for t in c.trials)
        if row is not None and row.kind == REMEASURE_FAILED:
            how = f"its re-measurement failed ({row.broken[0][1] if row.broken else 'did not finish'}), so it is excluded"
        elif remeasured:
            how = "re-measured with a longer window and it persisted"
        else:
            how = "not re-measured (explicit grid: raise --records, or let the sweep size it); excluded"
        seq = s.sequential
        if seq is not None and seq.repeats < 2 and any(w.check == "speedup" for w in why):
            how += (f", or sequential's single reading ({fmt.rate(seq.throughput_rps)} records/s) "
                    "is the low one: a larger --budget measures it again")
        out.append(f"suspect numbers for {c.label}: {'; '.join(map(str, why))} — {how}; do not trust its "
                   "figures until a longer run confirms them")
    return out


def _growth(configs: list[Config], what: str, factor: float, title: str,
            render: Callable[[float], str], hint: str) -> list[str]:
    """Per model, compare the resource at the lowest and highest N where it was measured;
    every model where it grew goes in one warning (one line per resource, not per model)."""
    out: list[str] = []
    for model in dict.fromkeys(c.model for c in configs):
        measured = []
        for c in configs:
            if c.model != model:
                continue
            value = c.workload_connections if what == "connections" else c.peak("rss_peak_bytes")
            if value is not None:
                measured.append((c, value))
        if len(measured) < 2:
            continue
        measured.sort(key=lambda cv: concurrency_key(cv[0].concurrency))
        (low_c, low), (high_c, high) = measured[0], measured[-1]
        grew = high >= factor * max(low, 1) if what == "connections" else low > 0 and high > factor * low
        if grew:
            ratio = f" ({fmt.times(high / low)})" if low > 0 else ""
            out.append(f"{model}: {render(low)} at {low_c.label}, {render(high)} at "
                       f"{high_c.label}{ratio}")
    return [f"{title} — {'; '.join(out)}: {hint}"] if out else []
