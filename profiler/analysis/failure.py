"""When the handler failed on every record: say that first, where, and how to see it.

A run in which not one record succeeded measured nothing worth a verdict: its CPU figures
are start-up noise (a 0.03 s window can show more cores busy than the machine has) and
"Unclassified" buries the one thing the user needs, their own exception. So the verdict
of such a run is the failure: the most frequent error type, its first message, where the
handler raised it (the last frames of the handler's own code, kept per error type in the
trials, `Trial.error_tracebacks`), what the trial printed last (`Trial.output_tail`), and
the command that runs one record in the foreground with nothing caught
(`python -m profiler.run.foreground`). Pure: reads the trials.
"""

from __future__ import annotations

import shlex
from collections import Counter
from dataclasses import dataclass, field

from profiler.models.workers import RAISED_IN
from profiler.results import Results, Trial

FOREGROUND = "python -m profiler.run.foreground"
SHOWN_OUTPUT_LINES = 5


@dataclass(frozen=True)
class HandlerFailure:
    """What failed, where, and what the trial printed before it did."""

    kind: str  # the exception's type
    message: str
    frames: list[str] = field(default_factory=list)  # `file:line in function`, outermost first
    output: list[str] = field(default_factory=list)  # the trial's last printed lines
    in_records: bool = True  # raised by records (False: every trial failed before its records)
    command: str = ""  # runs one record in the foreground

    @property
    def where(self) -> str:
        """The handler's own line that raised (the last frame of its own code), else the
        deepest frame known; "" when none was kept."""
        own = [f for f in self.frames if not f.startswith(RAISED_IN)]
        return (own or [f.removeprefix(RAISED_IN) for f in self.frames] or [""])[-1]

    def sentence(self) -> str:
        what = f"{self.kind}: {self.message}" if self.message else self.kind
        where = f" at {self.where}" if self.where else ""
        head = ("the handler failed on every record" if self.in_records
                else "every trial failed before its first record")
        return (f"{head} — {what}{where}; run one record in the foreground to see the whole "
                f"traceback: {self.command}")

    def evidence(self) -> list[str]:
        out = [f"traceback (last frames): {' → '.join(self.frames)}"] if self.frames else []
        if self.output:
            out.append("the trial printed last: " + " | ".join(self.output[-SHOWN_OUTPUT_LINES:]))
        return out


def handler_failure(results: Results) -> HandlerFailure | None:
    """The failure when not one record succeeded in any trial and the handler (or its setup)
    raised, else None."""
    trials = results.trials
    if not trials or any(t.ok and t.records > t.errors for t in trials):
        return None
    command = foreground_command(results)
    counts: Counter[str] = Counter()
    for t in trials:
        counts.update(t.errors_by_type)
    if counts:
        kind = counts.most_common(1)[0][0]
        first = next(t for t in trials if kind in t.errors_by_type)
        message = (first.error_messages.get(kind) or [""])[0]
        frames = next((t.error_tracebacks[kind] for t in trials if t.error_tracebacks.get(kind)), [])
        return HandlerFailure(kind, message, list(frames), _output(trials, first), True, command)
    failed = [t for t in trials if t.status == "failed"]  # setup (or loading) raised
    if not failed:
        return None  # crashes, timeouts, memory: their own words (caveats), not a handler error
    first = failed[0]
    frames = next(iter(first.error_tracebacks.values()), [])
    kind, _, message = first.status_detail.partition(": ")  # the child's "Type: message"
    return HandlerFailure(kind, message, list(frames), _output(trials, first), False, command)


def _output(trials: list[Trial], first: Trial) -> list[str]:
    return first.output_tail or next((t.output_tail for t in trials if t.output_tail), [])


def foreground_command(results: Results) -> str:
    """The command that runs the run's first record through its handler in the foreground."""
    parts = [FOREGROUND, shlex.quote(results.workload.target)]
    if results.workload.input_file:
        parts += ["--input", shlex.quote(results.workload.input_file)]
    return " ".join(parts)
