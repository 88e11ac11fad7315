"""Which configuration to use, why, and what to watch out for.

The choice is the standings' (`analysis.standings`: eligible configurations, the fastest,
then ties to sequential, to the simpler model and to the lower N); this module words it:
the sentence, the rationale (which tie decided, on measured or assumed noise), the
exclusions by rule. "Simpler" depends on the handler's form: for a sync handler
sequential < threads < processes < asyncio-threads < asyncio < uvloop; for an `async def`
handler the event-loop models come first (threads and processes need a loop of their
own in every worker).

Warnings (connection growth, capped pools, loop lag, CPU saturation, errors, memory
growth, noise, impossible numbers, crashed trials) come from caveats.py and never change
the choice.
"""

from __future__ import annotations

from profiler import format as fmt
from profiler.analysis.caveats import choice_warnings, run_notes, run_warnings
from profiler.analysis.cluster import cluster_versus_local
from profiler.analysis.configs import ERROR_ALLOWANCE
from profiler.analysis.failure import handler_failure
from profiler.analysis.queue import queue_versus_local
from profiler.analysis.standings import LOWER_N_MARGIN, table
from profiler.models import simplicity_order
from profiler.results import Config, Constraints, Exclusion, Recommendation, Results, Standing, Tie
from profiler.results.standings import ASSUMED_NOISE, MAX_TIE


def recommend(results: Results, constraints: Constraints | None = None) -> Recommendation:
    """The standings' best configuration (`analysis.standings`) with its sentence, rationale,
    warnings and exclusions; model and concurrency are None when no configuration
    completed or none qualified. `constraints` (default: those the standings were judged
    under) re-judge the table when they differ. A run that was stopped gives its best so
    far, said to be provisional in the sentence itself, so no reader takes it as final."""
    rec = _recommend(results, constraints)
    if results.interrupted:
        trials = fmt.plural(len(results.trials), "trial")
        rec.sentence = f"provisional, the run was stopped after {trials}: {rec.sentence}"
        rec.warnings.insert(0, "the run was stopped before the sweep finished: a configuration "
                               "it did not reach may be faster; run it again for a final verdict")
    return rec


def _recommend(results: Results, constraints: Constraints | None) -> Recommendation:
    s = table(results, constraints)
    constraints = s.constraints
    configs = list(s.configs)
    notes = run_notes(results)
    failure = handler_failure(results)
    if failure is not None:  # the handler's own error first: no configuration was measured
        out = [r for c in s.configs if not (r := s.standing(c)).eligible]
        return _no_choice(constraints, [Exclusion(r.config.model, r.config.concurrency, r.reason) for r in out],
                          run_warnings(results, s), failure.sentence(), notes=notes)
    if not configs:
        return _no_choice(
            constraints, [], run_warnings(results, s),
            "no configuration completed: every trial crashed, timed out or failed (see warnings)",
            notes=notes,
        )
    out = [r for c in s.configs if not (r := s.standing(c)).eligible]  # in reading order
    excluded = [Exclusion(r.config.model, r.config.concurrency, r.reason) for r in out]
    exclusion_sentences = _exclusion_sentences(out)
    if s.best is None or s.fastest is None or s.choice is None:
        return _no_choice(
            constraints, excluded, run_warnings(results, s),
            f"no configuration met the constraints ({len(configs)} measured, all excluded)",
            exclusion_sentences, notes,
        )

    kind = s.handle_kind
    margin = constraints.noise_margin
    eligible = s.eligible
    choice, fastest, how = s.best, s.fastest, s.choice
    sequential = s.sequential
    seq_rps = s.sequential_rps
    seq_tie = how.sequential_tie
    if choice is sequential:
        why = _keep_sequential_reason(fastest, choice, seq_tie)
        decisive = seq_tie
    else:
        why = _prefer_simpler(eligible, fastest, choice, how.model_best, how.simpler_tie)
        decisive = how.simpler_tie or seq_tie
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
    warnings = choice_warnings(results, s, choice) + run_warnings(results, s, choice)
    return Recommendation(
        model=choice.model, concurrency=choice.concurrency, throughput_rps=choice.throughput_rps,
        speedup=speedup, keep_sequential=choice.model == "sequential",
        sentence=_sentence(choice, fastest, sequential if seq_rps else None, seq_tie),
        rationale=rationale, warnings=warnings, constraints=constraints, excluded=excluded,
        notes=notes, noise=decisive.noise if decisive is not None else "")


def _exclusion_sentences(excluded: list[Standing]) -> list[str]:
    """One sentence per rule that excluded something: `the error allowance excluded …`."""
    by_rule: dict[str, list[str]] = {}
    for r in excluded:
        for rule, measured in r.broken:
            by_rule.setdefault(rule, []).append(f"{r.label} ({measured})")
    return [f"{rule} excluded {', '.join(v)}" for rule, v in by_rule.items()]


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


def _prefer_simpler(eligible: list[Config], fastest: Config, choice: Config, model_best: Config,
                    tie: Tie | None) -> list[str]:
    """Why the standings chose `choice`: the fastest outright, or a simpler model that ties
    with it; and a lower N within 5 % of its model's best."""
    why: list[str] = []
    if tie is None:
        repeats = f" over {fastest.repeats} repeats" if fastest.repeats > 1 else ""
        why.append(f"{fastest.label} had the highest mean throughput of the {len(eligible)} "
                   f"configurations within the constraints: {fmt.rate(fastest.throughput_rps)} records/s{repeats}")
    else:
        why.append(f"{fastest.label} was fastest, but {model_best.label} ties with it and "
                   f"{model_best.model} is the simpler model: {tie.reason()}")
    if choice is not model_best:
        why.append(f"{choice.label} is within {fmt.pct(LOWER_N_MARGIN)} of {model_best.label} "
                   f"({fmt.rate(choice.throughput_rps)} vs {fmt.rate(model_best.throughput_rps)} records/s) "
                   "with fewer workers, which saves resources")
    return why


def _others(eligible: list[Config], choice: Config, limit: int = 4) -> list[str]:
    rest = [c for c in eligible if c is not choice]  # ranked by the standings
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
