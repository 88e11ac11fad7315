"""The terminal as a user interface: progress while trials run, the verdict and a table after.

On a terminal this uses rich (colour, a live progress line); when output is not a TTY
(CI logs) or `--quiet` is given, it prints plain lines or nothing.
"""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from profiler import format as fmt
from profiler.analysis import classify, recommend
from profiler.measure.trial import TrialSpec
from profiler.results import Classification, Recommendation, Results, Trial


class TerminalProgress:
    """Progress for a session: one line per finished trial; a spinner line on a TTY."""

    def __init__(self, console: Console, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self.count = 0
        self._status: Any = None

    def trial_started(self, spec: TrialSpec, planned: int | None) -> None:
        self.count += 1
        if self.quiet:
            return
        of = f"/{planned}" if planned else ""
        text = (f"trial {self.count}{of}: {fmt.config(spec.model, spec.concurrency)}, "
                f"{fmt.count(spec.records)} records")
        if self.console.is_terminal:
            self._status = self.console.status(text)
            self._status.start()
        else:
            self.console.print(text + " …", highlight=False)

    def trial_finished(self, trial: Trial) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
        if self.quiet:
            return
        if trial.ok:
            err = f", {trial.errors} errors" if trial.errors else ""
            line = f"  {trial.label}: {fmt.rps(trial.throughput_rps)}, CPU {fmt.cores(trial.cpu_util)}{err}"
            style = "yellow" if trial.errors else None
        else:
            line = f"  {trial.label}: {trial.status.upper()} — {trial.status_detail}"
            style = "red"
        self.console.print(line, style=style, highlight=False)

    def note(self, message: str) -> None:
        if not self.quiet:
            self.console.print(f"  {message}", style="dim", highlight=False)


def verdict_lines(results: Results) -> list[str]:
    """Terminal text: "<label>: <recommendation sentence>", the batch prediction for the
    recommended configuration, the classification evidence, then "warning: ..." lines.

    Sections missing from `results` are computed on the fly (default constraints) and not
    stored: printing never changes the results.
    """
    classification: Classification = results.classification or classify(results)
    recommendation: Recommendation = results.recommendation or recommend(results)
    title = fmt.verdict_title(classification.label, classification.refinements,
                              classification.readings)
    lines = [f"{title}: {recommendation.sentence}"]
    prediction = _recommended_prediction(results)
    if prediction:
        lines.append(prediction)
    if results.validation is not None:
        lines.append(f"validated: {results.validation.note}")
    lines += classification.evidence
    lines += [f"warning: {text}" for text in recommendation.warnings]
    return lines


def _recommended_prediction(results: Results) -> str | None:
    row = results.predictions.recommended if results.predictions else None
    if row is None or row.wall_s is None or results.predictions is None:
        return None
    text = (f"full batch of {fmt.count(results.predictions.total_records)} records: about "
            f"{fmt.duration(row.wall_s)} with {fmt.config(row.model, row.concurrency)}")
    if row.low_s is not None and row.high_s is not None:
        text += f" ({fmt.duration(row.low_s)} to {fmt.duration(row.high_s)})"
    elif row.note == "single run":
        text += " (single run: no interval)"
    return text


def trials_table(results: Results) -> Table:
    sizes = {t.records for t in results.trials}
    per_trial = (f"{max(sizes):,} records per trial" if len(sizes) == 1
                 else f"{min(sizes):,}–{max(sizes):,} records per trial")
    table = Table(title=f"concur: {results.workload.name} ({per_trial if sizes else 'no trials'})")
    for col, justify in (("model", "left"), ("N", "right"), ("records/s", "right"),
                         ("cpu_util", "right"), ("RSS", "right"), ("conns", "right"),
                         ("loop lag p99", "right"), ("errors", "right"), ("status", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for t in results.trials:
        table.add_row(
            t.model, fmt.concurrency(t.concurrency), fmt.rate(t.throughput_rps),
            fmt.cores(t.cpu_util), fmt.mib(t.rss_peak_bytes), fmt.count(t.connections_peak),
            fmt.ms(t.loop_lag_p99_ms), fmt.count(t.errors) if t.ok else "-",
            t.status if t.ok else f"{t.status}: {t.status_detail}",
        )
    return table


def print_summary(console: Console, results: Results) -> None:
    """Verdict first (the one sentence a reader needs), then the table, then warnings."""
    verdict = verdict_lines(results)
    console.print(verdict[0], style="bold", highlight=False)
    console.print(trials_table(results))
    for line in verdict[1:]:
        console.print(line, highlight=False)
    for t in results.trials:
        for kind, count in t.errors_by_type.items():
            first = (t.error_messages.get(kind) or [""])[0]
            console.print(f"warning: {t.label}: {count} × {kind}" + (f" (first: {first})" if first else ""),
                          style="yellow", highlight=False)
    if results.interrupted:
        console.print("interrupted: results hold the trials measured before Ctrl-C", style="yellow")


def stderr_console() -> Console:
    return Console(file=sys.stderr, highlight=False)


def plain_console() -> Console:
    """stdout; in CI logs (not a TTY) wide enough that tables and verdicts do not wrap."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else 160)
