"""Judging a run's configurations, once: `standings(trials, constraints, handle_kind)`.

The one place that decides which configuration counts, which is the best, and why the
others are out (the table it fills is `profiler.results.standings.Standings`; the sweep,
the verdict, the gate, compare and every renderer read it). The rules, in the order a
reader can check them:

1. A configuration is the trials of one model × N that finished ("ok"). A trial the sweep
   marked `suspect` (`analysis.sanity`: an impossible reading, re-measured) counts only
   while its configuration has no clean one; otherwise it is left out, and the row says so.
2. Excluded, each with its reason: 1 % of its records or more failed (`errors`); over a
   constraint, judged on the worst repeat (`constraint`); every trial of it suspect, so
   the reading was never confirmed (`suspect`), or its re-measurement did not finish
   (`remeasure-failed`: a trial of it after the suspect one timed out or crashed);
   unbounded while a bounded configuration is
   eligible (`unbounded`: every record in flight grows with the batch, which is larger
   than the trial; it is measured as the naive rewrite to compare against).
3. The fastest is the highest mean throughput among the eligible (the lower N on a tie).
4. The best is the configuration the verdict recommends: sequential when it ties with the
   fastest (concurrency is not worth its complexity); else the best configuration of the
   simplest model that ties with the fastest (the simpler code is cheaper to own), then
   within that model the lowest N within `LOWER_N_MARGIN` that still ties (fewer workers,
   connections, memory). A model that runs the same work as a simpler one plus machinery
   (`Model.wraps`: asyncio-threads is a thread pool driven by a loop) must beat that
   simpler model's best by `MAX_TIE` (10 %), not the 5 % margin: for a plain function a loop
   in front of the same threads cannot be faster, so a gap under that is noise, and the
   verdict must not flip between them from run to run. "Simpler" depends on the handler's form (`Model.rank`); a tie is
   the one noise judge (`Standings.judge`).
5. Ranked: the best first, then the other eligible ones by mean throughput, then the
   excluded ones.
"""

from __future__ import annotations

from collections.abc import Sequence

from profiler import format as fmt
from profiler.analysis.configs import ERRORS_RULE, violations
from profiler.models import MODELS, get_model, simplicity_rank
from profiler.results import Constraints, Results, Trial
from profiler.results.standings import (
    ASSUMED_NOISE,
    CONSTRAINT,
    ERRORS,
    MAX_TIE,
    REMEASURE_FAILED,
    SUSPECT,
    UNBOUNDED,
    Choice,
    Config,
    Standing,
    Standings,
    Tie,
    basis_of,
    concurrency_key,
    judge,
    reading_order,
)

LOWER_N_MARGIN = 0.05  # within a model, a lower N this close to its best wins


def standings(trials: Sequence[Trial], constraints: Constraints = Constraints(),  # noqa: B008 - frozen
              handle_kind: str = "sync") -> Standings:
    """The judged table of these trials (see the module docstring)."""
    configs, left_out = _group(trials)
    failed = _failed_remeasures(trials)
    rows = [_standing(c, constraints, left_out.get(c.key, ()), failed.get(c.key)) for c in configs]
    bounded = [r for r in rows if r.eligible and r.config.concurrency != 0]
    if bounded:
        rows = [Standing(r.config, False, UNBOUNDED,
                         "unbounded: tasks, memory and connections grow with the batch; a bounded "
                         "N is recommended instead", r.left_out,
                         (("the bounded-concurrency rule", fmt.rps(r.config.throughput_rps)),))
                if r.eligible and r.config.concurrency == 0 else r for r in rows]
    eligible = sorted((r.config for r in rows if r.eligible),
                      key=lambda c: (-c.throughput_rps, concurrency_key(c.concurrency)))
    sequential = next((c for c in configs if c.model == "sequential"), None)
    fastest = eligible[0] if eligible else None
    best, choice = _choose(eligible, sequential, constraints.noise_margin, handle_kind)
    order = {c.key: i for i, c in enumerate(([best] if best else []) + [c for c in eligible if c is not best])}
    excluded = sorted((r for r in rows if not r.eligible), key=lambda r: -r.config.throughput_rps)
    ranked = sorted((r for r in rows if r.eligible), key=lambda r: order[r.config.key]) + excluded
    return Standings(tuple(ranked), reading_order(configs, handle_kind), best, fastest, sequential,
                     tuple(i for i, t in enumerate(trials) if not t.ok), constraints, handle_kind,
                     choice, basis_of(trials))


def table(results: Results, constraints: Constraints | None = None) -> Standings:
    """`results.standings`, judged now when it is missing, stale (the trials or the handler's
    form changed since) or judged under other constraints; stored on the results either way."""
    current = results.standings
    if (current is None or current.basis != basis_of(results.trials)
            or current.handle_kind != results.workload.handle_kind
            or (constraints is not None and current.constraints != constraints)):
        given = constraints if constraints is not None else (
            current.constraints if current is not None else Constraints())
        current = standings(results.trials, given, results.workload.handle_kind)
        results.standings = current
    return current


