"""The terminal as a user interface: progress while trials run, the verdict and a table after.

On a terminal, progress is one live line (rich): which trial of how many, the time since
the run started and what is left of the budget (or an estimate for an explicit grid),
and, for a trial that runs long, when its timeout will kill it. Each finished trial
leaves one line. Used as a context manager, `TerminalProgress` always removes its live
line and gives the cursor back, however the run ends (Ctrl-C included).

When output is not a terminal (CI logs, a pipe) the same information comes as plain
lines, never hard-wrapped; with `--quiet`, nothing.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import IO, Any

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from profiler import format as fmt
from profiler.analysis import classify, recommend
from profiler.measure.trial import TrialSpec
from profiler.report.advice import next_steps
from profiler.results import Classification, Config, Recommendation, Results, Trial, standings_of
from profiler.results.standings import ERRORS, Standings, full_batch_s

LONG_TRIAL_S = 5.0  # from here on, the live line counts down to the trial's timeout
PIPE_WIDTH = 1000  # not a terminal: lay tables out at their natural width, wrap nothing


@dataclass(frozen=True)
class _Running:
    spec: TrialSpec
    number: int  # 1-based among the run's kept trials; 0 for the calibration
    planned: int | None
    calibration: bool
    started: float


class TerminalProgress:
    """Progress of a session (see the module docstring); `budget_s` is the adaptive sweep's
    budget, None for an explicit grid (whose `planned` count gives an estimate instead)."""

    def __init__(self, console: Console, quiet: bool = False, budget_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.console = console
        self.quiet = quiet
        self.budget_s = budget_s
        self.clock = clock
        self.count = 0
        self._t0 = clock()
        self._durations: list[float] = []
        self._running: _Running | None = None
        self._live: Live | None = None
        self.shown: list[str] = []  # the notes printed while the run ran (see print_summary)

    # --- lifecycle: the live line never outlives the run ---------------------------------
    def __enter__(self) -> TerminalProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove the live line and show the cursor again (idempotent)."""
        live, self._live = self._live, None
        if live is not None:
            live.stop()

    # --- the Progress protocol -----------------------------------------------------------
    def trial_started(self, spec: TrialSpec, planned: int | None, calibration: bool = False) -> None:
        if not calibration:
            self.count += 1
        self._running = _Running(spec, 0 if calibration else self.count, planned, calibration,
                                 self.clock())
        if self.quiet:
            return
        if self.console.is_terminal:
            self.close()
            self._live = Live(_LiveLine(self), console=self.console, transient=True,
                              refresh_per_second=4, redirect_stdout=False, redirect_stderr=False)
            self._live.start()
        else:
            self.console.print(self.status(), highlight=False, markup=False)

    def trial_finished(self, trial: Trial) -> None:
        self.close()
        running, self._running = self._running, None
        took = self.clock() - running.started if running else None
        if running is not None and not running.calibration and took is not None:
            self._durations.append(took)
        if self.quiet:
            return
        if running is not None and running.calibration:
            self.console.print(f"  {calibration_line(trial)}", style="dim", highlight=False,
                               markup=False)
            return
        self.console.print(f"  {finished_line(trial)}", style=_style(trial), highlight=False,
                           markup=False)
        for line in failure_lines(trial):
            self.console.print(f"    {line}", style="dim", highlight=False, markup=False)

    def note(self, message: str) -> None:
        self.close()
        if not self.quiet:
            self.console.print(f"  {message}", style="dim", highlight=False, markup=False)
            self.shown.append(message)

    # --- what the live line says -------------------------------------------------------
    def status(self, now: float | None = None) -> str:
        """The progress line for the trial running now (pure given the clock: tested)."""
        now = self.clock() if now is None else now
        r = self._running
        if r is None:
            return self.run_status(now)
        records = fmt.plural(r.spec.records, "record")
        if r.calibration:
            head = (f"calibrating: {fmt.config(r.spec.model, r.spec.concurrency)} on {records}, "
                    "to size every trial")
        else:
            of = f"/{r.planned}" if r.planned else ""
            head = f"trial {r.number}{of}: {fmt.config(r.spec.model, r.spec.concurrency)}, {records}"
        running_s = now - r.started
        if running_s >= LONG_TRIAL_S:
            left = max(0.0, r.spec.timeout_s - running_s)
            head += (f", running {fmt.clock(running_s)} (its {fmt.duration(r.spec.timeout_s)} "
                     f"timeout kills it in {fmt.clock(left)})")
        return f"{head} · {self.run_status(now)}"

    def run_status(self, now: float) -> str:
        """`0:23 elapsed, ~37 s of the 60 s budget left` or, for a grid, an estimate."""
        elapsed = now - self._t0
        text = f"{fmt.clock(elapsed)} elapsed"
        if self.budget_s is not None:
            left = max(0.0, self.budget_s - elapsed)
            return f"{text}, ~{fmt.clock(left)} of the {fmt.clock(self.budget_s)} budget left"
        r = self._running
        if r is not None and r.planned and self._durations:
            per_trial = sum(self._durations) / len(self._durations)
            remaining = max(0, r.planned - r.number + 1) * per_trial - (now - r.started)
            text += f", ~{fmt.clock(max(0.0, remaining))} left"
        return text


