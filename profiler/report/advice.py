"""The next step after a verdict, as Clinic.js Doctor gives one: what to run to learn more.

One place for it, so the terminal, the HTML report and summary.md suggest the same
command. Pure: reads `Results`, returns sentences.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from profiler.analysis.failure import handler_failure
from profiler.extras import install_hint, missing
from profiler.results import Results

ATTRIBUTION_FLAG = "--attribution"


def attribution_command(results: Results) -> str:
    """The run's own command with `--attribution` added (the target alone when unrecorded)."""
    base = results.command or f"concur run {shlex.quote(results.workload.target)}"
    return base if ATTRIBUTION_FLAG in shlex.split(base) else f"{base} {ATTRIBUTION_FLAG}"


@dataclass(frozen=True)
class NextStep:
    """Why to look further, and the command that does."""

    why: str
    command: str

    def __str__(self) -> str:
        return f"{self.why}: run `{self.command}`"


def next_steps(results: Results) -> tuple[NextStep, ...]:
    """After a CPU-bound or serialized (GIL, lock) verdict that has not been attributed yet:
    run the attribution, which says whether the time goes to the GIL, the event loop's own
    bookkeeping or the user's functions."""
    failure = handler_failure(results)
    if failure is not None:
        return (NextStep(f"{failure.kind} in every record; to see its whole traceback and what "
                         "the handler prints, take one record through it in the foreground",
                         failure.command),)
    cls = results.classification
    if cls is None or results.attribution:
        return ()
    if cls.label != "cpu-bound" and "serialized" not in cls.refinements:
        return ()
    why = ("the work is CPU-bound" if cls.label == "cpu-bound"
           else "the work is serialized on a shared resource")
    needs = f", after `{install_hint('attribution')}`" if missing("attribution") else ""
    return (NextStep(f"{why}; to see which functions hold the CPU and whether the GIL or a "
                     f"lock is the limit (about 10 s more per configuration{needs})",
                     attribution_command(results)),)
