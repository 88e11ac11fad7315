"""What the user gives us: a per-record function (or a `Workload`), and its records.

A target is `path/to/file.py[:attr]` or `package.module[:attr]`. Loading is done by
string in every child process (trials and process-pool workers), so nothing about the
user's function ever has to be pickled; only records cross process boundaries.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import re
import sys
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profiler.errors import ConcurError, InputError, WorkloadError
from profiler.extras import require

DEFAULT_ATTRS = ("workload", "main")
_CONFIG = re.compile(r"^[a-z][a-z0-9_-]*:\d+$")
# `scenarios.db_batch:story` names a bundled example wherever concur is installed: the
# examples are installed as `profiler.scenarios` (no top-level package of that generic
# name), and the repository's `scenarios/` folder is the same files.
BUNDLED = "scenarios"


@dataclass(frozen=True)
class WorkerInfo:
    """Passed to `setup(info)` when setup takes one argument: who this worker is."""

    model: str
    concurrency: int
    worker_index: int


@dataclass(frozen=True)
class ServiceEnv:
    """What a run-scoped service hands the run: environment variables for every trial (and
    for the parent's probe), and one line saying what it is (shown and kept in the results;
    never a credential)."""

    env: Mapping[str, str] = field(default_factory=dict)
    description: str = ""


def as_service_env(value: Any) -> ServiceEnv:
    """A service may yield a ServiceEnv, a mapping of environment variables, or nothing."""
    if isinstance(value, ServiceEnv):
        return value
    if value is None:
        return ServiceEnv()
    if isinstance(value, Mapping):
        return ServiceEnv({str(k): str(v) for k, v in value.items()})
    raise WorkloadError(f"a workload's service yielded a {type(value).__name__}; it must yield "
                        "a mapping of environment variables (or a profiler.workload.ServiceEnv)")


@dataclass
class Workload:
    """A batch job as concur sees it.

    `handle(record[, ctx])` does one record (sync or `async def`); `setup([info])` runs once
    per worker (thread, process or event loop), may be `async def` for loop models, and
    returns the ctx passed to handle; `teardown(ctx)` releases it. `records` is an
    iterable or `records(n) -> iterable`; default `range(n)`. `async_handle`, when given
    beside a sync `handle`, is used by the loop models.
    """

    name: str
    handle: Callable[..., Any] | None = None
    records: Iterable[Any] | Callable[[int], Iterable[Any]] | None = None
    setup: Callable[..., Any] | None = None
    teardown: Callable[..., Any] | None = None
    async_handle: Callable[..., Any] | None = None
    # probe() -> an object with start() and stop() -> dict, run by the parent around each
    # trial's timed window (e.g. a pg_stat_activity sampler on its own connection). Its
    # dict may hold "db_connections_peak" and any other figures (kept in probe_metrics).
    probe: Callable[[], Any] | None = None
    # service() -> a context manager the parent enters ONCE per run, after the target is
    # checked and before the first trial, and exits on every way out (normal, error,
    # Ctrl-C). What it yields (a mapping of environment variables, or a ServiceEnv) is
    # exported to every trial and to the probe: e.g. a database server started for this run
    # and its CONCUR_DSN. Two runs never share it.
    service: Callable[[], AbstractContextManager[Any]] | None = None
    # How the job runs in production, MODEL:N ("asyncio:0": every record gathered at once).
    # The gate measures a side at this configuration unless one is pinned.
    deployed: str | None = None

    def __post_init__(self) -> None:
        if self.handle is None and self.async_handle is None:
            raise WorkloadError(f"workload {self.name!r} has neither handle nor async_handle")
        if self.deployed is not None and not _CONFIG.match(self.deployed):
            raise WorkloadError(f"workload {self.name!r}: deployed={self.deployed!r} is not "
                                "MODEL:N (e.g. threads:16, asyncio:0)")
        for label in ("handle", "async_handle", "setup", "teardown", "probe", "service"):
            value = getattr(self, label)
            if value is not None and not callable(value):
                raise WorkloadError(
                    f"workload {self.name!r}: {label} is a {type(value).__name__}, not callable"
                )

    @property
    def sync_handle(self) -> Callable[..., Any] | None:
        if self.handle is not None and not is_async(self.handle):
            return self.handle
        return None

    @property
    def coroutine_handle(self) -> Callable[..., Any] | None:
        if self.async_handle is not None:
            return self.async_handle
        if self.handle is not None and is_async(self.handle):
            return self.handle
        return None

    @property
    def handle_kind(self) -> str:
        sync, coro = self.sync_handle is not None, self.coroutine_handle is not None
        return "both" if sync and coro else ("async" if coro else "sync")

    def make_records(self, n: int) -> list[Any]:
        """The first `n` records (fewer if the source is shorter)."""
        source = self.records
        if source is None:
            return list(range(n))
        if callable(source):
            source = source(n)
        out = []
        for i, rec in enumerate(source):
            if i >= n:
                break
            out.append(rec)
        return out


def is_async(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - callable objects with async __call__
    )


def accepts_positional(fn: Callable[..., Any], count: int) -> bool:
    """True when `fn` can be called with `count` positional arguments."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return count == 1
    try:
        sig.bind(*([None] * count))
        return True
    except TypeError:
        return False


def split_target(target: str) -> tuple[str, str | None]:
    """`file.py:attr` -> ("file.py", "attr"); a Windows-free world, so the last ':' splits."""
    if ":" in target:
        base, attr = target.rsplit(":", 1)
        return base, (attr or None)
    return target, None


