"""Which configuration to use, why, and what to watch out for.

The rule, in the order a reader can check it:
1. Only configurations (model × concurrency, repeats averaged) whose trials completed,
   whose records failed less than 1 % of the time, and that stay within the constraints
   (connections, peak RSS, loop-lag p99, CPU cap; each judged on the worst repeat).
2. Among those, the highest mean throughput is the best.
3. A simpler model within the noise margin (10 %) of the best wins: the difference is
   within what repeats of one configuration vary by, and the simpler code is cheaper to
   own (sequential < threads < processes < asyncio-threads < asyncio < uvloop). Within
   the chosen model a lower N within 5 % wins too: fewer workers, connections and memory.
4. When nothing beats sequential by more than the margin, keep it sequential.

Warnings (connection growth, loop lag, CPU saturation, errors, memory growth, noise,
crashed trials) come from caveats.py and never change the choice.
"""

from __future__ import annotations

from profiler import format as fmt
from profiler.analysis.caveats import choice_warnings, run_notes, run_warnings
from profiler.analysis.cluster import cluster_versus_local
from profiler.analysis.configs import (
    ERROR_ALLOWANCE,
    Config,
    concurrency_key,
    find_config,
    group_configs,
    violations,
)
from profiler.analysis.queue import queue_versus_local
from profiler.models import simplicity_order, simplicity_rank
from profiler.results import Constraints, Exclusion, Recommendation, Results

LOWER_N_MARGIN = 0.05  # within a model, a lower N this close to its best wins


def recommend(results: Results, constraints: Constraints = Constraints()) -> Recommendation:  # noqa: B008 - frozen, immutable default
    """The recommended configuration with its sentence, rationale, warnings and exclusions;
    model and concurrency are None when no configuration completed or none qualified."""
    configs = group_configs(results)
    notes = run_notes(results)
    if not configs:
        return _no_choice(
            constraints, [], run_warnings(results, configs, constraints),
            "no configuration completed: every trial crashed, timed out or failed (see warnings)",
            notes=notes,
        )
    eligible, excluded, exclusion_sentences = _eligible(configs, constraints)
    if not eligible:
        return _no_choice(
            constraints, excluded, run_warnings(results, configs, constraints),
            f"no configuration met the constraints ({len(configs)} measured, all excluded)",
            exclusion_sentences, notes,
        )

    kind = results.workload.handle_kind
    margin = constraints.noise_margin
    sequential = find_config(configs, "sequential")
    seq_rps = sequential.throughput_rps if sequential and sequential.throughput_rps > 0 else None
    best = eligible[0]
    seq_ok = sequential is not None and sequential in eligible and seq_rps is not None
    if seq_ok and best.throughput_rps <= seq_rps * (1 + margin):
        choice, why = sequential, _keep_sequential_reason(best, sequential, margin)
    else:
        choice, why = _prefer_simpler(eligible, best, margin, kind)
    assert choice is not None
    speedup = choice.throughput_rps / seq_rps if seq_rps else None

    rationale = why + _others(eligible, choice) + cluster_versus_local(eligible)
    rationale += queue_versus_local(eligible)
    rationale += exclusion_sentences
    if 0 < choice.error_rate < ERROR_ALLOWANCE:
        rationale.append(
            f"{choice.label} had {fmt.count(choice.errors)} failed records of {fmt.count(choice.records)} "
            f"({fmt.pct(choice.error_rate)}), under the {fmt.pct(ERROR_ALLOWANCE)} allowance"
        )
    order = [m for m in simplicity_order(kind) if m in {c.model for c in configs}]
    rationale.append(
        f"ties within {fmt.pct(margin)} go to the simpler model ({' < '.join(order)}); "
        f"within a model, to the lower concurrency within {fmt.pct(LOWER_N_MARGIN)}, which saves "
        "workers, connections and memory"
    )
    warnings = choice_warnings(results, configs, choice) + run_warnings(
        results, configs, constraints, choice)
    return Recommendation(
        model=choice.model, concurrency=choice.concurrency, throughput_rps=choice.throughput_rps,
        speedup=speedup, keep_sequential=choice.model == "sequential",
        sentence=_sentence(choice, best, sequential if seq_rps else None, margin),
        rationale=rationale, warnings=warnings, constraints=constraints, excluded=excluded,
        notes=notes)


