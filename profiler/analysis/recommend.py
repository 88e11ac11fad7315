"""Which configuration to use, why, and what to watch out for.

The rule, in the order a reader can check it:
1. Only configurations (model × concurrency, repeats averaged) whose trials completed,
   whose records failed less than 1 % of the time, and that stay within the constraints
   (connections, peak RSS, loop-lag p99, CPU cap; each judged on the worst repeat).
2. Among those, the highest mean throughput is the best.
3. A simpler model that ties with the best wins: the simpler code is cheaper to own. What
   a tie is lives in `ties.py`: within the practical margin (5 %), or not significantly
   different by the measured noise (Welch interval of the ratio, within 10 %), or within
   an assumed 10 % when a side ran once; the rationale says which. "Simpler" depends on
   the handler's form: for a sync handler sequential < threads < processes <
   asyncio-threads < asyncio < uvloop; for an `async def` handler the event-loop models
   come first (threads and processes need a loop of their own in every worker). Within
   the chosen model a lower N within 5 % wins too: fewer workers, connections, memory.
4. When sequential ties with the best, keep it sequential.

Warnings (connection growth, capped pools, loop lag, CPU saturation, errors, memory
growth, noise, impossible numbers, crashed trials) come from caveats.py and never change
the choice.
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
from profiler.analysis.ties import ASSUMED_NOISE, MAX_TIE, Tie, judge, simplest_close
from profiler.models import simplicity_order
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
    eligible, excluded, exclusion_sentences = qualifying(configs, constraints)
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
    seq_tie = judge(sequential, best, margin) if seq_ok and sequential is not best else None
    decisive: Tie | None
    if seq_ok and (sequential is best or (seq_tie is not None and seq_tie.tie)):
        assert sequential is not None
        choice, why, decisive = sequential, _keep_sequential_reason(best, sequential, seq_tie), seq_tie
    else:
        choice, why, tie = _prefer_simpler(eligible, best, margin, kind)
        decisive = tie or seq_tie
        if seq_tie is not None:
            why.append(f"concurrency pays: {seq_tie.reason()}")
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
    if kind == "async":
        rationale.append(
            "the handler is `async def`: asyncio and uvloop run it as written, while threads and "
            "processes need an event loop of their own in every worker, so for this handler the "
            "event-loop models count as simpler than threads and processes")
    rationale.append(
        f"ties go to the simpler model ({' < '.join(order)}): within {fmt.pct(margin)} always; "
        f"within {fmt.pct(MAX_TIE)} when the measured noise cannot tell the two apart; within "
        f"{fmt.pct(ASSUMED_NOISE)} when a side ran once (noise assumed); within a model, the lower "
        f"concurrency within {fmt.pct(LOWER_N_MARGIN)} wins, which saves workers, connections "
        "and memory"
    )
    warnings = choice_warnings(results, configs, choice) + run_warnings(
        results, configs, constraints, choice)
    return Recommendation(
        model=choice.model, concurrency=choice.concurrency, throughput_rps=choice.throughput_rps,
        speedup=speedup, keep_sequential=choice.model == "sequential",
        sentence=_sentence(choice, best, sequential if seq_rps else None, seq_tie),
        rationale=rationale, warnings=warnings, constraints=constraints, excluded=excluded,
        notes=notes, noise=decisive.noise if decisive is not None else "")


def qualifying(configs: list[Config], k: Constraints) -> tuple[list[Config], list[Exclusion], list[str]]:
    """Configurations the recommendation may choose from, fastest first; the excluded ones
    and why (the sweep asks the same, to know which comparisons to repeat)."""
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


def _keep_sequential_reason(best: Config, sequential: Config, tie: Tie | None) -> list[str]:
    if tie is None:
        return [f"sequential ran {fmt.rate(sequential.throughput_rps)} records/s and no other "
                "configuration within the constraints was faster"]
    return [f"keep it sequential: {tie.reason()}; concurrency is not worth its complexity"]


def _prefer_simpler(eligible: list[Config], best: Config, margin: float,
                    kind: str) -> tuple[Config, list[str], Tie | None]:
    """The best of the simplest model that ties with the best, then its lowest N within 5 %;
    with the tie that made the simpler model win (None when the best won outright)."""
    model_best, tie = simplest_close(eligible, best, margin, kind)
    lower_floor = model_best.throughput_rps * (1 - LOWER_N_MARGIN)
    choice = min((c for c in eligible if c.model == model_best.model and c.throughput_rps >= lower_floor
                  and (c is model_best or judge(c, best, margin).tie)),
                 key=lambda c: concurrency_key(c.concurrency))

    why: list[str] = []
    if tie is None:
        repeats = f" over {best.repeats} repeats" if best.repeats > 1 else ""
        why.append(f"{best.label} had the highest mean throughput of the {len(eligible)} "
                   f"configurations within the constraints: {fmt.rate(best.throughput_rps)} records/s{repeats}")
    else:
        why.append(f"{best.label} was fastest, but {model_best.label} ties with it and "
                   f"{model_best.model} is the simpler model: {tie.reason()}")
    if choice is not model_best:
        why.append(f"{choice.label} is within {fmt.pct(LOWER_N_MARGIN)} of {model_best.label} "
                   f"({fmt.rate(choice.throughput_rps)} vs {fmt.rate(model_best.throughput_rps)} records/s) "
                   "with fewer workers, which saves resources")
    return choice, why, tie


def _others(eligible: list[Config], choice: Config, limit: int = 4) -> list[str]:
    rest = sorted((c for c in eligible if c is not choice), key=lambda c: -c.throughput_rps)
    if not rest:
        return []
    shown = ", ".join(f"{c.label} {fmt.rate(c.throughput_rps)}" for c in rest[:limit])
    more = f" and {len(rest) - limit} more" if len(rest) > limit else ""
    return [f"other configurations within the constraints: {shown}{more} records/s"]


def _sentence(choice: Config, best: Config, sequential: Config | None, tie: Tie | None) -> str:
    if choice.model == "sequential":
        if best is choice or tie is None:
            return (f"keep it sequential — nothing within the constraints was faster "
                    f"({fmt.rate(choice.throughput_rps)} records/s)")
        how = {"practical": f"by more than {fmt.pct(tie.margin)}",
               "measured": "by more than the measured noise",
               "assumed": f"by more than {fmt.pct(ASSUMED_NOISE)} (noise assumed: measured once)"}
        return (f"keep it sequential — nothing beat it {how[tie.basis]} (best: "
                f"{best.label}, {fmt.times(best.throughput_rps / choice.throughput_rps)}, "
                f"{fmt.rate(best.throughput_rps)} vs {fmt.rate(choice.throughput_rps)} records/s)")
    if sequential is None:
        return (f"use {choice.label} — {fmt.rate(choice.throughput_rps)} records/s, the best "
                "measured (no sequential trial to compare against)")
    speedup = choice.throughput_rps / sequential.throughput_rps
    return (f"use {choice.label} — {fmt.times(speedup)} faster than sequential "
            f"({fmt.rate(choice.throughput_rps)} vs {fmt.rate(sequential.throughput_rps)} records/s)")
