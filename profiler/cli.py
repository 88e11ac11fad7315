"""The `concur` command. Thin: each command parses its flags (declared once, as a dataclass:
`profiler.cli_flags`), calls one library function, prints, and returns a named exit
code. Every way out is an exit code and at most one line on stderr (`profiler.cli_exit`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import sys
import webbrowser
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from profiler import api
from profiler import format as fmt
from profiler.attribution import attribute as run_attribution
from profiler.attribution import explain
from profiler.cli_exit import (
    EXIT_ALL_FAILED,
    EXIT_GATE_FAILED,
    EXIT_INTERRUPTED,
    EXIT_SERVICE_LOST,
    error_line,
    run_app,
)
from profiler.cli_flags import (
    DEFAULTS,
    DSN,
    Budget,
    Command,
    DbMaxConnections,
    Models,
    NoReport,
    Open,
    Out,
    Quiet,
    Records,
    Target,
    Timeout,
    command,
    flag,
    is_stdout,
)
from profiler.errors import ConcurError
from profiler.extras import require
from profiler.files import write_atomic
from profiler.models import get_model, model_options_from_flags
from profiler.redact import command_line
from profiler.report.console import (
    TerminalProgress,
    plain_console,
    print_summary,
    same_output,
    stderr_console,
)
from profiler.results import Constraints, Results
from profiler.results.schema import to_data
from profiler.review.config import load_thresholds
from profiler.review.decision import Thresholds, parse_config
from profiler.review.measure import GateSpec
from profiler.review.outputs import gate_json, gate_junit, gate_markdown, gate_table
from profiler.run.options import DEFAULT_RECORDS, RunOptions, positive
from profiler.run.output import check_file, claim_folder
from profiler.run.plan import parse_concurrency, parse_models
from profiler.run.prepare import prepare
from profiler.version import __version__

app = typer.Typer(
    name="concur",
    help="Measure which concurrency model makes a per-record batch function fastest, and why.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain help, as click prints it: flags without a `<bool>` type, paragraphs re-flowed to
    # the terminal rather than broken where the docstring's lines break.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


def _print_version(value: bool) -> None:
    if value:
        print(f"concur {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", "-V", callback=_print_version, is_eager=True,
                                          metavar="", help="Print concur's version and exit.")] = False,
) -> None:
    """Measure which concurrency model makes a per-record batch function fastest, and why."""


def open_report(index: Path, console: Console) -> None:
    """--open: the report in the user's browser (`$BROWSER` is honoured, as everywhere)."""
    if not webbrowser.open(index.resolve().as_uri()):
        console.print(f"could not open a web browser; the report is {index.resolve()}")


