"""`Results`: one run, the contract between measurement, analysis, reports and the gate.

It is written to disk after every trial (atomically), so a Ctrl-C or a crash later in
the run keeps everything measured so far. Version 2 types the verdict's sections; a
version-1 file has the same keys and loads unchanged. Version 3 adds the standings (the
judged table of configurations, `results.standings`) as a top-level list; an older file
loads without it, and `profiler.api.load_results` judges it then.
"""

from __future__ import annotations

import json
import math
import os
import stat
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from profiler.errors import ResultsError
from profiler.files import write_atomic
from profiler.redact import redact
from profiler.results.schema import convert, from_data, to_data
from profiler.results.sections import (
    Attribution,
    Classification,
    Constraints,
    Predictions,
    Recommendation,
    ScalingFit,
    Story,
    SweepEvent,
    Validation,
)
from profiler.results.standings import StandingRow, Standings, basis_of
from profiler.results.trial import TRIAL_COLUMNS, Environment, Skipped, Trial, WorkloadInfo

SCHEMA_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
TOOL_NAME = "concur"


@dataclass
class Results:
    workload: WorkloadInfo
    environment: Environment
    trials: list[Trial] = field(default_factory=list)
    # The judged table of configurations (`analysis.standings`); None until judged. In the
    # file: a list of `StandingRow`, ranked, the recommendation's configuration first.
    standings: Standings | None = None
    # One entry per trial: {"trial": index, "t_s": [...], "cpu_util": [...], "rss_bytes": [...],
    # "threads": [...], "fds": [...], "connections": [...]} (columns of equal length).
    samples: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    classification: Classification | None = None
    scaling: dict[str, ScalingFit] | None = None
    recommendation: Recommendation | None = None
    predictions: Predictions | None = None
    sweep_log: list[SweepEvent] = field(default_factory=list)
    attribution: list[Attribution] = field(default_factory=list)
    # The seed's question, first: the job as it was vs its rewrite (analysis.story), when
    # the run holds both (a target with a sync and an async handle, a gate, a compare).
    story: Story | None = None
    command: str = ""  # how to reproduce this run
    started_at: str = ""
    finished_at: str = ""
    interrupted: bool = False
    # Why the run stopped before its plan or sweep was done, when something other than the
    # user stopped it ("the embedded PostgreSQL server died (killed by SIGKILL) during
    # processes×2"); "" when it was not.
    stopped_by: str = ""
    tool_version: str = ""
    validation: Validation | None = None  # --validate N: a long run of the recommendation

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: to_data(getattr(self, f.name)) for f in fields(self)
                if f.name not in ("tool_version", "standings")}
        data["standings"] = to_data(self.standings.to_rows(self.trials)) if self.standings else []
        return {"schema_version": SCHEMA_VERSION,
                "tool": {"name": TOOL_NAME, "version": self.tool_version}, **data}

    @classmethod
    def from_dict(cls, data: Any, where: str = "results") -> Results:
        """A checked Results; any problem is one `ResultsError` naming the field."""
        if not isinstance(data, dict):
            raise ResultsError(f"{where} is not a concur results file")
        version = data.get("schema_version")
        if version not in READABLE_VERSIONS:
            raise ResultsError(
                f"{where} has schema_version {version!r}; this concur reads versions "
                f"{', '.join(map(str, READABLE_VERSIONS))} (re-run `concur run` to produce a "
                "current file)")
        tool = convert(dict[str, Any], data.get("tool") or {}, f"{where}.tool")
        body = {k: v for k, v in data.items() if k not in ("schema_version", "tool", "standings")}
        results = from_data(cls, body, where)
        results.tool_version = str(tool.get("version") or "")
        check_measurements(results, where)
        rows = convert(list[StandingRow], data.get("standings") or [], f"{where}.standings")
        if rows:
            check_standings(rows, len(results.trials), where)
            rec = results.recommendation
            results.standings = Standings.from_rows(
                rows, results.trials, rec.constraints if rec else Constraints(),
                results.workload.handle_kind)
        return results

    def to_json(self) -> str:
        """The file's text, credentials redacted (it is printed by `--json -` as well as saved)."""
        return redact(json.dumps(self.to_dict(), indent=1, allow_nan=False, default=_json_default))

    def save(self, path: str | os.PathLike[str]) -> Path:
        return write_atomic(path, self.to_json())

    def samples_for(self, trial_index: int) -> dict[str, Any] | None:
        for entry in self.samples:
            if entry.get("trial") == trial_index:
                return entry
        return None

    def ok_trials(self) -> list[Trial]:
        return [t for t in self.trials if t.ok]

    def to_dataframe(self):  # -> pandas.DataFrame; imported lazily: measurement never needs pandas
        """The trials as a DataFrame, one row per trial, columns = the schema's trial fields."""
        import pandas as pd

        return pd.DataFrame([to_data(t) for t in self.trials], columns=TRIAL_COLUMNS)


