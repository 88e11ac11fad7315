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
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profiler.errors import ConcurError, InputError, WorkloadError
from profiler.extras import require
from profiler.redact import parse_dsn

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
    # Why the service has stopped while the run still needs it (None while it runs): a
    # server that died. Checked while every trial runs; the run stops and says it.
    down: Callable[[], str | None] | None = None


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
        for label in ("handle", "async_handle"):
            value = getattr(self, label)
            if value is not None:
                check_handler(value, f"workload {self.name!r}: {label}",
                              has_setup=self.setup is not None)

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
    """Resolve a target string to a Workload, or raise a one-line `WorkloadError`.

    Imports as Python does (see `_import_target`); a function given as the target is
    checked against the handler contract here, before any trial (`check_handler`)."""
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
    """A Workload as given, or a plain per-record function wrapped in one (checked first)."""
    if isinstance(obj, Workload):
        return obj
    if isinstance(obj, type):
        raise WorkloadError(
            f"{name} is a class; concur calls a function once per record: give a function "
            f"`def {name.rsplit('.', 1)[-1].lower()}(record)`, a method of an instance "
            "(file.py:instance.method) or a profiler.Workload")
    if not callable(obj):
        raise WorkloadError(f"{name!r} is a {type(obj).__name__}, not a function or a Workload")
    check_handler(obj, f"target {name}", has_setup=False)
    return Workload(name=name, handle=obj)


def check_handler(fn: Callable[..., Any], where: str, has_setup: bool) -> None:
    """The handler contract, checked before any trial: `handle(record)` or, with a setup()
    that makes a ctx, `handle(record, ctx)`; sync or `async def`; what it returns is
    discarded (only raising counts: that record's error). One line per breach; `where`
    names the handler in it (`handle`, `workload 'etl': handle`)."""
    call = f"{getattr(fn, '__name__', 'handle')}{_signature(fn)}"
    inner = fn if inspect.isroutine(fn) else getattr(fn, "__call__", None)  # noqa: B004
    if inspect.isgeneratorfunction(inner):
        raise WorkloadError(
            f"{where}: {call} is a generator function (it yields): calling it once per record "
            "only creates a generator and runs none of its body; return instead of yield")
    if inspect.isasyncgenfunction(inner):
        raise WorkloadError(
            f"{where}: {call} is an async generator (async def with yield): calling it per "
            "record runs none of its body; make it a plain `async def` that returns")
    one, two = accepts_positional(fn, 1), accepts_positional(fn, 2)
    if not one and not two:
        raise WorkloadError(
            f"{where}: {call} cannot be called as handle(record) or handle(record, ctx): "
            "concur passes each record as the first argument")
    if not one and not has_setup:
        raise WorkloadError(
            f"{where}: {call} takes two required arguments, (record, ctx), but nothing makes "
            "a ctx: give ctx a default, or wrap it in profiler.Workload(name, handle, "
            "setup=...) whose setup() returns the ctx")


def _signature(fn: Callable[..., Any]) -> str:
    try:
        return str(inspect.signature(fn))
    except (TypeError, ValueError):
        return "(...)"


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


# --- importing a target as Python would -----------------------------------------------------
#
# `module:attr` is imported as `python -m module` would: the current folder first on the
# path, so `concur run job:handle` works beside job.py and `pkg.job:handle` may use relative
# imports. `path/to/file.py:attr` inside a package (folders with __init__.py) is imported as
# that package's module (`pkg.job`, from the folder above the package), with its own folder
# on the path too so that a plain `import helpers` of a sibling also works; a file outside
# any package as a file, with its folder first on the path as `python file.py` would have it.
# That folder is first only while the target imports: afterwards it moves to the end of
# sys.path, so the target's later imports still find its siblings but a sibling named like
# a module concur itself needs later (a `gzip.py` beside the job) cannot replace it.


@contextmanager
def _first_on_path(*folders: str) -> Iterator[None]:
    sys.path[0:0] = folders
    try:
        yield
    finally:
        for folder in folders:
            with suppress(ValueError):
                sys.path.remove(folder)  # the first occurrence: ours, unless the target moved it
            if folder not in sys.path:
                sys.path.append(folder)


