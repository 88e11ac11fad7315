"""A profiling session: runs trials one after another and keeps results.json current.

The file is rewritten (atomically) after every trial, skip and sweep decision, so a
Ctrl-C, a crash of concur itself or a killed CI job keeps everything measured so far.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from profiler import format as fmt
from profiler.errors import ServiceLost
from profiler.measure.trial import TrialSpec, run_trial
from profiler.results import Results, Skipped, SweepEvent, Trial

SERVICE_LOST = "service-lost"  # a trial status: the run's service stopped under it


class Progress(Protocol):
    # `calibration`: the sweep's first, tiny trial, shown as such and kept out of the results.
    def trial_started(self, spec: TrialSpec, planned: int | None, calibration: bool = False) -> None: ...

    def trial_finished(self, trial: Trial) -> None: ...

    def note(self, message: str) -> None: ...


class SilentProgress:
    def trial_started(self, spec: TrialSpec, planned: int | None, calibration: bool = False) -> None:
        pass

    def trial_finished(self, trial: Trial) -> None:
        pass

    def note(self, message: str) -> None:
        pass


@dataclass
class Session:
    results: Results
    json_path: Path | None = None
    progress: Progress = field(default_factory=SilentProgress)
    trial_runner: Callable[[TrialSpec, Any], Any] = run_trial
    probe_factory: Callable[[], Any] | None = None  # Workload.probe: one fresh probe per trial
    clock: Callable[[], float] = time.monotonic
    # Why a service the trials need has stopped (None while it runs): `run.service`.
    service_down: Callable[[], str | None] | None = None
    _t0: float = field(default=0.0, init=False)
    _short_said: bool = field(default=False, init=False)
    _unsaved_said: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self._t0 = self.clock()

    @property
    def elapsed_s(self) -> float:
        return self.clock() - self._t0

    def run(self, spec: TrialSpec, planned: int | None = None, keep: bool = True) -> Trial:
        """Run one trial; `keep=False` (calibration) shows it but keeps it out of the results."""
        self.progress.trial_started(spec, planned, calibration=not keep)
        probe = self.probe_factory() if self.probe_factory is not None else None
        if self.service_down is not None:
            outcome = self.trial_runner(spec, probe, service_down=self.service_down)  # type: ignore[call-arg]
        else:
            outcome = self.trial_runner(spec, probe)
        self._say_short(spec, outcome.trial)
        if not keep:
            self.progress.trial_finished(outcome.trial)
            return outcome.trial
        index = len(self.results.trials)
        self.results.trials.append(outcome.trial)
        if outcome.samples and outcome.samples.get("t_s"):
            self.results.samples.append({"trial": index, **outcome.samples})
        self.save()
        self.progress.trial_finished(outcome.trial)
        if outcome.trial.status == SERVICE_LOST:  # measured against a dead server: stop here
            why = (self.service_down() if self.service_down else None) or outcome.trial.status_detail
            raise ServiceLost(f"{why} during {outcome.trial.label}")
        return outcome.trial

    def _say_short(self, spec: TrialSpec, trial: Trial) -> None:
        """Once per run: the records ran out before a trial had as many as it asked for."""
        if self._short_said or not trial.ok or not 0 < trial.records < spec.records:
            return
        self._short_said = True
        self.log("records", f"{trial.label} asked for {spec.records:,} records and got "
                 f"{trial.records:,}: the workload's records (records() or --input) ran out; "
                 "trials measure what there is", trial.model, trial.concurrency)
        self.progress.note(f"only {trial.records:,} records exist (a trial asked for "
                           f"{spec.records:,}): trials measure what there is")

    def skip(self, model: str, concurrency: int | None, reason: str) -> None:
        self.results.skipped.append(Skipped(model, concurrency, reason))
        self.progress.note(f"skipped {fmt.config(model, concurrency)}: {reason}")
        self.save()

    def log(self, event: str, message: str, model: str | None = None,
            concurrency: int | None = None) -> None:
        """One sweep decision, in the results so a reader can see why the sweep went where it did."""
        self.results.sweep_log.append(
            SweepEvent(round(self.elapsed_s, 3), event, model, concurrency, message))
        self.save()

    def save(self) -> None:
        """results.json rewritten; a write that fails (a full disk) is said once and the run
        goes on: what was measured stays in memory, written at the end where it can be."""
        if self.json_path is None:
            return
        try:
            self.results.save(self.json_path)
        except OSError as exc:
            if not self._unsaved_said:
                self._unsaved_said = True
                self.progress.note(f"cannot write {exc.filename}: {exc.strerror}; the run goes on, "
                                   "its results stay in memory and are written at the end wherever "
                                   "they can be")


def keep_results(results: Results, path: str | Path, progress: Progress) -> Path:
    """Write results.json at `path`; when that fails (a full disk), write it to the temp
    folder instead and say where, so nothing measured is lost. Raises only when neither
    can be written."""
    try:
        return results.save(path)
    except OSError as exc:
        fallback = Path(tempfile.gettempdir()) / f"concur-results-{os.getpid()}-{int(time.time())}.json"
        try:
            saved = results.save(fallback)
        except OSError:
            raise exc from None
        progress.note(f"cannot write {exc.filename}: {exc.strerror}; the results were saved to "
                      f"{saved} instead")
        return saved
