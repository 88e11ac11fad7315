"""The dask model's settings: --scheduler, --chunk and --threads-per-worker.

They travel as `RunOptions.model_options` → `TrialSpec.options` → `hooks.options`, and are
validated twice: by the CLI before any trial runs (`profiler.models.model_options_from_flags`
calls `DaskModel.check_options`: one `ConfigError` line, exit 2) and by the model in the trial (`dask_options`), so a library
caller's mistake is a failed trial with the same sentence. Imports nothing from dask.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from profiler.errors import ConfigError
from profiler.models.workers import chunk_option


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
    chunk = chunk_option(options.get("chunk", 1))
    return DaskOptions(scheduler, threads, chunk)
