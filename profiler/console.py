"""The terminal as a user interface: progress while trials run, a table and the verdict after.

On a terminal this uses rich (colour, a live progress line); when output is not a TTY
(CI logs) or `--quiet` is given, it prints plain lines or nothing.
"""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from profiler.results import Results, Trial
from profiler.trial import TrialSpec


def fmt_num(value: float | int | None, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "n/a"
    text = f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"
    return f"{text}{unit}"


def fmt_bytes(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:,.0f} MiB"


def concurrency_label(n: int) -> str:
    return "unbounded" if n == 0 else str(n)


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
        text = (f"trial {self.count}{of}: {spec.model}×{concurrency_label(spec.concurrency)}, "
                f"{spec.records} records")
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
        if trial.status == "ok":
            err = f", {trial.errors} errors" if trial.errors else ""
            line = (f"  {trial.label}: {trial.throughput_rps:,.1f} records/s, "
                    f"CPU {fmt_num(trial.cpu_util, 2)} cores{err}")
            style = "yellow" if trial.errors else None
        else:
            line = f"  {trial.label}: {trial.status.upper()} — {trial.status_detail}"
            style = "red"
        self.console.print(line, style=style, highlight=False)

    def note(self, message: str) -> None:
        if not self.quiet:
            self.console.print(f"  {message}", style="dim", highlight=False)


def trials_table(results: Results) -> Table:
    sizes = {t.records for t in results.trials}
    per_trial = f"{max(sizes):,} records per trial" if len(sizes) == 1 else f"{min(sizes):,}–{max(sizes):,} records per trial"
    table = Table(title=f"concur: {results.workload.name} ({per_trial if sizes else 'no trials'})")
    for col, justify in (("model", "left"), ("N", "right"), ("records/s", "right"),
                         ("cpu_util", "right"), ("RSS", "right"), ("conns", "right"),
                         ("loop lag p99", "right"), ("errors", "right"), ("status", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for t in results.trials:
        table.add_row(
            t.model, concurrency_label(t.concurrency), fmt_num(t.throughput_rps),
            fmt_num(t.cpu_util, 2), fmt_bytes(t.rss_peak_bytes), fmt_num(t.connections_peak),
            fmt_num(t.loop_lag_p99_ms, 1, " ms"),
            fmt_num(t.errors) if t.status == "ok" else "-",
            t.status if t.status == "ok" else f"{t.status}: {t.status_detail}",
        )
    return table


def print_summary(console: Console, results: Results, verdict: list[str]) -> None:
    """Verdict first (the one sentence a reader needs), then the table, then warnings."""
    if verdict:
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