def standings_of(results: Results) -> Standings:
    """The run's standings, which every reader of a run takes its table from (a clear error,
    not a guess, when nothing judged them: analysis fills them, `profiler.load_results`
    judges an older file's)."""
    s = results.standings
    if s is None:
        raise ResultsError("these results have no standings: judge them first "
                           "(profiler.analysis.analyse, or load the file with profiler.load_results)")
    if s.basis != basis_of(results.trials) or s.handle_kind != results.workload.handle_kind:
        raise ResultsError("these results' standings are stale (their trials changed since they "
                           "were judged): judge them again (profiler.analysis.standings.table)")
    return s


def check_measurements(results: Results, where: str) -> None:
    """What the types cannot say: every trial figure but `drift` is a count, a time, a rate
    or a peak, so never negative; errors never exceed records; each samples entry names a trial and
    holds columns of finite numbers of one length. A file that breaks this was not
    written by concur, and rendering it would draw nonsense."""
    for i, t in enumerate(results.trials):
        for name in _TRIAL_NUMBERS:
            value = getattr(t, name)
            if value is not None and value < 0:
                raise ResultsError(f"{where}.trials[{i}].{name}: expected a number ≥ 0, got {value!r}")
        if t.errors > t.records:
            raise ResultsError(f"{where}.trials[{i}].errors: {t.errors} errors in {t.records} records")
    for i, entry in enumerate(results.samples):
        index = entry.get("trial")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(results.trials):
            raise ResultsError(f"{where}.samples[{i}].trial: expected the index of a trial, got {index!r}")
        lengths = set()
        for key, column in entry.items():
            if key == "trial":
                continue
            if not isinstance(column, list) or not all(
                    isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                    for v in column):
                raise ResultsError(f"{where}.samples[{i}].{key}: expected a list of numbers")
            lengths.add(len(column))
        if len(lengths) > 1:
            raise ResultsError(f"{where}.samples[{i}]: columns of different lengths {sorted(lengths)}")


def check_standings(rows: list[StandingRow], trials: int, where: str) -> None:
    """Each row names trials the file holds; a row that counts runs names that many."""
    for i, row in enumerate(rows):
        if any(not 0 <= j < trials for j in (*row.trials, *row.left_out)):
            raise ResultsError(f"{where}.standings[{i}].trials: names a trial the file does not hold")
        if row.runs and row.runs != len(row.trials):
            raise ResultsError(f"{where}.standings[{i}].runs: {row.runs} runs, "
                               f"{len(row.trials)} trials named")


# `drift` is the one signed figure (a relative change: -0.12 = ended 12 % slower).
_SIGNED = {"drift"}
_TRIAL_NUMBERS = [f.name for f in fields(Trial)
                  if f.type in ("int", "float", "int | None", "float | None") and f.name not in _SIGNED]


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


MAX_RESULTS_BYTES = 256 * 2**20  # concur's own files are a few MiB; parsing JSON takes ~10× its size


def load_results(path: str | os.PathLike[str]) -> Results:
    """Read a results.json; any problem becomes one clear `ResultsError`.

    Only a regular file is read (a device such as /dev/zero or a pipe would be read until
    memory runs out), and only up to MAX_RESULTS_BYTES: a larger file is refused with its
    size, since parsing it would take about ten times that in memory."""
    p = Path(path)
    if p.is_dir():
        raise ResultsError(f"{p} is a folder, not a results file (try {p / 'results.json'})")
    try:
        fd = os.open(p, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)  # a FIFO must not block the open
    except FileNotFoundError:
        raise ResultsError(f"results file not found: {p}") from None
    except OSError as exc:
        raise ResultsError(f"cannot read results file {p}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ResultsError(f"{p} is not a regular file (a device, a pipe or a socket): give "
                               "the results.json that `concur run` wrote")
        if st.st_size > MAX_RESULTS_BYTES:
            raise ResultsError(f"{p} is {st.st_size / 2**20:,.0f} MiB, over the "
                               f"{MAX_RESULTS_BYTES // 2**20} MiB concur reads (its own results "
                               "files are a few MiB; is this one?)")
        try:
            raw = fh.read(MAX_RESULTS_BYTES + 1)
        except OSError as exc:
            raise ResultsError(f"cannot read results file {p}: {exc.strerror}") from None
    if len(raw) > MAX_RESULTS_BYTES:
        raise ResultsError(f"{p} grew past {MAX_RESULTS_BYTES // 2**20} MiB while being read")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ResultsError(f"{p} is not a concur results file (not text)") from None
    try:
        data = json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise ResultsError(f"{p} is not a concur results file (nested too deeply)") from None
    except ValueError as exc:
        raise ResultsError(f"{p} is not a concur results file (invalid JSON: "
                           f"{getattr(exc, 'msg', exc)})") from None
    if not isinstance(data, dict) or not isinstance(data.get("tool"), dict) \
            or data["tool"].get("name") != TOOL_NAME:
        raise ResultsError(f"{p} is not a concur results file")
    return Results.from_dict(data, where=p.name)