def _eligible(configs: list[Config], k: Constraints) -> tuple[list[Config], list[Exclusion], list[str]]:
    """Configurations within the limits, fastest first; the excluded ones and why."""
    excluded: list[Exclusion] = []
    by_rule: dict[str, list[str]] = {}
    eligible: list[Config] = []
    for c in configs:
        broken = violations(c, k)
        if broken:
            excluded.append(Exclusion(c.model, c.concurrency, "; ".join(map(str, broken))))
            for v in broken:
                by_rule.setdefault(v.rule, []).append(f"{c.label} ({v.measured})")
        else:
            eligible.append(c)
    # Unbounded gather holds every record of the batch in flight at once: its tasks, memory
    # and connections grow with the batch, which is larger than the trial. It is measured
    # as the naive rewrite to compare against, not recommended while a bounded one ran.
    unbounded = [c for c in eligible if c.concurrency == 0]
    if unbounded and len(unbounded) < len(eligible):
        for c in unbounded:
            eligible.remove(c)
            excluded.append(Exclusion(c.model, 0, "unbounded: tasks, memory and connections grow "
                                      "with the batch; a bounded N is recommended instead"))
        by_rule.setdefault("the bounded-concurrency rule", []).extend(
            f"{c.label} ({fmt.rps(c.throughput_rps)})" for c in unbounded)
    eligible.sort(key=lambda c: (-c.throughput_rps, concurrency_key(c.concurrency)))
    return eligible, excluded, [f"{rule} excluded {', '.join(v)}" for rule, v in by_rule.items()]


def _no_choice(constraints: Constraints, excluded: list[Exclusion], warnings: list[str],
               sentence: str, rationale: list[str] | None = None,
               notes: list[str] | None = None) -> Recommendation:
    return Recommendation(None, None, None, None, False, sentence, rationale or [], warnings,
                          constraints, excluded, notes or [])


def _keep_sequential_reason(best: Config, sequential: Config, margin: float) -> list[str]:
    if best is sequential:
        return [f"sequential ran {fmt.rate(sequential.throughput_rps)} records/s and no other "
                "configuration within the constraints was faster"]
    return [
        f"the fastest configuration, {best.label}, ran {fmt.rate(best.throughput_rps)} records/s, "
        f"{fmt.times(best.throughput_rps / sequential.throughput_rps)} sequential's "
        f"{fmt.rate(sequential.throughput_rps)}: within the {fmt.pct(margin)} noise margin, so "
        "concurrency is not worth its complexity"
    ]


def _prefer_simpler(eligible: list[Config], best: Config, margin: float,
                    kind: str) -> tuple[Config, list[str]]:
    """The simplest model within the margin of the best, then its lowest N within 5 %."""
    floor = best.throughput_rps * (1 - margin)
    close = [c for c in eligible if c.throughput_rps >= floor]
    model = min(close, key=lambda c: simplicity_rank(c.model, kind)).model
    model_best = max((c for c in close if c.model == model), key=lambda c: c.throughput_rps)
    lower_floor = max(model_best.throughput_rps * (1 - LOWER_N_MARGIN), floor)
    choice = min((c for c in close if c.model == model and c.throughput_rps >= lower_floor),
                 key=lambda c: concurrency_key(c.concurrency))

    why: list[str] = []
    if model_best is best:
        repeats = f" over {best.repeats} repeats" if best.repeats > 1 else ""
        why.append(f"{best.label} had the highest mean throughput of the {len(eligible)} "
                   f"configurations within the constraints: {fmt.rate(best.throughput_rps)} records/s{repeats}")
    else:
        slower = 1 - model_best.throughput_rps / best.throughput_rps
        why.append(f"{best.label} was fastest ({fmt.rate(best.throughput_rps)} records/s), but "
                   f"{model_best.label} is within {fmt.pct(margin)} ({fmt.rate(model_best.throughput_rps)} "
                   f"records/s, {fmt.pct(slower)} slower) and {model} is the simpler model")
    if choice is not model_best:
        why.append(f"{choice.label} is within {fmt.pct(LOWER_N_MARGIN)} of {model_best.label} "
                   f"({fmt.rate(choice.throughput_rps)} vs {fmt.rate(model_best.throughput_rps)} records/s) "
                   "with fewer workers, which saves resources")
    return choice, why


def _others(eligible: list[Config], choice: Config, limit: int = 4) -> list[str]:
    rest = sorted((c for c in eligible if c is not choice), key=lambda c: -c.throughput_rps)
    if not rest:
        return []
    shown = ", ".join(f"{c.label} {fmt.rate(c.throughput_rps)}" for c in rest[:limit])
    more = f" and {len(rest) - limit} more" if len(rest) > limit else ""
    return [f"other configurations within the constraints: {shown}{more} records/s"]


def _sentence(choice: Config, best: Config, sequential: Config | None, margin: float) -> str:
    if choice.model == "sequential":
        if best is choice:
            return (f"keep it sequential — nothing within the constraints was faster "
                    f"({fmt.rate(choice.throughput_rps)} records/s)")
        return (f"keep it sequential — nothing beat it by more than {fmt.pct(margin)} (best: "
                f"{best.label}, {fmt.times(best.throughput_rps / choice.throughput_rps)}, "
                f"{fmt.rate(best.throughput_rps)} vs {fmt.rate(choice.throughput_rps)} records/s)")
    if sequential is None:
        return (f"use {choice.label} — {fmt.rate(choice.throughput_rps)} records/s, the best "
                "measured (no sequential trial to compare against)")
    speedup = choice.throughput_rps / sequential.throughput_rps
    return (f"use {choice.label} — {fmt.times(speedup)} faster than sequential "
            f"({fmt.rate(choice.throughput_rps)} vs {fmt.rate(sequential.throughput_rps)} records/s)")