class _LiveLine:
    """The spinner and `TerminalProgress.status()`, recomputed at every refresh."""

    def __init__(self, progress: TerminalProgress) -> None:
        self.progress = progress
        self.spinner = Spinner("dots", style="green")

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        # One line, cut with "…" at the terminal's width: the spinner's own text would wrap
        # (rich's Spinner joins frame and text into a Text that forgets `no_wrap`).
        frame = self.spinner.render(console.get_time())
        yield Text.assemble(frame, " ", self.progress.status(), no_wrap=True, overflow="ellipsis")


def _style(trial: Trial) -> str | None:
    return "red" if not trial.ok else "yellow" if trial.errors else None


def finished_line(trial: Trial) -> str:
    if not trial.ok:
        return f"{trial.label}: {trial.status.upper()} — {trial.status_detail}"
    err = f", {fmt.count(trial.errors)} errors" if trial.errors else ""
    return f"{trial.label}: {fmt.rps(trial.throughput_rps)}, CPU {fmt.cores(trial.cpu_util)}{err}"


SHOWN_OUTPUT_LINES = 5


def failure_lines(trial: Trial) -> list[str]:
    """Under a trial that did not finish: where its error was raised and the last lines
    its processes printed (`Trial.output_tail`), so a failure is seen where it happens."""
    if trial.ok:
        return []
    out = [f"at {' → '.join(frames)}" for frames in list(trial.error_tracebacks.values())[:1] if frames]
    return out + [f"| {line}" for line in trial.output_tail[-SHOWN_OUTPUT_LINES:]]


def calibration_line(trial: Trial) -> str:
    if not trial.ok or not trial.records:
        return f"calibration: {trial.status} {trial.status_detail}".rstrip()
    per_record = trial.wall_s / trial.records
    return (f"calibration: {fmt.plural(trial.records, 'record')} in {fmt.ms(trial.wall_s * 1000)} "
            f"({fmt.ms(per_record * 1000)} per record; not kept as a trial)")


# --- after the run -------------------------------------------------------------------------

def verdict_lines(results: Results) -> list[str]:
    """Terminal text: "<label>: <recommendation sentence>", the batch prediction for the
    recommended configuration, the classification evidence, then "warning: ..." lines
    (each once) and "note: ..." lines (the tool's own choices), then the next step.

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
    lines += [f"warning: {text}" for text in dict.fromkeys(recommendation.warnings)]
    lines += [f"note: {text}" for text in dict.fromkeys(recommendation.notes)]
    lines += [f"next: {step}" for step in next_steps(results)]
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


def story_lines(results: Results) -> list[str]:
    """The seed's question answered first (`analysis.story`): the headline, then its details."""
    story = results.story
    return [story.headline, *story.details] if story is not None else []


def _throughput(c: Config) -> str:
    cv = c.throughput_cv
    return fmt.rate_spread(c.throughput_rps, cv * c.throughput_rps if cv is not None else None)


@dataclass(frozen=True)
class _Column:
    """One column of the terminal table: its header (two short lines rather than one long
    one), how to align it, and `drop`: 0 = always shown, else the order in which columns
    give way on a narrow terminal (the highest first)."""

    header: str
    justify: str
    drop: int
    name: str  # how it is named when it is left out

    @property
    def width(self) -> int:
        return max(cell_len(line) for line in self.header.split("\n"))


MARK = "← recommended"
SHORT_MARK = "←"
SHORT_MARK_DROP = 3.5  # the mark loses its words after the DB columns, before the CPU


def _batch(s: Standings, c: Config, total: int | None) -> str:
    """The configuration's full batch, or "fails" when the standings excluded it for its errors."""
    if not total:
        return ""
    row = s.standing(c)
    return "fails" if row is not None and row.kind == ERRORS else fmt.duration(full_batch_s(total, c.throughput_rps))


