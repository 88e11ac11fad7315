"""The dask model's settings: --scheduler, --chunk and --threads-per-worker.

They travel as `RunOptions.model_options` → `TrialSpec.options` → `hooks.options`, and are
validated twice: by the CLI before any trial runs (`model_options_from_flags`: one
`ConfigError` line, exit 2) and by the model in the trial (`dask_options`), so a library
caller's mistake is a failed trial with the same sentence. Imports nothing from dask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from profiler.errors import ConfigError


@dataclass(frozen=True)
class DaskOptions:
    """The dask model's settings (`hooks.options`, from --scheduler/--chunk/--threads-per-worker)."""

    scheduler: str | None = None  # None = a LocalCluster inside the trial
    threads_per_worker: int = 1
    chunk: int | None = 1  # records per task; None = auto

    @property
    def chunk_label(self) -> str:
        return "auto" if self.chunk is None else str(self.chunk)


def dask_options(options: Mapping[str, Any]) -> DaskOptions:
    """Validate the model options; a bad value is one `ConfigError` line."""
    scheduler = options.get("scheduler") or None
    if scheduler is not None:
        if not isinstance(scheduler, str):
            raise ConfigError(f"--scheduler takes an address like tcp://HOST:PORT, not {scheduler!r}")
        scheduler = scheduler if "://" in scheduler else f"tcp://{scheduler}"
    threads = options.get("threads_per_worker", 1)
    try:
        threads = int(threads)
    except (TypeError, ValueError):
        threads = 0
    if threads < 1:
        raise ConfigError(f"--threads-per-worker must be an integer ≥ 1, not {options.get('threads_per_worker')!r}")
    raw = options.get("chunk", 1)
    chunk: int | None
    if isinstance(raw, str) and raw.strip().lower() == "auto":
        chunk = None
    else:
        try:
            chunk = int(raw)
        except (TypeError, ValueError):
            chunk = 0
        if chunk < 1:
            raise ConfigError(f"--chunk takes records per task (an integer ≥ 1) or 'auto', not {raw!r}")
    return DaskOptions(scheduler, threads, chunk)


def model_options_from_flags(models: list[str] | None, scheduler: str | None = None,
                             chunk: str | None = None,
                             threads_per_worker: int | None = None) -> tuple[tuple[str, Any], ...]:
    """--scheduler/--chunk/--threads-per-worker as `RunOptions.model_options`, validated now
    (a bad value is exit 2 before any trial runs, not a failed trial per configuration)."""
    given = {k: v for k, v in (("scheduler", scheduler), ("chunk", chunk),
                               ("threads_per_worker", threads_per_worker)) if v is not None}
    if not given:
        return ()
    if "dask" not in (models or []):
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        verb = "applies" if len(given) == 1 else "apply"
        raise ConfigError(f"{flags} only {verb} to the dask model: add it, e.g. --models threads,dask")
    dask_options(given)
    return tuple(given.items())
