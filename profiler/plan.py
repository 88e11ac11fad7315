"""Which (model, concurrency) pairs an explicit grid runs, and which are skipped and why.

Pure: decides from the workload's shape and the flags, runs nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from profiler.errors import ConfigError
from profiler.models import MODELS, get_model
from profiler.results import Skipped
from profiler.workload import Workload


def default_models() -> list[str]:
    """Every registered model but the opt-in ones (dask starts a cluster: only when named)."""
    return [name for name, model in MODELS.items() if not getattr(model, "opt_in", False)]


def default_grid(cpu_count: int | None = None) -> dict[str, list[int]]:
    """A small grid that shows each model's shape when the user names no concurrency."""
    cores = cpu_count or os.cpu_count() or 1
    return {
        "sequential": [1],
        "threads": [4, 16],
        "processes": [cores],
        "asyncio-threads": [16],
        "asyncio": [16, 0],
        "uvloop": [16],
        "dask": [cores],
    }


def parse_models(text: str | None) -> list[str] | None:
    if text is None or not text.strip():
        return None
    names = [m.strip() for m in text.split(",") if m.strip()]
    for name in names:
        get_model(name)
    return list(dict.fromkeys(names))


def parse_concurrency(text: str | None) -> list[int] | None:
    """"1,4,16" -> [1, 4, 16]; None or "auto" -> None (the caller decides)."""
    if text is None or text.strip().lower() in ("", "auto"):
        return None
    values = []
    for part in text.split(","):
        part = part.strip()
        if part.lower() in ("unbounded", "inf"):
            part = "0"
        try:
            value = int(part)
        except ValueError:
            raise ConfigError(f"--concurrency takes integers like 1,4,16 or 'auto', not {part!r}") from None
        if value < 0:
            raise ConfigError(f"--concurrency values must be ≥ 0 (0 = unbounded asyncio), not {value}")
        values.append(value)
    return list(dict.fromkeys(values))


@dataclass
class Grid:
    pairs: list[tuple[str, int]]
    skipped: list[Skipped]


def explicit_grid(workload: Workload, models: list[str] | None, concurrency: list[int] | None,
                  unpicklable: str | None = None) -> Grid:
    """Pairs to run. A value no runnable model accepts is an error (exit 2: "concurrency 0
    for threads"); a value only some accept is skipped for the others with the reason, so
    `--models threads,asyncio --concurrency 8,0` runs threads×8, asyncio×8 and asyncio×0."""
    named = models is not None
    chosen = models or default_models()
    defaults = default_grid()
    pairs: list[tuple[str, int]] = []
    skipped: list[Skipped] = []
    rejected: dict[int, list[str]] = {}
    runnable: list[str] = []
    for name in chosen:
        model = get_model(name)
        shape = model.reason_cannot_run(workload)
        if shape:
            if named and len(chosen) == 1:
                raise ConfigError(shape)
            skipped.append(Skipped(name, None, shape))
            continue
        if name == "processes" and unpicklable:
            skipped.append(Skipped(name, None, unpicklable))
            continue
        runnable.append(name)
        values = [1] if name == "sequential" else (concurrency or defaults[name])
        for n in values:
            reason = model.concurrency_error(n)
            if reason:
                rejected.setdefault(n, []).append(reason)
                skipped.append(Skipped(name, n, reason))
            else:
                pairs.append((name, n))
    if named and concurrency:
        accepted = {n for _, n in pairs}
        for n in concurrency:
            if n not in accepted and n in rejected and set(runnable) - {"sequential"}:
                raise ConfigError(rejected[n][0])
    if not pairs:
        raise ConfigError("nothing to run: " + "; ".join(s.reason for s in skipped))
    return Grid(pairs, skipped)