def trials_table(results: Results, width: int | None = None) -> Table:
    """One row per configuration, its repeats as mean ± standard deviation (hyperfine's and
    pyperf's form), with the full batch's time (--total) and the database's own count of
    sessions and refusals when they were measured; then one row per trial that did not
    finish (its status; the reason is among the warnings). The report has every trial.

    Laid out for `width` columns (None: any width): model, N, records/s and the mark of
    the recommended row always stay; the other columns give way, least telling first, and
    the caption names those left out. Where everything fits, nothing is left out."""
    columns, rows = _table_cells(results)
    shown = list(range(len(columns)))
    mark = MARK
    # What gives way, in order: the columns by their `drop`, and the mark's words (for a
    # caption that says what ← means) just before the CPU, the full batch and the errors.
    steps: list[int | None] = sorted((i for i, c in enumerate(columns) if c.drop),
                                     key=lambda i: -columns[i].drop)
    steps.insert(sum(columns[i].drop > SHORT_MARK_DROP for i in steps), None)
    for step in steps if width is not None else ():
        if _natural_width(columns, rows, shown, mark) <= width:
            break
        if step is None:
            mark = SHORT_MARK
        else:
            shown.remove(step)
    sizes = sorted({t.records for t in results.trials})
    per_trial = ("no trials" if not sizes else f"{sizes[0]:,} records per trial" if len(sizes) == 1
                 else f"{sizes[0]:,}–{sizes[-1]:,} records per trial")
    left_out = [columns[i].name for i in range(len(columns)) if i not in shown]
    caption = []
    if mark == SHORT_MARK:
        caption.append(f"{SHORT_MARK} recommended")
    if left_out:
        caption.append(f"left out at {width} columns: {', '.join(left_out)} (a wider terminal "
                       "or the report shows them)")
    table = Table(title=f"concur: {results.workload.name} ({per_trial})",
                  caption="; ".join(caption) or None, caption_justify="left")
    for i in shown:
        table.add_column(columns[i].header, justify=columns[i].justify,  # type: ignore[arg-type]
                         no_wrap=True)
    for cells, style in rows:
        cells = [MARK if c is _MARKED and mark == MARK else SHORT_MARK if c is _MARKED else c
                 for c in cells]
        table.add_row(*(cells[i] for i in shown), style=style)
    return table


_MARKED = "\0recommended"  # placeholder for the mark, spelled once the width is known


def _table_cells(results: Results) -> tuple[list[_Column], list[tuple[list[str], str | None]]]:
    """Every column the table can have, and every row's cells (with their style)."""
    total = results.workload.total_records
    db = any(t.db_connections_peak is not None for t in results.trials)
    wanted = [
        (_Column("model", "left", 0, "model"), True),
        (_Column("N", "right", 0, "N"), True),
        (_Column("runs", "right", 6, "runs"), True),
        (_Column("records/s\nmean ± sd", "right", 0, "records/s"), True),
        (_Column(f"{fmt.count(total)}\nrecords", "right", 2, "full batch"), bool(total)),
        (_Column("CPU\ncores", "right", 3, "CPU"), True),
        (_Column("RSS\npeak", "right", 8, "RSS peak"), True),
        (_Column("sockets\npeak", "right", 9, "sockets peak"), True),
        (_Column("DB\nsessions", "right", 4, "DB sessions"), db),
        (_Column("DB\nrefused", "right", 5, "DB refused"), db),
        (_Column("loop lag\np99", "right", 7, "loop lag p99"), True),
        (_Column("errors", "right", 1, "errors"), True),
        (_Column("", "left", 0, "recommended"), True),
    ]
    keep = [shown for _, shown in wanted]
    columns = [c for c, shown in wanted if shown]
    rows: list[tuple[list[str], str | None]] = []
    rec = results.recommendation
    s = standings_of(results)
    for c in s.configs:
        chosen = rec is not None and rec.names(c.model, c.concurrency)
        cells = [c.model, fmt.concurrency(c.concurrency), str(c.repeats), _throughput(c),
                 _batch(s, c, total),
                 _cores(c.mean_of("cpu_util")), fmt.mib(c.peak("rss_peak_bytes")),
                 fmt.count(c.peak("connections_peak")), fmt.count(c.peak("db_connections_peak")),
                 fmt.count(c.peak("db_refused")), fmt.ms(c.peak("loop_lag_p99_ms")),
                 fmt.count(c.errors), _MARKED if chosen else ""]
        rows.append(([x for x, k in zip(cells, keep, strict=True) if k],
                     "bold green" if chosen else None))
    for t in results.trials:
        if not t.ok:
            cells = [t.model, fmt.concurrency(t.concurrency), "1", fmt.NA, fmt.NA,
                     _cores(t.cpu_util), fmt.mib(t.rss_peak_bytes), fmt.count(t.connections_peak),
                     fmt.count(t.db_connections_peak), fmt.count(t.db_refused),
                     fmt.ms(t.loop_lag_p99_ms), "-", t.status]
            rows.append(([x for x, k in zip(cells, keep, strict=True) if k], "red"))
    return columns, rows