def load_target(target: str) -> Workload:
    """Resolve a target string to a Workload, or raise a one-line `WorkloadError`."""
    base, attr = split_target(target)
    module = _import_target(base)
    if attr is None:
        for candidate in DEFAULT_ATTRS:
            if hasattr(module, candidate):
                attr = candidate
                break
        else:
            raise WorkloadError(
                f"{base} defines no `workload` or `main`; name one with {base}:NAME "
                f"(callables it defines: {_describe_callables(module)})"
            )
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise WorkloadError(
                f"{base} has no attribute {attr!r} (callables it defines: "
                f"{_describe_callables(module)})"
            )
        obj = getattr(obj, part)
    return as_workload(obj, name=attr if attr not in DEFAULT_ATTRS else _stem(base))


def as_workload(obj: Any, name: str) -> Workload:
    if isinstance(obj, Workload):
        return obj
    if callable(obj) and not isinstance(obj, type):
        return Workload(name=name, handle=obj)
    raise WorkloadError(f"{name!r} is a {type(obj).__name__}, not a function or a Workload")


def _stem(base: str) -> str:
    return Path(base).stem if base.endswith(".py") else base.rsplit(".", 1)[-1]


def _describe_callables(module: Any) -> str:
    names = sorted(
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and (isinstance(v, Workload) or (callable(v) and getattr(v, "__module__", None) == module.__name__))
    )
    return ", ".join(names) if names else "none"


def _import_target(base: str) -> Any:
    if base.endswith(".py") or os.sep in base:
        path = Path(base).resolve()
        if not path.is_file():
            raise WorkloadError(f"target file not found: {base}")
        return _import_file(path)
    try:
        return importlib.import_module(base)
    except ModuleNotFoundError as exc:
        if exc.name and base.startswith(exc.name):
            if base.split(".", 1)[0] == BUNDLED and importlib.util.find_spec(f"profiler.{BUNDLED}"):
                return _import_target(f"profiler.{base}")
            raise WorkloadError(f"no module named {base!r} (and no file {base}.py)") from None
        raise WorkloadError(f"importing {base} failed: {exc}") from None
    except ConcurError:  # the target said itself what is wrong (e.g. a missing extra)
        raise
    except SyntaxError as exc:
        raise WorkloadError(f"syntax error in {exc.filename}, line {exc.lineno}: {exc.msg}") from None
    except Exception as exc:  # the user's module raised at import time
        raise WorkloadError(f"importing {base} raised {type(exc).__name__}: {exc}") from None
    except SystemExit as exc:
        raise WorkloadError(_exited_at_import(base, exc)) from None


def _import_file(path: Path) -> Any:
    # A stable module name per file lets child processes and pickle find the same module.
    mod_name = "_concur_target_" + "".join(c if c.isalnum() else "_" for c in str(path))
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise WorkloadError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    # Let the target import its siblings, as `python file.py` would.
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except ConcurError:
        del sys.modules[mod_name]
        raise
    except SyntaxError as exc:
        del sys.modules[mod_name]
        raise WorkloadError(f"syntax error in {path.name}, line {exc.lineno}: {exc.msg}") from None
    except Exception as exc:
        del sys.modules[mod_name]
        raise WorkloadError(f"importing {path.name} raised {type(exc).__name__}: {exc}") from None
    except SystemExit as exc:  # a script that runs itself on import: its exit is not ours
        del sys.modules[mod_name]
        raise WorkloadError(_exited_at_import(path.name, exc)) from None
    return module


def _exited_at_import(name: str, exc: SystemExit) -> str:
    return (f"importing {name} called sys.exit({exc.code!r}): the target runs its own code on "
            "import; put that code under `if __name__ == \"__main__\":` so concur can import "
            "the function alone")
def describe_database(dsn: str | None) -> str | None:
    """Where a DSN points, with no credential: `postgresql://127.0.0.1:5432/test` for a URL,
    `host=… port=… dbname=…` for a key-value DSN; None for no DSN."""
    if not dsn or not dsn.strip():
        return None
    if "://" in dsn:
        url = urllib.parse.urlsplit(dsn.strip())
        try:
            port = f":{url.port}" if url.port else ""
        except ValueError:
            port = ""
        return f"{url.scheme}://{url.hostname or ''}{port}{url.path}"
    pairs = dict(re.findall(r"(\w+)\s*=\s*('[^']*'|\S+)", dsn))
    kept = [f"{key}={pairs[key]}" for key in ("host", "port", "dbname") if key in pairs]
    return " ".join(kept) or "a database named by a DSN without host or dbname"


def read_input(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Rows of a CSV, JSONL or Parquet file as dicts (pandas reads them)."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"input file not found: {p}")
    if not p.is_file():  # a folder, a device (/dev/null), a pipe: not rows to read
        raise InputError(f"input {p} is not a regular file; give a .csv, .jsonl or .parquet file")
    suffix = p.suffix.lower()
    if suffix in (".parquet", ".pq"):
        require("parquet", f"reading {p.name}")
    import pandas as pd  # input files are read once, in the parent and in the trial child

    try:
        if suffix == ".csv":
            frame = pd.read_csv(p)
        elif suffix in (".jsonl", ".ndjson"):
            frame = pd.read_json(p, lines=True)
        elif suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(p)
        else:
            raise InputError(f"input file {p.name}: unknown format {suffix!r} (use .csv, .jsonl or .parquet)")
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"cannot read input file {p.name}: {type(exc).__name__}: {exc}") from None
    if frame.empty:
        raise InputError(f"input file {p.name} has no rows")
    return frame.to_dict(orient="records")
