"""Which (model, concurrency) pairs an explicit grid runs, and which are skipped and why.

Pure: decides from the prepared target, the models' facts and the flags; runs nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from profiler.errors import ConfigError
from profiler.models import default_models, get_model
from profiler.results import Skipped
from profiler.run.prepare import Prepared


def parse_models(text: str | None) -> list[str] | None:
    """"threads,asyncio" -> the names, checked; None (not given) -> None (every model).
    A value that names no model (`--models ,`, `--models ""`) is an error, not "all"."""
    if text is None:
        return None
    names = [m.strip() for m in text.split(",") if m.strip()]
    if not names:
        raise ConfigError(f"--models names no model ({text!r}); e.g. --models threads,asyncio, "
                          "or leave it out for every model")
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


def explicit_grid(prepared: Prepared, models: list[str] | None, concurrency: list[int] | None,
                  cpu_count: int | None = None) -> Grid:
    """Pairs to run. A value no runnable model accepts is an error (exit 2: "concurrency 0
    for threads"); a value only some accept is skipped for the others with the reason, so
    `--models threads,asyncio --concurrency 8,0` runs threads×8, asyncio×8 and asyncio×0."""
    cores = cpu_count or os.cpu_count() or 1
    named = models is not None
    chosen = models or default_models()
    pairs: list[tuple[str, int]] = []
    skipped: list[Skipped] = []
    rejected: dict[int, list[str]] = {}
    runnable: list[str] = []
    for name in chosen:
        model = get_model(name)
        reason = prepared.cannot_run(name)
        if reason:
            if named and len(chosen) == 1:
                raise ConfigError(reason)
            skipped.append(Skipped(name, None, reason))
            continue
        runnable.append(name)
        values = [1] if model.max_concurrency(cores) == 1 else (concurrency or model.default_grid(cores))
        for n in values:
            why = model.concurrency_error(n, cores)
            if why:
                rejected.setdefault(n, []).append(why)
                skipped.append(Skipped(name, n, why))
            else:
                pairs.append((name, n))
    if concurrency:
        # A value no model takes is a mistake, named models or not (`--concurrency 100000`
        # would otherwise run sequential alone, silently).
        accepted = {n for _, n in pairs}
        for n in concurrency:
            if n not in accepted and n in rejected and any(
                    get_model(m).max_concurrency(cores) > 1 for m in runnable):
                raise ConfigError(rejected[n][0] if named else
                                  f"--concurrency {n}: no model takes it ({'; '.join(rejected[n])})")
    if not pairs:
        raise ConfigError("nothing to run: " + "; ".join(s.reason for s in skipped))
    return Grid(pairs, skipped)
