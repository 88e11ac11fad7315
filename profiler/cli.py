"""The `concur` command. Thin: each command parses, calls one library function, prints,
and returns a named exit code. Every `ConcurError` becomes one line on stderr, exit 2.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from profiler.api import DEFAULT_RECORDS, DEFAULT_TIMEOUT_S, RunOptions, profile
from profiler.console import TerminalProgress, print_summary, stderr_console
from profiler.errors import ConcurError
from profiler.plan import parse_concurrency, parse_models
from profiler.results import Results

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


def plain_console() -> Console:
    """stdout; in CI logs (not a TTY) wide enough that tables and verdicts do not wrap."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def all_failed(results: Results) -> bool:
    """True when not one record succeeded in any trial: the workload itself is broken."""
    return bool(results.trials) and not any(
        t.status == "ok" and t.records > t.errors for t in results.trials
    )


@app.command()
def run(
    target: Annotated[str, typer.Argument(metavar="TARGET", help="file.py[:attr] or package.module[:attr]: a per-record function or a Workload.")],
    models: Annotated[str | None, typer.Option(help="Comma-separated models: sequential,threads,processes,asyncio-threads,asyncio,uvloop (default: every one that can run the handle).")] = None,
    concurrency: Annotated[str | None, typer.Option(help="Comma-separated N to try for each model, e.g. 1,4,16 (0 = unbounded asyncio); 'auto' or omitted = adaptive sweep.")] = None,
    records: Annotated[int | None, typer.Option(help=f"Records per trial (default: sized to ~1 s by the sweep, {DEFAULT_RECORDS} for an explicit grid).")] = None,
    total: Annotated[int | None, typer.Option(help="Records in the full batch: predict its wall time per configuration.")] = None,
    repeat: Annotated[int, typer.Option(help="Run each configuration this many times (noise estimate).")] = 1,
    budget: Annotated[float, typer.Option(help="Seconds the adaptive sweep may take in all.")] = 60.0,
    input: Annotated[Path | None, typer.Option("--input", help="CSV, JSONL or Parquet file whose rows (as dicts) are the records.")] = None,
    max_connections: Annotated[int | None, typer.Option(help="Recommend no configuration that opens more TCP connections than this.")] = None,
    max_rss_mib: Annotated[float | None, typer.Option("--max-rss", help="Recommend no configuration whose peak RSS exceeds this many MiB.")] = None,
    max_loop_lag_ms: Annotated[float, typer.Option(help="Event-loop lag p99 limit for loop models, ms.")] = 100.0,
    timeout: Annotated[float, typer.Option(help="Seconds before a trial is killed and recorded as a timeout.")] = DEFAULT_TIMEOUT_S,
    out: Annotated[Path | None, typer.Option(help="Report folder (default reports/<workload>-<timestamp>/).")] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write results.json here (written after every trial).")] = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="Write results.json only, no HTML/PNG report.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines; only the verdict and the table.")] = False,
    dsn: Annotated[str | None, typer.Option(help="Database URL for workloads that read CONCUR_DSN (the bundled db_batch scenario: PostgreSQL instead of SQLite).")] = None,
) -> None:
    """Run TARGET under several concurrency models, measure each, recommend one.

    The workload's trials see CONCUR_DSN (from --dsn), CONCUR_RECORDS and CONCUR_TOTAL
    (from --records/--total) in their environment, so a scenario can size its data.
    """
    from profiler.analysis import Constraints, verdict_lines

    options = RunOptions(
        models=parse_models(models),
        concurrency=parse_concurrency(concurrency),
        records=records,
        repeat=repeat,
        total=total,
        budget_s=budget,
        input_file=str(input) if input else None,
        timeout_s=timeout,
        command=shlex.join(["concur", *sys.argv[1:]]),
    )
    constraints = Constraints(
        max_connections=max_connections,
        max_rss_bytes=int(max_rss_mib * 2**20) if max_rss_mib else None,
        max_loop_lag_p99_ms=max_loop_lag_ms,
    )
    export_workload_env(dsn=dsn, records=records, total=total)
    console = plain_console()
    progress = TerminalProgress(stderr_console(), quiet=quiet)
    name = target.rsplit(":", 1)[-1] if ":" in target else Path(target).stem
    out_dir = out or default_out_dir(name)
    options = RunOptions(**{**options.__dict__, "json_path": str(json_path or out_dir / "results.json")})
    results = profile(target, options, progress, constraints=constraints)
    if json_path:
        results.save(out_dir / "results.json")
    print_summary(console, results, verdict_lines(results))
    if not no_report:
        from profiler.report import render_report

        index = render_report(results, out_dir)
        console.print(f"report: {index}")
    console.print(f"results: {options.json_path}")
    if results.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if all_failed(results):
        print("error: the workload failed in every trial (see the errors above)", file=sys.stderr)
        raise typer.Exit(EXIT_ALL_FAILED)


@app.command()
def report(
    results_file: Annotated[Path, typer.Argument(help="A results.json written by `concur run`.")],
    out: Annotated[Path | None, typer.Option(help="Report folder (default: beside the results file).")] = None,
) -> None:
    """Re-render the HTML/PNG/markdown report from a saved results.json, without re-running."""
    from profiler.report import render_report
    from profiler.results import load_results

    results = load_results(results_file)
    index = render_report(results, out or results_file.parent)
    plain_console().print(f"report: {index}")


@app.command()
def compare(
    baseline: Annotated[Path, typer.Argument(help="results.json of the baseline run.")],
    candidate: Annotated[Path, typer.Argument(help="results.json of the candidate run.")],
    out: Annotated[Path | None, typer.Option(help="Report folder (default reports/compare-<timestamp>/).")] = None,
) -> None:
    """Side-by-side report of two runs (e.g. thread-pool baseline vs async candidate)."""
    from profiler.report import render_compare
    from profiler.results import load_results

    a, b = load_results(baseline), load_results(candidate)
    outcome = render_compare(a, b, out or default_out_dir("compare"))
    console = plain_console()
    for line in getattr(outcome, "lines", []) or []:
        console.print(line)
    console.print(f"report: {outcome.index_path}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run typer, turn every ConcurError into one line and its exit code."""
    try:
        code = app(args=argv, prog_name="concur", standalone_mode=False)
    except ConcurError as exc:
        print(f"error: {exc}", file=sys.stderr)  # one line, never wrapped or styled
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
