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
from typer.core import TyperArgument, TyperCommand, TyperOption

from profiler.models import MODELS
from profiler.run.options import DEFAULT_BUDGET_S, DEFAULT_TIMEOUT_S

F = TypeVar("F")

STDOUT = "-"  # `--json -`: the JSON goes to stdout (hyperfine's and pyinstrument's convention)


def is_stdout(path: Path | str | None) -> bool:
    """True for `-`, the conventional name of stdout."""
    return path is not None and str(path) == STDOUT


# What a value is called in the help when its option does not name it: the README's words.
TYPE_METAVARS = {"int": "N", "float": "NUMBER", "str": "TEXT", "Path": "PATH"}


class Command(TyperCommand):
    """A command whose help reads like the README's synopsis: `concur run [OPTIONS] TARGET`,
    `--records N`, `--out DIR` (typer would print `{TARGET}`, `TARGET <str>`, `<int>`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, TyperOption) and not param.is_flag and param.metavar is None:
                kind = param.bare_type()
                param.metavar = TYPE_METAVARS.get(kind, kind.upper())

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [piece[1:-1] if piece.startswith("{") and piece.endswith("}") else piece
                for piece in super().collect_usage_pieces(ctx)]

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if isinstance(param, TyperArgument):
                arguments.append((param.metavar or param.name.upper(), record[1]))
            else:
                options.append(record)
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


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
    metavar="TARGET", help="path/to/file.py[:NAME] or package.module[:NAME] (imported as "
    "`python -m` would, from the current folder): a per-record function `handle(record)`, sync "
    "or `async def`, or a profiler.Workload. Its records are range(n) integers unless a Workload "
    "or --input gives them; its return value is discarded (raising counts as that record's "
    "error).")]
Models = Annotated[str | None, typer.Option(metavar="M1,M2", help=_models_help())]
Timeout = Annotated[float, typer.Option(metavar="SECONDS", help="Seconds before a trial is killed and recorded as a timeout (the adaptive sweep gives a trial less when the budget requires; the progress line shows each trial's own limit).")]
Budget = Annotated[float, typer.Option(metavar="SECONDS", help="Seconds the adaptive sweep may take in all.")]
Out = Annotated[Path | None, typer.Option("--out", "-o", metavar="DIR", help="Report folder (default reports/<name>-<timestamp>/).")]
NoReport = Annotated[bool, flag("--no-report", help="Skip the HTML/PNG report.")]
Quiet = Annotated[bool, flag("--quiet", "-q", help="No progress lines.")]
Open = Annotated[bool, flag("--open", help="Open the HTML report in the default web browser once it is written.")]
Records = Annotated[int | None, typer.Option(metavar="N", help="Records per trial (default: sized to ~1 s of work).")]
DSN = Annotated[str | None, typer.Option(
    metavar="URL", help="Database URL for workloads that read CONCUR_DSN (the bundled db_batch scenarios); "
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
        app.command(name=name, cls=Command)(parsed)
        return fn

    return register
