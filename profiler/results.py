"""The results file: the one contract between measurement, analysis, reports and the gate.

`Results` is written to disk after every trial (atomically, through `write_atomic`),
so a Ctrl-C or a crash later in the run keeps everything measured so far. The verdict
sections (`classification`, `scaling`, `recommendation`, `predictions`) are plain
dicts here, produced and read by `profiler.analysis`, so this module depends on
nothing but the standard library.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from profiler.errors import ResultsError

SCHEMA_VERSION = 1
TOOL_NAME = "concur"

# Trial statuses: "ok" ran to the end (errors inside records are still counted);
# "crashed" the trial process died (segfault, os._exit); "timeout" it was killed after
# --timeout; "failed" setup or the harness failed before the timed window.
TRIAL_STATUSES = ("ok", "crashed", "timeout", "failed")


@dataclass
class Trial:
    """One model x concurrency x records x repeat, measured in its own child process.

    Field names and units are the schema: CPU in seconds over the timed window,
    `cpu_util` in cores (1.0 = one core busy), times in seconds or milliseconds as named.
    A measurement that could not be taken is None ("n/a"), never 0.
    """

    model: str
    concurrency: int  # 0 = unbounded (asyncio gather of every record)
    repeat: int
    records: int  # records attempted in the timed window
    errors: int  # records whose handler raised
    wall_s: float
    throughput_rps: float  # records completed without error per wall second
    cpu_user_s: float | None = None
    cpu_system_s: float | None = None
    cpu_util: float | None = None
    rss_peak_bytes: int | None = None
    threads_peak: int | None = None
    fds_peak: int | None = None
    connections_peak: int | None = None
    ctx_switches_voluntary: int | None = None
    ctx_switches_involuntary: int | None = None
    runqueue_wait_s: float | None = None
    iowait_frac: float | None = None
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    loop_lag_p50_ms: float | None = None
    loop_lag_p99_ms: float | None = None
    loop_lag_max_ms: float | None = None
    tasks_peak: int | None = None
    # Beyond the design's list: what a reader needs to trust or distrust the row.
    status: str = "ok"
    status_detail: str = ""
    workers: int = 1  # threads/processes running handlers (for time decomposition)
    errors_by_type: dict[str, int] = field(default_factory=dict)
    error_messages: dict[str, list[str]] = field(default_factory=dict)
    db_connections_peak: int | None = None  # server-side, from the workload's probe
    probe_metrics: dict[str, Any] = field(default_factory=dict)
    model_options: dict[str, Any] = field(default_factory=dict)  # e.g. dask scheduler, chunk
    model_metrics: dict[str, Any] = field(default_factory=dict)  # e.g. dask task overhead
    samples_taken: int = 0

    @property
    def label(self) -> str:
        return f"{self.model}×{'unbounded' if self.concurrency == 0 else self.concurrency}"

    @property
    def cpu_s(self) -> float | None:
        if self.cpu_user_s is None or self.cpu_system_s is None:
            return None
        return self.cpu_user_s + self.cpu_system_s

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trial:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


TRIAL_COLUMNS = [f.name for f in fields(Trial)]


@dataclass
class Skipped:
    """A model (or model x concurrency) that was not run, and why."""

    model: str
    concurrency: int | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class WorkloadInfo:
    name: str
    target: str
    records_per_trial: int
    total_records: int | None = None
    input_file: str | None = None
    handle_kind: str = "sync"  # "sync", "async" or "both"


@dataclass
class Environment:
    python: str
    implementation: str
    cpu_count: int
    gil_enabled: bool
    platform: str


@dataclass
class Results:
    workload: WorkloadInfo
    environment: Environment
    trials: list[Trial] = field(default_factory=list)
    # One entry per trial: {"trial": index, "t_s": [...], "cpu_util": [...], "rss_bytes": [...],
    # "threads": [...], "fds": [...], "connections": [...]} (columns of equal length).
    samples: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    classification: dict[str, Any] | None = None
    scaling: dict[str, Any] | None = None
    recommendation: dict[str, Any] | None = None
    predictions: dict[str, Any] | None = None
    sweep_log: list[dict[str, Any]] = field(default_factory=list)
    # "Why it is slow": one dict per attributed configuration (profiler.attribution.attribute).
    attribution: list[dict[str, Any]] = field(default_factory=list)
    command: str = ""  # how to reproduce this run
    started_at: str = ""
    finished_at: str = ""
    interrupted: bool = False
    tool_version: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": TOOL_NAME, "version": self.tool_version},
            "workload": asdict(self.workload),
            "environment": asdict(self.environment),
            "trials": [t.to_dict() for t in self.trials],
            "samples": self.samples,
            "skipped": [s.to_dict() for s in self.skipped],
            "classification": self.classification,
            "scaling": self.scaling,
            "recommendation": self.recommendation,
            "predictions": self.predictions,
            "sweep_log": self.sweep_log,
            "attribution": self.attribution,
            "command": self.command,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "interrupted": self.interrupted,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Results:
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ResultsError(
                f"results file has schema_version {version!r}; this concur reads version "
                f"{SCHEMA_VERSION} (re-run `concur run` to produce a current file)"
            )
        try:
            return cls(
                workload=WorkloadInfo(**data["workload"]),
                environment=Environment(**data["environment"]),
                trials=[Trial.from_dict(t) for t in data["trials"]],
                samples=list(data.get("samples") or []),
                skipped=[Skipped(**s) for s in data.get("skipped") or []],
                classification=data.get("classification"),
                scaling=data.get("scaling"),
                recommendation=data.get("recommendation"),
                predictions=data.get("predictions"),
                sweep_log=list(data.get("sweep_log") or []),
                attribution=list(data.get("attribution") or []),
                command=data.get("command", ""),
                started_at=data.get("started_at", ""),
                finished_at=data.get("finished_at", ""),
                interrupted=bool(data.get("interrupted", False)),
                tool_version=(data.get("tool") or {}).get("version", ""),
            )
        except (KeyError, TypeError) as exc:
            raise ResultsError(f"results file is malformed: {exc}") from None

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, allow_nan=False, default=_json_default)

    def save(self, path: str | os.PathLike[str]) -> Path:
        return write_atomic(path, self.to_json())

    def samples_for(self, trial_index: int) -> dict[str, Any] | None:
        for entry in self.samples:
            if entry.get("trial") == trial_index:
                return entry
        return None

    def ok_trials(self) -> list[Trial]:
        return [t for t in self.trials if t.status == "ok"]

    def to_dataframe(self):  # -> pandas.DataFrame; imported lazily: measurement never needs pandas
        """The trials as a DataFrame, one row per trial, columns = the schema's trial fields."""
        import pandas as pd

        rows = []
        for t in self.trials:
            row = t.to_dict()
            row["errors_by_type"] = dict(row["errors_by_type"])
            rows.append(row)
        return pd.DataFrame(rows, columns=TRIAL_COLUMNS)


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def load_results(path: str | os.PathLike[str]) -> Results:
    """Read a results.json; any problem becomes one clear `ResultsError`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"results file not found: {p}") from None
    except OSError as exc:
        raise ResultsError(f"cannot read results file {p}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{p} is not a concur results file (invalid JSON: {exc.msg})") from None
    if not isinstance(data, dict) or (data.get("tool") or {}).get("name") != TOOL_NAME:
        raise ResultsError(f"{p} is not a concur results file")
    return Results.from_dict(data)


def write_atomic(path: str | os.PathLike[str], text: str | bytes) -> Path:
    """Write a file so a reader never sees half of it: temp file in the folder, then rename."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    mode = "wb" if isinstance(text, bytes) else "w"
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
    try:
        with os.fdopen(fd, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a report is for others to read
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return p


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
