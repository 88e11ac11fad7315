"""The `concur` command. Thin: each command parses its flags (declared once, as a dataclass:
`profiler.cli_flags`), calls one library function, prints, and returns a named exit
code. Every `ConcurError` becomes one line on stderr, exit 2.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from profiler import format as fmt
from profiler.api import profile
from profiler.attribution import attribute as run_attribution
from profiler.attribution import explain
from profiler.cli_flags import (
    DEFAULTS,
    Budget,
    Models,
    NoReport,
    Out,
    Quiet,
    Records,
    Target,
    Timeout,
    command,
)
from profiler.errors import ConcurError
from profiler.files import write_atomic
from profiler.gate.config import load_thresholds
from profiler.gate.decision import Thresholds, evaluate, parse_config, side_from_results
from profiler.gate.measure import GateSpec, measure_sides
from profiler.gate.outputs import gate_json, gate_junit, gate_markdown, gate_table
from profiler.models import get_model
from profiler.models.dask.options import model_options_from_flags
from profiler.report.console import TerminalProgress, plain_console, print_summary, stderr_console
from profiler.results import Constraints, Results, load_results
from profiler.results.schema import to_data
from profiler.run.options import DEFAULT_RECORDS, RunOptions
from profiler.run.plan import parse_concurrency, parse_models
from profiler.run.prepare import prepare

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_USAGE = 2
EXIT_ALL_FAILED = 3
EXIT_INTERRUPTED = 130

app = typer.Typer(
    name="concur",
    help="Measure which concurrency model makes a per-record batch function fastest, and why.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def default_out_dir(workload_name: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", workload_name).strip("-") or "workload"
    return Path("reports") / f"{safe}-{stamp}"


def export_workload_env(dsn: str | None, records: int | None, total: int | None) -> None:
    """Hand run settings to the workload through its environment (children inherit it)."""
    for key, value in (("CONCUR_DSN", dsn), ("CONCUR_RECORDS", records), ("CONCUR_TOTAL", total)):
        if value is not None:
            os.environ[key] = str(value)


def all_failed(results: Results) -> bool:
    """True when not one record succeeded in any trial: the workload itself is broken."""
    return bool(results.trials) and not any(t.ok and t.records > t.errors for t in results.trials)


# ---------------------------------------------------------------- run


@dataclass
class RunFlags:
    target: Target
    models: Models = None
    concurrency: Annotated[str | None, typer.Option(help="Comma-separated N to try for each model, e.g. 1,4,16 (0 = unbounded asyncio); 'auto' or omitted = adaptive sweep.")] = None
    records: Annotated[int | None, typer.Option(help=f"Records per trial (default: sized to ~1 s by the sweep, {DEFAULT_RECORDS} for an explicit grid).")] = None
    total: Annotated[int | None, typer.Option(help="Records in the full batch: predict its wall time per configuration.")] = None
    repeat: Annotated[int, typer.Option(help="Run each configuration this many times (noise estimate).")] = 1
    budget: Budget = DEFAULTS["budget"]
    validate: Annotated[int | None, typer.Option("--validate", help="After the sweep (outside --budget), run the recommended configuration once on this many records and correct the full-batch prediction by what it measured.")] = None
    input: Annotated[Path | None, typer.Option("--input", help="CSV, JSONL or Parquet file whose rows (as dicts) are the records.")] = None
    max_connections: Annotated[int | None, typer.Option(help="Recommend no configuration that opens more TCP connections than this.")] = None
    max_rss_mib: Annotated[float | None, typer.Option("--max-rss", help="Recommend no configuration whose peak RSS exceeds this many MiB.")] = None
    max_loop_lag_ms: Annotated[float, typer.Option(help="Event-loop lag p99 limit for loop models, ms.")] = 100.0
    timeout: Timeout = DEFAULTS["timeout"]
    out: Out = None
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write results.json here (written after every trial).")] = None
    no_report: NoReport = False
    quiet: Quiet = False
    attribution: Annotated[bool, typer.Option("--attribution", help="After the sweep, re-run the recommended configuration (and the fastest event-loop one) under py-spy and yappi and say why it is slow: GIL, event-loop bookkeeping, waiting. About 10 s per configuration, never during timed trials.")] = False
    dsn: Annotated[str | None, typer.Option(help="Database URL for workloads that read CONCUR_DSN (the bundled db_batch scenario: PostgreSQL instead of SQLite).")] = None
    scheduler: Annotated[str | None, typer.Option(help="dask: use the existing cluster at this scheduler address (tcp://HOST:PORT) instead of a local cluster per trial; N is then informational.")] = None
    chunk: Annotated[str | None, typer.Option(help="dask: records per task (default 1), or 'auto' for tasks of about 100 ms.")] = None
    threads_per_worker: Annotated[int | None, typer.Option(help="dask: threads in each worker process of the local cluster (default 1).")] = None

    def options(self, out_dir: Path) -> RunOptions:
        models = parse_models(self.models)
        return RunOptions(
            models=models,
            model_options=model_options_from_flags(models, self.scheduler, self.chunk,
                                                   self.threads_per_worker),
            concurrency=parse_concurrency(self.concurrency),
            records=self.records, repeat=self.repeat, total=self.total, budget_s=self.budget,
            input_file=str(self.input) if self.input else None, timeout_s=self.timeout,
            constraints=Constraints(
                max_connections=self.max_connections,
                max_rss_bytes=int(self.max_rss_mib * 2**20) if self.max_rss_mib else None,
                max_loop_lag_p99_ms=self.max_loop_lag_ms),
            json_path=str(self.json_path or out_dir / "results.json"),
            command=shlex.join(["concur", *sys.argv[1:]]),
            attribution=self.attribution, attribution_dir=str(out_dir),
            validate_records=self.validate,
        )


@command(app, RunFlags)
def run(flags: RunFlags) -> None:
    """Run TARGET under several concurrency models, measure each, recommend one.

    The workload's trials see CONCUR_DSN (from --dsn), CONCUR_RECORDS and CONCUR_TOTAL
    (from --records/--total) in their environment, so a scenario can size its data.
    """
    name = flags.target.rsplit(":", 1)[-1] if ":" in flags.target else Path(flags.target).stem
    out_dir = flags.out or default_out_dir(name)
    options = flags.options(out_dir)
    export_workload_env(dsn=flags.dsn, records=flags.records, total=flags.total)
    console = plain_console()
    results = profile(flags.target, options, TerminalProgress(stderr_console(), quiet=flags.quiet))
    if flags.json_path:
        results.save(out_dir / "results.json")
    print_summary(console, results)
    if not flags.no_report:
        # matplotlib loads only when a report is drawn
        from profiler.report.html import render_report

        console.print(f"report: {render_report(results, out_dir)}")
    console.print(f"results: {options.json_path}")
    if results.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if all_failed(results):
        print("error: the workload failed in every trial (see the errors above)", file=sys.stderr)
        raise typer.Exit(EXIT_ALL_FAILED)


# ---------------------------------------------------------------- report, compare


@app.command()
def report(
    results_file: Annotated[Path, typer.Argument(help="A results.json written by `concur run`.")],
    out: Annotated[Path | None, typer.Option(help="Report folder (default: beside the results file).")] = None,
) -> None:
    """Re-render the HTML/PNG/markdown report from a saved results.json, without re-running."""
    from profiler.report.html import render_report  # matplotlib loads only when a report is drawn

    results = load_results(results_file)
    index = render_report(results, out or results_file.parent, source_dir=results_file.parent)
    plain_console().print(f"report: {index}")


@app.command()
def compare(
    baseline: Annotated[Path, typer.Argument(help="results.json of the baseline run.")],
    candidate: Annotated[Path, typer.Argument(help="results.json of the candidate run.")],
    out: Out = None,
) -> None:
    """Side-by-side report of two runs (e.g. thread-pool baseline vs async candidate)."""
    from profiler.report.compare import render_compare  # matplotlib loads only when drawn

    a, b = load_results(baseline), load_results(candidate)
    outcome = render_compare(a, b, out or default_out_dir("compare"))
    console = plain_console()
    for line in outcome.lines():
        console.print(line, markup=False)
    console.print(f"report: {outcome.index_path}")


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
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the gate outcome as JSON here.")] = None
    out: Out = None
    no_report: NoReport = False
    quiet: Quiet = False

    def thresholds(self) -> tuple[Thresholds, str]:
        flags = {k: getattr(self, k) for k in to_data(Thresholds())}
        return load_thresholds(flags, config=self.config)

    def spec(self) -> GateSpec:
        if self.repeat < 1:
            raise ConcurError(f"--repeat must be ≥ 1, not {self.repeat}")
        return GateSpec(self.baseline, self.candidate, parse_config(self.baseline_config),
                        parse_config(self.candidate_config), repeats=self.repeat,
                        budget_s=self.budget, records=self.records,
                        models=parse_models(self.models), timeout_s=self.timeout)


@command(app, GateFlags)
def gate(flags: GateFlags) -> None:
    """Fail (exit 1) when the candidate is slower or heavier than the baseline, beyond noise.

    Exit codes: 0 pass, 1 a check failed, 2 usage/config/input error, 3 a side could not run.
    """
    thresholds, source = flags.thresholds()
    spec = flags.spec()
    a, b = measure_sides(spec, TerminalProgress(stderr_console(), quiet=flags.quiet))
    outcome = evaluate(side_from_results("baseline", a, spec.baseline_config),
                       side_from_results("candidate", b, spec.candidate_config), thresholds, source)
    console = plain_console()
    console.print(outcome.verdict(), style="bold green" if outcome.passed else "bold red")
    console.print(gate_table(outcome))
    for path, text in ((flags.markdown, gate_markdown), (flags.junit, gate_junit),
                       (flags.json_out, gate_json)):
        if path is not None:
            write_atomic(path, text(outcome))
    if not flags.no_report:
        # matplotlib loads only when a report is drawn
        from profiler.report.compare import render_compare

        compared = render_compare(a, b, flags.out or default_out_dir("gate"), headline=outcome.verdict())
        console.print(f"report: {compared.index_path}")
    if not outcome.passed:
        raise typer.Exit(EXIT_GATE_FAILED)


# ---------------------------------------------------------------- attribute, scenarios


@app.command()
def attribute(
    target: Target,
    model: Annotated[str, typer.Option(help="The model to attribute, e.g. threads.")],
    concurrency: Annotated[int, typer.Option(help="Its concurrency N (0 = unbounded asyncio).")],
    records: Annotated[int, typer.Option(help="Records for the unsampled reference trial.")] = 500,
    seconds: Annotated[float, typer.Option(help="Aim each sampled pass at about this many seconds.")] = 2.0,
    out: Annotated[Path | None, typer.Option(help="Folder for the flame graph, speedscope JSON and attribution.json (default reports/attribution-<timestamp>/).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds before a pass is killed.")] = 60.0,
) -> None:
    """Why one configuration is slow: py-spy and yappi on TARGET at MODEL × N (not timed)."""
    reason = get_model(model).concurrency_error(concurrency)
    if reason:
        raise ConcurError(reason)
    prepare(target, RunOptions()).close()  # bad targets fail here, as one line
    out_dir = out or default_out_dir("attribution")
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


@app.command()
def scenarios() -> None:
    """List the bundled example workloads, one line each, with the command to run each."""
    from scenarios import CATALOG  # the examples live beside the package, not inside it

    console = plain_console()
    for sc in CATALOG:
        console.print(f"[bold]{sc.name}[/bold]  {sc.target}", highlight=False)
        console.print(f"    {sc.description}", highlight=False, markup=False)
        console.print(f"    $ {sc.command}", style="cyan", highlight=False, markup=False)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run typer, turn every ConcurError into one line and its exit code."""
    try:
        code = app(args=argv, prog_name="concur", standalone_mode=False)
    except ConcurError as exc:
        # One line, never wrapped or styled (drivers put SQL context on further lines).
        print("error: " + " ".join(part.strip() for part in str(exc).splitlines() if part.strip()),
              file=sys.stderr)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        stderr_console().print("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        # Usage errors from typer's click (vendored in recent typer, a dependency in older):
        # matched by shape, so either layout prints its one-line usage message.
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            return EXIT_USAGE
        if type(exc).__name__ == "Abort":
            return EXIT_INTERRUPTED
        raise
    return code if isinstance(code, int) else EXIT_OK