def _cores(value: float | None) -> str:
    """CPU as `fmt.cores` spells it, without the unit (the header says "cores")."""
    return fmt.cores(value).removesuffix(" cores")


def _natural_width(columns: list[_Column], rows: list[tuple[list[str], str | None]],
                   shown: list[int], mark: str) -> int:
    """Characters the table takes with these columns, none squeezed: each column is its
    widest cell plus a space either side and a rule; one more rule closes the row."""
    def widest(i: int) -> int:
        cells = [cell_len(mark if cells[i] is _MARKED else cells[i]) for cells, _ in rows]
        return max([columns[i].width, *cells])
    return 1 + sum(widest(i) + 3 for i in shown)


def _first_errors(results: Results) -> list[str]:
    """The first message of each error type per configuration: what a warning's count is of."""
    out: dict[str, None] = {}
    for t in results.trials:
        for kind in t.errors_by_type:
            first = (t.error_messages.get(kind) or [""])[0]
            out.setdefault(f"first {kind} in {t.label}" + (f": {first}" if first else ""))
    return list(out)


def print_summary(console: Console, results: Results, shown: Collection[str] = ()) -> None:
    """The story first when the run holds a job and its rewrite, then the verdict (the one
    sentence a reader needs), the table, the evidence, warnings (each error's first message
    under them), notes and the next step. A note in `shown` (the progress printed it to the
    same screen or file during the run: `same_output`) is not printed a second time."""
    story = story_lines(results)
    if story:
        console.print(story[0], style="bold", highlight=False, markup=False)
        for line in story[1:]:
            console.print(line, highlight=False, markup=False)
    verdict = verdict_lines(results)
    console.print(verdict[0], style="bold", highlight=False, markup=False)
    console.print(trials_table(results, console.width))
    styles = {"warning:": "yellow", "note:": "dim", "next:": "cyan"}
    for line in verdict[1:]:
        if line.startswith("note: ") and line.removeprefix("note: ") in shown:
            continue
        console.print(line, style=styles.get(line.split(" ", 1)[0]), highlight=False, markup=False)
    for line in _first_errors(results):
        console.print(f"  {line}", style="yellow", highlight=False, markup=False)
    if results.interrupted:
        console.print(f"interrupted: {interrupted_summary(results)}", style="yellow",
                      highlight=False, markup=False)


def interrupted_summary(results: Results) -> str:
    """What a stopped run measured, for its last line."""
    s = standings_of(results)
    labels = [c.label for c in s.configs]
    shown = ", ".join(labels[:6]) + (f" and {len(labels) - 6} more" if len(labels) > 6 else "")
    measured = (f"{fmt.plural(len(results.trials), 'trial')} of "
                f"{fmt.plural(len(labels), 'configuration')} ({shown})" if labels
                else f"{fmt.plural(len(results.trials), 'trial')}, none finished")
    return f"the run was stopped after {measured}; the verdict above is provisional"


def same_output(a: IO[str] | None, b: IO[str] | None) -> bool:
    """True when two streams write to the same place (one terminal, or `2>&1` into one file
    or pipe): what one printed, the other need not repeat."""
    try:
        sa, sb = os.fstat(a.fileno()), os.fstat(b.fileno())  # type: ignore[union-attr]
    except (AttributeError, OSError, ValueError):
        return False
    if os.isatty(a.fileno()) and os.isatty(b.fileno()):  # type: ignore[union-attr]
        return os.ttyname(a.fileno()) == os.ttyname(b.fileno())  # type: ignore[union-attr]
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _console(file: IO[str] | None, **kwargs: Any) -> Console:
    """A terminal wraps at words as rich does; a pipe or a CI log gets every line whole.

    Markup is off: every string printed is text, never rich markup, so a user's `[/etc/x]`
    or `[wip]` (in an error, a workload's name, a path) shows as written and cannot end
    the run with a MarkupError. Styles are given as `style=` or `Text` spans."""
    stream: Any = file if file is not None else sys.stdout
    tty = bool(getattr(stream, "isatty", lambda: False)())
    return Console(file=file, highlight=False, markup=False, soft_wrap=not tty,
                   width=None if tty else PIPE_WIDTH, **kwargs)


def stderr_console() -> Console:
    return _console(sys.stderr)


def plain_console() -> Console:
    """stdout; when it is not a terminal, nothing is wrapped (see `_console`)."""
    return _console(None)
