"""The library: everything `concur` does, as calls (the CLI only parses flags and prints).

    from profiler import profile, gate, compare, load_results

    results = profile("jobs.py:handle", budget_s=30, dsn="postgresql://…")  # or a function
    outcome = gate("jobs_old.py:handle", "jobs.py:handle")        # outcome.passed: exit 0 or 1
    diff = compare("a/results.json", "b/results.json")            # diff.verdict, diff.deltas
    again = load_results("reports/job-…/results.json")            # its standings judged

A target is a `"file.py:func"` or `"package.module:func"` string, or the function (or
`Workload`-returning attribute) itself when it lives at module level of an importable
file: every trial runs in a fresh process, which imports the target by name. Options are
`RunOptions`' fields (the CLI's flags: `models`, `concurrency`, `records`, `total`,
`budget_s`, `dsn`, …); `records` may also be the records themselves (any iterable).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from profiler.analysis.compare import CompareOutcome, compare_runs
from profiler.analysis.standings import table
from profiler.errors import ConfigError
from profiler.measure.session import Progress
from profiler.results import Results
from profiler.results import load_results as read_results
from profiler.review.decision import GateOutcome, Thresholds, judge
from profiler.review.measure import GateSpec, measure_sides
from profiler.run.options import RunOptions
from profiler.runner import run_profile

Target = str | Callable[..., Any]


def profile(target: Target, options: RunOptions | None = None, progress: Progress | None = None,
            **kwargs: Any) -> Results:
    """Run `target` under the concurrency models and return the analysed Results.

    `profile("jobs.py:handle", concurrency=[1, 4, 16], records=500)` is the same run as
    `concur run jobs.py:handle --concurrency 1,4,16 --records 500`; `profile(handle,
    records=rows, dsn=…)` runs a function object on those records against that database.
    A KeyboardInterrupt stops the run; the results measured so far are returned with
    `interrupted=True` (and are already on disk when `json_path` is set).
    """
    records = kwargs.pop("records", None)
    if records is not None and not isinstance(records, int):
        if isinstance(records, str | bytes) or not isinstance(records, Iterable):
            raise ConfigError(f"records must be a number or an iterable of records, not {records!r}")
        kwargs["input_rows"] = tuple(records)
    elif records is not None:
        kwargs["records"] = records
    _known(kwargs, RunOptions, "profile")
    options = replace(options, **kwargs) if options else RunOptions(**kwargs)
    return run_profile(target_name(target), options, progress)


def gate(baseline: Target | str | Path | None, candidate: Target | str | Path | None,
         thresholds: Thresholds | None = None, progress: Progress | None = None,
         **kwargs: Any) -> GateOutcome:
    """The review gate: measure (or load, for a results.json) both sides and judge the
    candidate against the baseline. `outcome.status` ("passed", "failed", "inconclusive")
    is the exit code's decision; `kwargs` are `GateSpec`'s fields (`repeats`, `budget_s`,
    `baseline_config`, `dsn`, `baseline_rev`: the other side's target at a git revision, …)."""
    _known(kwargs, GateSpec, "gate")
    spec = GateSpec(_side(baseline), _side(candidate), **kwargs)
    return run_gate(spec, thresholds or Thresholds(),
                    "defaults" if thresholds is None else "given", progress)


def run_gate(spec: GateSpec, thresholds: Thresholds, source: str,
             progress: Progress | None = None) -> GateOutcome:
    """`gate` from a complete spec (what `concur gate` builds from its flags)."""
    m = measure_sides(spec, progress)
    return judge(m.baseline, m.candidate, thresholds, source,
                 configs=(m.configs["baseline"], m.configs["candidate"]),
                 chosen_by=(m.how["baseline"], m.how["candidate"]), total=spec.total,
                 unfinished=m.unfinished, notes=m.notes)


def compare(baseline: Results | str | Path, candidate: Results | str | Path,
            labels: tuple[str, str] = ("baseline", "candidate")) -> CompareOutcome:
    """Two runs (Results or results.json paths) side by side, each at its fastest eligible
    configuration, every difference judged on the noise of the repeats."""
    a, b = (r if isinstance(r, Results) else load_results(r) for r in (baseline, candidate))
    return compare_runs(a, b, labels)


def load_results(path: str | Path) -> Results:
    """Read a results.json; a file written before the standings were stored (schema 1
    and 2) has them judged now, under the constraints its recommendation recorded."""
    results = read_results(path)
    if results.standings is None:
        rec = results.recommendation
        table(results, rec.constraints if rec is not None else None)
    return results


def target_name(target: Target) -> str:
    """A target as the string a trial's fresh process can import it by."""
    if isinstance(target, str):
        return target
    if not callable(target):
        raise ConfigError(f"a target is a 'file.py:func' string or a function, not {target!r}")
    module, qualname = getattr(target, "__module__", None), getattr(target, "__qualname__", "")
    if not module or not qualname or "<" in qualname:
        raise ConfigError(f"{qualname or target!r} cannot be imported by name by the trials' fresh "
                          "processes: define it at module level of a file")
    if module == "__main__":
        path = getattr(sys.modules["__main__"], "__file__", None)
        if not path:
            raise ConfigError(f"{qualname} is defined in an interactive session: the trials' "
                              "fresh processes cannot import it; put it in a file")
        return f"{Path(path).resolve()}:{qualname}"
    return f"{module}:{qualname}"


def _side(side: Target | str | Path | None) -> str | None:
    if side is None:
        return None
    return str(side) if isinstance(side, Path) else target_name(side)


def _known(kwargs: dict[str, Any], cls: type, call: str) -> None:
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(kwargs) - names)
    if unknown:
        raise ConfigError(f"{call}() got unknown option(s) {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(names))})")