def decisive(s: Standings) -> list[Tie]:
    """The comparisons the best turns on, against the fastest: sequential ("is concurrency
    worth it?") and the simplest model near the top ("is the harder model worth it?").
    The sweep repeats both sides of each until they are settled."""
    fastest, sequential, eligible = s.fastest, s.sequential, s.eligible
    if fastest is None:
        return []
    kind = s.handle_kind
    pairs: list[Tie] = []
    if sequential is not None and sequential is not fastest and s.is_eligible(sequential):
        pairs.append(s.judge(sequential, fastest))
    close = [c for c in eligible if c is not fastest and c is not sequential
             and simplicity_rank(c.model, kind) < simplicity_rank(fastest.model, kind)
             and c.throughput_rps >= fastest.throughput_rps * (1 - max(MAX_TIE, ASSUMED_NOISE))]
    if close:
        simplest = min(close, key=lambda c: (simplicity_rank(c.model, kind), -c.throughput_rps))
        pairs.append(_judge(simplest, fastest, s.margin, kind))
    return pairs


def _judge(simpler: Config, faster: Config, margin: float, kind: str) -> Tie:
    """The noise judge, at `MAX_TIE` when `faster`'s model wraps `simpler`'s (see rule 4)."""
    wrapped = get_model(faster.model).wraps(kind) == simpler.model if faster.model in MODELS else False
    return judge(simpler, faster, max(margin, MAX_TIE) if wrapped else margin)


def _failed_remeasures(trials: Sequence[Trial]) -> dict[tuple[str, int], Trial]:
    """Per model × N, the first trial that did not finish after a suspect one of it (the
    re-measurement that was to confirm it)."""
    out: dict[tuple[str, int], Trial] = {}
    suspected: set[tuple[str, int]] = set()
    for t in trials:
        if t.ok and t.suspect:
            suspected.add(t.key)
        elif not t.ok and t.key in suspected:
            out.setdefault(t.key, t)
    return out


# ---------------------------------------------------------------- the rules


def _group(trials: Sequence[Trial]) -> tuple[list[Config], dict[tuple[str, int], tuple[int, ...]]]:
    """Ok trials by model × N (suspect ones only where nothing clean measured it), and the
    suspect trials left out of each."""
    groups: dict[tuple[str, int], list[int]] = {}
    for i, t in enumerate(trials):
        if t.ok:
            groups.setdefault(t.key, []).append(i)
    configs: list[Config] = []
    left_out: dict[tuple[str, int], tuple[int, ...]] = {}
    for (model, n), idx in groups.items():
        clean = [i for i in idx if not trials[i].suspect]
        if clean and len(clean) < len(idx):
            left_out[(model, n)] = tuple(i for i in idx if trials[i].suspect)
        use = clean or idx
        configs.append(Config(model, n, tuple(trials[i] for i in use), tuple(use)))
    return configs, left_out


def _standing(c: Config, k: Constraints, left_out: tuple[int, ...],
              failed: Trial | None = None) -> Standing:
    broken = violations(c, k)
    if broken:
        kind = ERRORS if broken[0].rule == ERRORS_RULE else CONSTRAINT
        return Standing(c, False, kind, "; ".join(map(str, broken)), left_out,
                        tuple((v.rule, v.measured) for v in broken))
    if all(t.suspect for t in c.trials):
        why = c.trials[-1].suspect
        if failed is not None:
            how = f"{failed.status}: {failed.status_detail}".rstrip(": ")
            return Standing(c, False, REMEASURE_FAILED, f"suspect ({why}), and its re-measurement "
                            f"failed ({how}): never confirmed", left_out,
                            (("the re-measurement", how),))
        return Standing(c, False, SUSPECT, f"suspect, never confirmed: {why}", left_out,
                        (("the sanity check", why),))
    return Standing(c, True, left_out=left_out)


def _choose(eligible: list[Config], sequential: Config | None, margin: float,
            kind: str) -> tuple[Config | None, Choice | None]:
    if not eligible:
        return None, None
    fastest = eligible[0]
    seq_ok = sequential is not None and sequential in eligible and sequential.throughput_rps > 0
    seq_tie = judge(sequential, fastest, margin) if seq_ok and sequential is not fastest else None
    if seq_ok and (sequential is fastest or (seq_tie is not None and seq_tie.tie)):
        assert sequential is not None
        return sequential, Choice(seq_tie, None, sequential)
    model_best, tie = _simplest_close(eligible, fastest, margin, kind)
    floor = model_best.throughput_rps * (1 - LOWER_N_MARGIN)
    best = min((c for c in eligible if c.model == model_best.model and c.throughput_rps >= floor
                and (c is model_best or _judge(c, fastest, margin, kind).tie)),
               key=lambda c: concurrency_key(c.concurrency))
    return best, Choice(seq_tie, tie, model_best)


def _simplest_close(eligible: Sequence[Config], fastest: Config, margin: float,
                    kind: str) -> tuple[Config, Tie | None]:
    """The best configuration of the simplest model that ties with `fastest` (`fastest`
    itself when none does), with the tie that let it in (None when it is `fastest`)."""
    ties = [(c, t) for c in eligible if c is not fastest and (t := _judge(c, fastest, margin, kind)).tie]
    if not ties:
        return fastest, None
    rank = min(simplicity_rank(c.model, kind) for c, _ in ties)
    if rank >= simplicity_rank(fastest.model, kind):
        return fastest, None
    model = next(c.model for c, _ in ties if simplicity_rank(c.model, kind) == rank)
    return max(((c, t) for c, t in ties if c.model == model), key=lambda ct: ct[0].throughput_rps)
