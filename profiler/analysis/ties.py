"""Ties: is a simpler configuration as good as a faster one? The one rule, used twice.

The recommendation asks it of sequential against the fastest ("is concurrency worth
it?") and of the simplest model near the top against the fastest ("is the harder model
worth it?"); the sweep asks which of those questions the repeats have not answered yet
and repeats both sides until they have or the budget ends (`decisive_pairs`, `Tie.settled`).

A tie is never decided on an assumed margin when the noise was measured:

1. *Practical*: the simpler one is within `margin` of the faster (the constraints'
   `noise_margin`, 5 % by default: the same 5 % below which the sweep calls a step "no
   gain"). A difference that small is not worth a harder model even when it is real.
2. *Measured*: both sides have repeats, the Welch interval of the ratio of their means
   (`profiler.stats.compare`) includes 1 (not a significant difference), and the simpler
   one is within `MAX_TIE` (10 %). Beyond 10 % a difference the noise hides is still
   too large to give away: the faster one is taken, and the sentence says the noise was
   too wide to tell.
3. *Assumed*: a side was measured once, so its noise is unknown; within `ASSUMED_NOISE`
   (10 %, the spread of repeats we see on a busy 2-core machine) it counts as a tie, and
   the sentence says the noise was assumed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from profiler import format as fmt
from profiler.analysis.configs import Config
from profiler.models import simplicity_rank
from profiler.stats import Comparison, compare

MAX_TIE = 0.10  # a measured, non-significant difference is a tie only this close
ASSUMED_NOISE = 0.10  # with a side measured once, differences this small count as noise


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
    return Tie(simpler, faster, compare(faster.throughputs, simpler.throughputs), margin)


def simplest_close(eligible: Sequence[Config], best: Config, margin: float,
                   kind: str) -> tuple[Config, Tie | None]:
    """The best configuration of the simplest model that ties with `best` (`best` itself
    when none does), with the tie that let it in (None when it is `best`)."""
    ties = [(c, t) for c in eligible if c is not best and (t := judge(c, best, margin)).tie]
    if not ties:
        return best, None
    rank = min(simplicity_rank(c.model, kind) for c, _ in ties)
    if rank >= simplicity_rank(best.model, kind):
        return best, None
    model = next(c.model for c, _ in ties if simplicity_rank(c.model, kind) == rank)
    return max(((c, t) for c, t in ties if c.model == model), key=lambda ct: ct[0].throughput_rps)


def decisive_pairs(eligible: Sequence[Config], sequential: Config | None, margin: float,
                   kind: str) -> list[Tie]:
    """The comparisons the recommendation turns on: sequential against the fastest, and
    the simplest model near the top against the fastest (see the module docstring)."""
    if not eligible:
        return []
    best = eligible[0]
    pairs: list[Tie] = []
    if sequential is not None and sequential is not best and sequential in eligible:
        pairs.append(judge(sequential, best, margin))
    close = [c for c in eligible if c is not best and c is not sequential
             and simplicity_rank(c.model, kind) < simplicity_rank(best.model, kind)
             and c.throughput_rps >= best.throughput_rps * (1 - max(MAX_TIE, ASSUMED_NOISE))]
    if close:
        simplest = min(close, key=lambda c: (simplicity_rank(c.model, kind), -c.throughput_rps))
        pairs.append(judge(simplest, best, margin))
    return pairs