def default_out_dir(workload_name: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", workload_name).strip("-") or "workload"
    return Path("reports") / f"{safe}-{stamp}"


def all_failed(results: Results) -> bool:
    """True when not one record succeeded in any trial: the workload itself is broken."""
    return bool(results.trials) and not any(t.ok and t.records > t.errors for t in results.trials)


# ---------------------------------------------------------------- run


@dataclass
class RunFlags:
    target: Target
    models: Models = None
    concurrency: Annotated[str | None, typer.Option(metavar="N1,N2|auto", help="Comma-separated N to try for each model, e.g. 1,4,16 (0 = unbounded asyncio); 'auto' or omitted = adaptive sweep.")] = None
    records: Annotated[int | None, typer.Option(metavar="N", help=f"Records per trial (default: sized to ~1 s by the sweep, {DEFAULT_RECORDS} for an explicit grid).")] = None
    total: Annotated[int | None, typer.Option(metavar="N", help="Records in the full batch: predict its wall time per configuration.")] = None
    repeat: Annotated[int, typer.Option(metavar="K", help="Run each configuration this many times (noise estimate).")] = 1
    budget: Budget = DEFAULTS["budget"]
    validate: Annotated[int | None, typer.Option("--validate", metavar="N", help="After the sweep (outside --budget), run the recommended configuration once on this many records and correct the full-batch prediction by what it measured.")] = None
    input: Annotated[Path | None, typer.Option("--input", metavar="FILE", help="CSV, JSONL or Parquet file whose rows (as dicts) are the records.")] = None
    max_connections: Annotated[int | None, typer.Option(metavar="N", help="Recommend no configuration that opens more TCP connections than this.")] = None
    max_rss_mib: Annotated[float | None, typer.Option("--max-rss", metavar="MiB", help="Recommend no configuration whose peak RSS exceeds this many MiB, and stop any trial that passes it (default ceiling: 80 % of the memory available at the start).")] = None
    max_loop_lag_ms: Annotated[float, typer.Option(metavar="MS", help="Event-loop lag p99 limit for loop models, ms.")] = 100.0
    timeout: Timeout = DEFAULTS["timeout"]
    out: Out = None
    json_path: Annotated[Path | None, typer.Option("--json", metavar="PATH|-", help="Also write results.json here (written after every trial); '-' prints it to stdout at the end, and everything else goes to stderr.")] = None
    no_report: NoReport = False
    open: Open = False
    quiet: Quiet = False
    attribution: Annotated[bool, flag("--attribution", help="After the sweep, re-run the recommended configuration (and the fastest event-loop one) under py-spy and yappi and say why it is slow: GIL, event-loop bookkeeping, waiting. About 10 s per configuration, never during timed trials.")] = False
    dsn: DSN = None
    db_max_connections: DbMaxConnections = None
    scheduler: Annotated[str | None, typer.Option(metavar="ADDR", help="dask: use the existing cluster at this scheduler address (tcp://HOST:PORT) instead of a local cluster per trial; N is then informational.")] = None
    chunk: Annotated[str | None, typer.Option(metavar="N|auto", help="dask, celery: records per task (default 1), or 'auto' for tasks of about 100 ms.")] = None
    threads_per_worker: Annotated[int | None, typer.Option(metavar="T", help="dask: threads in each worker process of the local cluster (default 1).")] = None
    broker: Annotated[str | None, typer.Option(metavar="URL", help="celery: the broker, redis://HOST:PORT/DB or amqp://USER:PASS@HOST:PORT// (default redis://127.0.0.1:6379/0 when it answers, else celery is skipped).")] = None

    def options(self, out_dir: Path) -> RunOptions:
        positive("--max-rss", self.max_rss_mib, "MiB")
        positive("--max-connections", self.max_connections, "connections")
        positive("--max-loop-lag-ms", self.max_loop_lag_ms, "milliseconds")
        models = parse_models(self.models)
        return RunOptions(
            models=models,
            model_options=model_options_from_flags(
                models, scheduler=self.scheduler, chunk=self.chunk,
                threads_per_worker=self.threads_per_worker, broker=self.broker),
            concurrency=parse_concurrency(self.concurrency),
            records=self.records, repeat=self.repeat, total=self.total, budget_s=self.budget,
            input_file=str(self.input) if self.input else None, timeout_s=self.timeout,
            constraints=Constraints(
                max_connections=self.max_connections,
                max_rss_bytes=int(self.max_rss_mib * 2**20) if self.max_rss_mib else None,
                max_loop_lag_p99_ms=self.max_loop_lag_ms),
            json_path=str(out_dir / "results.json" if self.json_path is None or is_stdout(self.json_path)
                          else self.json_path),
            command=command_line(["concur", *sys.argv[1:]]),
            attribution=self.attribution, attribution_dir=str(out_dir),
            validate_records=self.validate, dsn=self.dsn, db_max_connections=self.db_max_connections,
        )


@command(app, RunFlags)
def run(flags: RunFlags) -> None:
    """Measure TARGET under each concurrency model and recommend one.

    Exit codes: 0 measured, 2 usage or input error, 3 the workload failed in every trial,
    4 a service the run needs (the embedded database) stopped during it, 130/143/129
    interrupted (Ctrl-C, SIGTERM, SIGHUP).

    The workload's trials see CONCUR_DSN (from --dsn), CONCUR_RECORDS and CONCUR_TOTAL
    (from --records/--total) in their environment, so a scenario can size its data.
    """
    name = flags.target.rsplit(":", 1)[-1] if ":" in flags.target else Path(flags.target).stem
    out_dir = flags.out or default_out_dir(name)
    options = flags.options(out_dir)
    options.validate()  # bad flags fail before any folder is made
    to_stdout = is_stdout(flags.json_path)
    if flags.json_path is not None and not to_stdout:
        check_file(flags.json_path, "--json")
    writes_folder = not flags.no_report or Path(options.json_path).parent == out_dir
    with contextlib.ExitStack() as stack:
        if writes_folder:  # checked and locked before the first trial
            stack.enter_context(claim_folder(out_dir))
        console = stderr_console() if to_stdout else plain_console()  # stdout holds only the JSON
        budget = options.budget_s if options.concurrency is None else None
        with TerminalProgress(stderr_console(), quiet=flags.quiet, budget_s=budget) as progress:
            results = api.profile(flags.target, options, progress)
        # A note the progress printed where the summary goes is not printed twice.
        shown = progress.shown if same_output(sys.stderr, sys.stderr if to_stdout else sys.stdout) else ()
        print_summary(console, results, shown)
        if not flags.no_report:
            # matplotlib loads only when a report is drawn
            from profiler.report.html import render_report

            index = render_report(results, out_dir).resolve()
            console.print(f"report: {index}")
            if flags.open:
                open_report(index, console)
        console.print(f"results: {Path(options.json_path).resolve()}")
    if to_stdout:
        sys.stdout.write(results.to_json() + "\n")
    if results.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if results.stopped_by:
        error_line(f"the run stopped early: {results.stopped_by}", EXIT_SERVICE_LOST)
        raise typer.Exit(EXIT_SERVICE_LOST)
    if all_failed(results):
        counts: dict[str, int] = {}
        for t in results.trials:
            kind = t.status if not t.ok else "raised in every record"
            counts[kind] = counts.get(kind, 0) + 1
        how = ", ".join(f"{n} {kind}" for kind, n in counts.items())
        error_line(f"the workload failed in every trial ({how}; see the warnings above)", EXIT_ALL_FAILED)
        raise typer.Exit(EXIT_ALL_FAILED)


# ---------------------------------------------------------------- report, compare


@app.command(cls=Command)
def report(
    results_file: Annotated[Path, typer.Argument(metavar="RESULTS.json", help="A results.json written by `concur run`.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", metavar="DIR", help="Report folder (default: beside the results file).")] = None,
    open: Open = False,
) -> None:
    """Re-render a saved results.json as a report (HTML, PNG, markdown); no re-run."""
    results = api.load_results(results_file)  # a bad file is refused before matplotlib loads
    from profiler.report.html import render_report  # matplotlib loads only when a report is drawn

    with claim_folder(out or results_file.parent):
        index = render_report(results, out or results_file.parent,
                              source_dir=results_file.parent).resolve()
    console = plain_console()
    console.print(f"report: {index}")
    if open:
        open_report(index, console)


@app.command(cls=Command)
def compare(
    baseline: Annotated[Path, typer.Argument(metavar="A.json", help="results.json of the baseline run.")],
    candidate: Annotated[Path, typer.Argument(metavar="B.json", help="results.json of the candidate run.")],
    out: Out = None,
    json_out: Annotated[Path | None, typer.Option("--json", metavar="PATH|-", help="Write the comparison as JSON here (verdict, each side, every delta with its interval); '-' prints it to stdout, and everything else goes to stderr.")] = None,
    no_report: NoReport = False,
    open: Open = False,
) -> None:
    """Compare two runs: which is faster beyond the noise, and at what cost.

    Prints the verdict and one line per metric, and warns when the runs measured different
    targets, databases or machines. Exit codes: 0 compared (whichever is faster: it is a
    report, not a gate; use `concur gate` to fail on a slowdown), 2 a file is missing or
    not a concur results file."""
    if json_out is not None and not is_stdout(json_out):
        check_file(json_out, "--json")
    a, b = api.load_results(baseline), api.load_results(candidate)
    outcome = api.compare(a, b)
    to_stdout = is_stdout(json_out)
    console = stderr_console() if to_stdout else plain_console()  # stdout holds only the JSON
    for line in outcome.lines():
        console.print(line, markup=False)
    if not no_report:
        from profiler.report.compare import render_compare  # matplotlib loads only when drawn

        with claim_folder(out or default_out_dir("compare")) as out_dir:
            index = render_compare(outcome, a, b, out_dir).resolve()
        console.print(f"report: {index}", markup=False)
        if open:
            open_report(index, console)
    text = json.dumps(outcome.to_dict(), indent=1)
    if to_stdout:
        sys.stdout.write(text + "\n")
    elif json_out is not None:
        write_atomic(json_out, text + "\n")


# ---------------------------------------------------------------- gate


@dataclass
class GateFlags:
    baseline: Annotated[str, typer.Option(help="The current implementation: a target (file.py:attr) to run now, or a results.json.")]
    candidate: Annotated[str, typer.Option(help="The proposed rewrite: a target or a results.json.")]
    baseline_config: Annotated[str | None, typer.Option(help="Pin the baseline's configuration, MODEL:N (e.g. threads:16); default: its best.")] = None
    candidate_config: Annotated[str | None, typer.Option(help="Pin the candidate's configuration, MODEL:N; default: its best.")] = None
    max_slowdown: Annotated[float | None, typer.Option(help="Fail when the candidate is slower than this fraction beyond noise (default 0.05).")] = None
    min_speedup: Annotated[float | None, typer.Option(help="Fail unless the candidate is at least this many times faster (e.g. 1.2).")] = None
    max_connections: Annotated[int | None, typer.Option(help="Fail when the candidate's peak connections (client or DB side) exceed this.")] = None
    max_connections_increase: Annotated[float | None, typer.Option(help="Fail when peak connections grow by more than this fraction (1.0 = doubled).")] = None
    max_cpu_increase: Annotated[float | None, typer.Option(help="Fail when CPU per record grows by more than this fraction beyond noise.")] = None
    max_loop_lag_p99_ms: Annotated[float | None, typer.Option(help="Fail when the candidate's event-loop lag p99 exceeds this many ms.")] = None
    max_rss_increase: Annotated[float | None, typer.Option(help="Fail when peak RSS grows by more than this fraction.")] = None
    config: Annotated[Path | None, typer.Option(help="pyproject.toml with [tool.concur.gate] (default: the nearest one from here).")] = None
    repeat: Annotated[int, typer.Option(help="Interleaved repeats per side when running targets.")] = 5
    budget: Annotated[float, typer.Option(help="Seconds for finding each unpinned side's best configuration and the repeats.")] = DEFAULTS["budget"]
    records: Records = None
    models: Models = None
    timeout: Timeout = DEFAULTS["timeout"]
    markdown: Annotated[Path | None, typer.Option(help="Write a pull-request comment (markdown) here.")] = None
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML here (one testcase per check).")] = None
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the gate outcome as JSON here; '-' prints it to stdout, and everything else goes to stderr.")] = None
    out: Out = None
    no_report: NoReport = False
    quiet: Quiet = False
    total: Annotated[int | None, typer.Option(help="Records in the whole batch: the story line gives each side's time for it.")] = None
    dsn: DSN = None
    db_max_connections: DbMaxConnections = None

    def thresholds(self) -> tuple[Thresholds, str]:
        flags = {k: getattr(self, k) for k in to_data(Thresholds())}
        return load_thresholds(flags, config=self.config)

    def spec(self) -> GateSpec:
        RunOptions(records=self.records, repeat=self.repeat, budget_s=self.budget,
                   timeout_s=self.timeout).validate()  # the same words as `concur run`
        return GateSpec(self.baseline, self.candidate, parse_config(self.baseline_config),
                        parse_config(self.candidate_config), repeats=self.repeat,
                        budget_s=self.budget, records=self.records,
                        models=parse_models(self.models), timeout_s=self.timeout,
                        total=self.total, dsn=self.dsn, db_max_connections=self.db_max_connections)


@command(app, GateFlags)
def gate(flags: GateFlags) -> None:
    """Fail (exit 1) when a rewrite is slower or heavier, beyond the noise.

    Exit codes: 0 pass, 1 a check failed, 2 usage/config/input error, 3 a side could not run.
    """
    thresholds, source = flags.thresholds()
    spec = flags.spec()
    for path, name in ((flags.markdown, "--markdown"), (flags.junit, "--junit"), (flags.json_out, "--json")):
        if path is not None and not is_stdout(path):
            check_file(path, name)
    out_dir = None if flags.no_report else flags.out or default_out_dir("gate")
    with contextlib.ExitStack() as stack:
        if out_dir is not None:
            stack.enter_context(claim_folder(out_dir))
        _gate(flags, thresholds, source, spec, out_dir)


def _gate(flags: GateFlags, thresholds: Thresholds, source: str, spec: GateSpec,
          out_dir: Path | None) -> None:
    with TerminalProgress(stderr_console(), quiet=flags.quiet) as progress:
        outcome = api.run_gate(spec, thresholds, source, progress)
    to_stdout = is_stdout(flags.json_out)
    console = stderr_console() if to_stdout else plain_console()  # stdout holds only the JSON
    if outcome.story is not None:
        console.print(outcome.story.headline, style="bold", highlight=False, markup=False)
    console.print(outcome.verdict(), style="bold green" if outcome.passed else "bold red")
    console.print(gate_table(outcome))
    for path, text in ((flags.markdown, gate_markdown), (flags.junit, gate_junit),
                       (None if to_stdout else flags.json_out, gate_json)):
        if path is not None:
            write_atomic(path, text(outcome))
    if out_dir is not None:
        # matplotlib loads only when a report is drawn
        from profiler.report.compare import render_compare

        assert outcome.compared is not None and outcome.runs is not None
        index = render_compare(outcome.compared, *outcome.runs, out_dir, headline=outcome.verdict(),
                               title="concur gate")
        console.print(f"report: {index.resolve()}", markup=False)
    if to_stdout:
        sys.stdout.write(gate_json(outcome).rstrip("\n") + "\n")
    if not outcome.passed:
        raise typer.Exit(EXIT_GATE_FAILED)


# ---------------------------------------------------------------- attribute, scenarios


@app.command(cls=Command)
def attribute(
    target: Target,
    model: Annotated[str, typer.Option(metavar="M", help="The model to attribute, e.g. threads.")],
    concurrency: Annotated[int, typer.Option(metavar="N", help="Its concurrency N (0 = unbounded asyncio).")],
    records: Annotated[int, typer.Option(metavar="N", help="Records for the unsampled reference trial.")] = 500,
    seconds: Annotated[float, typer.Option(metavar="SECONDS", help="Aim each sampled pass at about this many seconds.")] = 2.0,
    out: Annotated[Path | None, typer.Option("--out", "-o", metavar="DIR", help="Folder for the flame graph, speedscope JSON and attribution.json (default reports/attribution-<timestamp>/).")] = None,
    timeout: Annotated[float, typer.Option(metavar="SECONDS", help="Seconds before a pass is killed.")] = 60.0,
) -> None:
    """Why one configuration is slow: py-spy and yappi on TARGET at MODEL×N.

    Not a timed trial: the samplers slow it down."""
    require("attribution", "concur attribute")
    reason = get_model(model).concurrency_error(concurrency)
    if reason:
        raise ConcurError(reason)
    RunOptions(records=records, timeout_s=timeout).validate()
    positive("--seconds", seconds, "seconds")
    prepare(target, RunOptions()).close()  # bad targets fail here, as one line
    out_dir = out or default_out_dir("attribution")
    with claim_folder(out_dir):
        entry = run_attribution(target, model, concurrency, records, out_dir, seconds_hint=seconds,
                                timeout_s=timeout)
        write_atomic(out_dir / "attribution.json", json.dumps(to_data(entry), indent=1))
    console = plain_console()
    console.print(f"{fmt.config(model, concurrency)}: why it is slow", style="bold")
    for line in explain(entry):
        console.print(f"  {line}", markup=False)
    for label, value in (("GIL held", entry.gil_share), ("event-loop internals", entry.loop_internal_share),
                         ("your code", entry.user_share), ("idle", entry.idle_share)):
        console.print(f"  {label}: {fmt.pct(value, 0)}", markup=False)
    for row in entry.top_cpu[:5]:
        console.print(f"  {fmt.pct(row.share, 0)}  {row.function}  ({row.file})", markup=False)
    for warning in entry.warnings:
        console.print(f"warning: {warning}", style="yellow", markup=False)
    console.print(f"files: {out_dir}")


@app.command(cls=Command)
def scenarios() -> None:
    """List the bundled examples and the command that runs each."""
    from profiler.scenarios import CATALOG  # installed from the repository's scenarios/

    console = plain_console()
    for sc in CATALOG:
        console.print(Text.assemble((sc.name, "bold"), f"  {sc.target}"), highlight=False)
        console.print(f"    {sc.description}", highlight=False, markup=False)
        console.print(f"    $ {sc.command}", style="cyan", highlight=False, markup=False)


def main(argv: list[str] | None = None) -> int:
    """Entry point: `concur` (see `profiler.cli_exit` for how it always ends)."""
    return run_app(app, argv)
