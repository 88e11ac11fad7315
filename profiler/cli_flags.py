"""Command-line options declared once, as dataclass fields, and turned into typer commands.

A command with twenty options wants an options object, not twenty parameters
(coverage.py's `cmdline.py` declares each option once in `Opts`). Here each command's
flags are a dataclass whose fields carry their typer declaration (`Annotated[...]`);
`command(app, Flags)` registers a function that takes one `Flags` instance. Options
shared by several commands are declared once below and reused.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_type_hints

import typer

from profiler.models import MODELS
from profiler.run.options import DEFAULT_BUDGET_S, DEFAULT_TIMEOUT_S

F = TypeVar("F")

STDOUT = "-"  # `--json -`: the JSON goes to stdout (hyperfine's and pyinstrument's convention)


def is_stdout(path: Path | str | None) -> bool:
    """True for `-`, the conventional name of stdout."""
    return path is not None and str(path) == STDOUT


def flag(*names: str, help: str) -> Any:
    """A boolean flag: `metavar=""` keeps typer from showing it as taking a `<bool>` value."""
    return typer.Option(*names, help=help, metavar="")


def _models_help() -> str:
    """Every registered model, named in the help (a model added to the registry appears here)."""
    opt_in = [name for name, model in MODELS.items() if model.opt_in]
    names = ", ".join(MODELS)
    only = f"; {', '.join(opt_in)} only when named" if opt_in else ""
    return f"Comma-separated models: {names} (default: every one that can run the handle{only})."


# --- options shared by several commands -------------------------------------------------
Target = Annotated[str, typer.Argument(
    metavar="TARGET", help="file.py[:attr] or package.module[:attr]: a per-record function or a Workload.")]
Models = Annotated[str | None, typer.Option(help=_models_help())]
Timeout = Annotated[float, typer.Option(help="Seconds before a trial is killed and recorded as a timeout (the adaptive sweep gives a trial less when the budget requires; the progress line shows each trial's own limit).")]
Budget = Annotated[float, typer.Option(help="Seconds the adaptive sweep may take in all.")]
Out = Annotated[Path | None, typer.Option(help="Report folder (default reports/<name>-<timestamp>/).")]
NoReport = Annotated[bool, flag("--no-report", help="Skip the HTML/PNG report.")]
Quiet = Annotated[bool, flag("--quiet", "-q", help="No progress lines.")]
Open = Annotated[bool, flag("--open", help="Open the HTML report in the default web browser once it is written.")]
Records = Annotated[int | None, typer.Option(help="Records per trial (default: sized to ~1 s of work).")]
DSN = Annotated[str | None, typer.Option(
    help="Database URL for workloads that read CONCUR_DSN (the bundled db_batch scenarios); "
         "without it they start an embedded PostgreSQL for the run.")]
DbMaxConnections = Annotated[int | None, typer.Option(
    help="max_connections of the embedded PostgreSQL the db_batch scenarios start without "
         "--dsn (default 100, like a small managed instance).")]

DEFAULTS = {"timeout": DEFAULT_TIMEOUT_S, "budget": DEFAULT_BUDGET_S}


def command(app: typer.Typer, flags: type[F], name: str | None = None
            ) -> Callable[[Callable[[F], None]], Callable[[F], None]]:
    """Register `fn(flags: Flags)` as the typer command whose options are Flags' fields."""
    hints = get_type_hints(flags, include_extras=True)

    def register(fn: Callable[[F], None]) -> Callable[[F], None]:
        params = [
            inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=hints[f.name],
                              default=inspect.Parameter.empty if f.default is dataclasses.MISSING
                              else f.default)
            for f in dataclasses.fields(flags)  # type: ignore[arg-type]
        ]

        def parsed(**values: Any) -> None:
            fn(flags(**values))

        parsed.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        parsed.__annotations__ = {p.name: p.annotation for p in params}
        parsed.__doc__ = fn.__doc__
        parsed.__name__ = name or fn.__name__
        app.command(name=name)(parsed)
        return fn

    return register
