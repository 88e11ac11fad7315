"""What a run is asked to do: one options object, validated once, for the CLI and the API."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any

from profiler.errors import ConfigError
from profiler.extras import require
from profiler.results import Constraints

DEFAULT_RECORDS = 200
DEFAULT_TIMEOUT_S = 120.0
DEFAULT_BUDGET_S = 60.0


_SYSTEMS = {"darwin": "macOS", "win32": "Windows", "cygwin": "Windows (Cygwin)"}


def require_linux() -> None:
    """Measuring needs Linux: CPU and run-queue time come from /proc, trials lead process
    groups that die with their pipe to concur, worker pools fork. Elsewhere, one line."""
    if not sys.platform.startswith("linux"):
        raise ConfigError(
            f"concur measures on Linux only (it reads /proc for CPU and run-queue time and "
            f"starts every trial as a process group of its own); this is {_SYSTEMS.get(sys.platform, sys.platform)}: "
            "run it on a Linux machine, container or VM")


@dataclass(frozen=True)
class RunOptions:
    models: list[str] | None = None
    concurrency: list[int] | None = None  # None = adaptive sweep
    records: int | None = None
    repeat: int = 1
    total: int | None = None
    budget_s: float = DEFAULT_BUDGET_S
    input_file: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    sample_interval_s: float = 0.05
    model_options: tuple[tuple[str, Any], ...] = ()  # passed to every trial (see TrialSpec)
    constraints: Constraints = field(default_factory=Constraints)
    json_path: str | None = None
    command: str = ""
    attribution: bool = False  # --attribution: py-spy/yappi passes after the sweep
    attribution_dir: str | None = None  # where their files go (default: beside json_path)
    # Enter the workload's run-scoped service (Workload.service) around the run; False when
    # the caller (the gate) already entered it for both of its sides.
    start_services: bool = True
    validate_records: int | None = None  # --validate N: the recommendation run on N records after the sweep
    # The workload's database (--dsn; CONCUR_DSN in the trials' environment) and the size of
    # the embedded server a db scenario starts (--db-max-connections).
    dsn: str | None = None
    db_max_connections: int | None = None
    # Records given as objects (the API's `records=` iterable), instead of --input or the
    # workload's own; every trial reads them as it reads an input file's rows.
    input_rows: tuple[Any, ...] | None = None

    def validate(self) -> None:
        require_linux()
        if self.records is not None and self.records < 1:
            raise ConfigError(f"--records must be ≥ 1, not {self.records}")
        if self.repeat < 1:
            raise ConfigError(f"--repeat must be ≥ 1, not {self.repeat}")
        positive("--timeout", self.timeout_s, "seconds")
        positive("--budget", self.budget_s, "seconds")
        if self.total is not None and self.total < 1:
            raise ConfigError(f"--total must be ≥ 1, not {self.total}")
        if self.attribution:  # before the sweep, not after a minute of it
            require("attribution", "--attribution")
        if self.validate_records is not None and self.validate_records < 1:
            raise ConfigError(f"--validate must be ≥ 1 records, not {self.validate_records}")
        if self.db_max_connections is not None and self.db_max_connections < 4:
            raise ConfigError(f"--db-max-connections must be ≥ 4 (3 are reserved for superusers), "
                              f"not {self.db_max_connections}")
        if self.input_rows is not None and self.input_file:
            raise ConfigError("give the records either as a file (--input) or as objects, not both")
        if self.input_rows is not None and not self.input_rows:
            raise ConfigError("the records given are empty")

    def workload_env(self) -> dict[str, str]:
        """What the workload reads from its environment during the run (trial children
        inherit it, a run-scoped service reads it): CONCUR_DSN, CONCUR_RECORDS,
        CONCUR_TOTAL, CONCUR_DB_MAX_CONNECTIONS, for the settings that were given."""
        given = {"CONCUR_DSN": self.dsn, "CONCUR_RECORDS": self.records,
                 "CONCUR_TOTAL": self.total, "CONCUR_DB_MAX_CONNECTIONS": self.db_max_connections}
        return {key: str(value) for key, value in given.items() if value is not None}

    @property
    def model_settings(self) -> dict[str, Any]:
        return dict(self.model_options)


def positive(flag: str, value: float | None, unit: str) -> None:
    """A flag that takes a positive finite number (None: not given). nan and inf are
    refused here, in the flag's own words, before any arithmetic meets them."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{flag} must be a positive number of {unit}, not {value:g}")