def _import_target(base: str) -> Any:
    if base.endswith(".py") or os.sep in base:
        path = Path(base).resolve()
        if not path.is_file():
            raise WorkloadError(f"target file not found: {base} (looked for {path})")
        package = _package_of(path)
        if package is not None:
            return _import_package_module(path, *package)
        return _import_file(path)
    return _import_module(base)


def _import_module(base: str) -> Any:
    here = os.getcwd()
    try:
        with _first_on_path(here):
            return _guarded_import(base, lambda: importlib.import_module(base))
    except ImportError as exc:
        if not isinstance(exc, ModuleNotFoundError) or not (
                exc.name and (base == exc.name or base.startswith(exc.name + "."))):
            raise WorkloadError(f"importing {base} failed: {exc}") from None
        if base.split(".", 1)[0] == BUNDLED and importlib.util.find_spec(f"profiler.{BUNDLED}"):
            return _import_module(f"profiler.{base}")
        first = base.split(".", 1)[0]
        raise WorkloadError(
            f"no module named {exc.name!r}: looked for {first}.py and {first}/ in the current "
            f"folder ({here}) and on Python's path; for a file elsewhere give its path, "
            f"e.g. path/to/{base.replace('.', '/')}.py:NAME") from None


def _package_of(path: Path) -> tuple[Path, str] | None:
    """(the folder above the outermost package, the dotted module name) when `path` lies in
    a package (its folder has an __init__.py), else None."""
    parts = [] if path.stem == "__init__" else [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    if path.stem != "__init__" and len(parts) == 1:
        return None
    if not parts or not all(p.isidentifier() for p in parts):
        return None
    return folder, ".".join(parts)


def _import_package_module(path: Path, root: Path, name: str) -> Any:
    top = sys.modules.get(name.split(".", 1)[0])
    if top is not None and str(root / name.split(".", 1)[0]) not in list(getattr(top, "__path__", [])):
        # Another package of that name is already imported (a `tests` package from
        # site-packages, say): ours cannot be reached by name, so load the file itself.
        return _import_file(path)
    try:  # its siblings by plain name too (`import helpers`), as `python file.py` has them
        with _first_on_path(str(root), str(path.parent)):
            module = _guarded_import(name, lambda: importlib.import_module(name),
                                     f" (as module {name} of the package in {root})")
    except ImportError as exc:
        raise WorkloadError(f"importing {path.name} as module {name} (from {root}) failed: "
                            f"{exc}") from None
    if Path(getattr(module, "__file__", "") or "").resolve() != path:
        return _import_file(path)  # the name led elsewhere: take the file the user named
    return module


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
    loader = spec.loader
    try:
        with _first_on_path(str(path.parent)):  # its siblings import, as `python file.py`
            _guarded_import(path.name, lambda: loader.exec_module(module))
    except BaseException as exc:
        del sys.modules[mod_name]
        if isinstance(exc, ImportError) and "relative import" in str(exc):
            raise WorkloadError(
                f"importing {path.name} failed: {exc}: it was imported as a plain file because "
                f"{path.parent} has no __init__.py; make that folder a package, or run the "
                "module by its dotted name from the folder above it") from None
        if isinstance(exc, ImportError):
            raise WorkloadError(f"importing {path.name} failed: {exc}") from None
        raise
    return module


def _guarded_import(name: str, load: Callable[[], Any], how: str = "") -> Any:
    """Run `load` (an import of the user's code): a ConcurError the target raised itself
    passes; an ImportError is the caller's to word (it knows what was tried); anything else
    the user's module raised at import becomes one line."""
    try:
        return load()
    except (ConcurError, ImportError):
        raise
    except SyntaxError as exc:
        where = Path(exc.filename).name if exc.filename else name
        raise WorkloadError(f"syntax error in {where}, line {exc.lineno}: {exc.msg}") from None
    except Exception as exc:  # the user's module raised at import time
        raise WorkloadError(f"importing {name}{how} raised {type(exc).__name__}: {exc}") from None
    except SystemExit as exc:  # a script that runs itself on import: its exit is not ours
        raise WorkloadError(_exited_at_import(name, exc)) from None


def _exited_at_import(name: str, exc: SystemExit) -> str:
    return (f"importing {name} called sys.exit({exc.code!r}): the target runs its own code on "
            "import; put that code under `if __name__ == \"__main__\":` so concur can import "
            "the function alone")


def describe_database(dsn: str | None) -> str | None:
    """Where a DSN points, with no credential: `postgresql://127.0.0.1:5432/test` for a URL,
    `host=… port=… dbname=…` for a key-value DSN; None for no DSN. Read by the one DSN
    parser (`redact.parse_dsn`), so a password holding `/` or `@` is never taken for a path."""
    if not dsn or not dsn.strip():
        return None
    parts = parse_dsn(dsn)
    if parts.scheme is not None:
        port = f":{parts.port}" if parts.port and parts.port.isdigit() else ""
        return f"{parts.scheme}://{parts.host or ''}{port}/{parts.database or ''}".rstrip("/")
    kept = [f"{key}={value}" for key, value in (("host", parts.host), ("port", parts.port),
                                                ("dbname", parts.database)) if value]
    return " ".join(kept) or "a database named by a DSN without host or dbname"


INPUT_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
INPUT_CHUNK_ROWS = 1000  # rows read at a time: memory follows what a trial needs, not the file


def check_input(path: str | os.PathLike[str]) -> tuple[Path, str]:
    """The input file and its format, or one `InputError` saying what is wrong with it."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"input file not found: {p}")
    if not p.is_file():  # a folder, a device (/dev/null), a pipe: not rows to read
        raise InputError(f"input {p} is not a regular file; give a .csv, .jsonl or .parquet file")
    kind = INPUT_FORMATS.get(p.suffix.lower())
    if kind is None:
        raise InputError(f"input file {p.name}: unknown format {p.suffix.lower()!r} (use .csv, .jsonl or .parquet)")
    if kind == "parquet":
        require("parquet", f"reading {p.name}")
    return p, kind


def iter_input(path: str | os.PathLike[str], chunk_rows: int = INPUT_CHUNK_ROWS) -> Iterator[list[dict[str, Any]]]:
    """The rows of a CSV, JSONL or Parquet file as dicts, `chunk_rows` at a time, streamed
    (pandas' chunked readers; pyarrow's batches for Parquet): reading the first rows of a
    1 GB file costs what those rows cost. Column types are inferred per chunk. A file that
    cannot be parsed is one `InputError` naming it and where."""
    p, kind = check_input(path)
    import pandas as pd  # in the parent only: trial children unpickle the rows they need

    done = 0
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            # Buffered, not pre-buffered: a row group's pages are read as the batches need them.
            source = pq.ParquetFile(p, buffer_size=1 << 20, pre_buffer=False)
            frames: Iterator[Any] = (b.to_pandas() for b in
                                     source.iter_batches(batch_size=chunk_rows, use_threads=False))
        elif kind == "csv":
            frames = iter(pd.read_csv(p, chunksize=chunk_rows))
        else:
            frames = iter(pd.read_json(p, lines=True, chunksize=chunk_rows))
        for frame in frames:
            rows = frame.to_dict(orient="records")
            done += len(rows)
            yield rows
    except InputError:
        raise
    except Exception as exc:
        where = f" after row {done:,}" if done else ""
        raise InputError(f"cannot read input file {p.name}{where}: {type(exc).__name__}: {exc}") from None


def read_input(path: str | os.PathLike[str], limit: int | None = None) -> list[dict[str, Any]]:
    """The first `limit` rows (every row when None) of an input file, as dicts; reads no
    further than it needs (`iter_input`)."""
    out: list[dict[str, Any]] = []
    for rows in iter_input(path, min(limit, INPUT_CHUNK_ROWS) if limit else INPUT_CHUNK_ROWS):
        out.extend(rows[: None if limit is None else limit - len(out)])
        if limit is not None and len(out) >= limit:
            break
    if not out:
        raise InputError(f"input file {Path(path).name} has no rows")
    return out
