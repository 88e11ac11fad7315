"""concur: which concurrency model makes this per-record batch function fastest here, and why.

Public API (`profiler.api`; everything the `concur` command does, as calls)::

    from profiler import Workload, compare, gate, load_results, profile
    results = profile("jobs.py:handle", concurrency=[1, 4, 16], records=500)
    results.standings.best                  # the judged table: best, eligible, excluded, …
    results.to_dataframe()                  # the trials as a pandas DataFrame
    outcome = gate("old.py:handle", "new.py:handle")   # outcome.passed
    diff = compare("a/results.json", "b/results.json")  # diff.verdict, diff.deltas

The names are imported on first use (PEP 562): every trial's child process imports
`profiler.measure`, and paying for the analysis and the sweep there would add ~0.1 s to
each trial.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from profiler.version import __version__

if TYPE_CHECKING:
    from profiler.api import compare, gate, load_results, profile
    from profiler.errors import ConcurError, ConfigError, InputError, ResultsError, WorkloadError
    from profiler.results import Results, Standings, Trial
    from profiler.review.decision import Thresholds
    from profiler.run.options import RunOptions
    from profiler.workload import WorkerInfo, Workload

_WHERE = {
    "profile": "profiler.api",
    "gate": "profiler.api",
    "compare": "profiler.api",
    "load_results": "profiler.api",
    "ConcurError": "profiler.errors",
    "ConfigError": "profiler.errors",
    "InputError": "profiler.errors",
    "ResultsError": "profiler.errors",
    "WorkloadError": "profiler.errors",
    "Results": "profiler.results",
    "Standings": "profiler.results",
    "Trial": "profiler.results",
    "Thresholds": "profiler.review.decision",
    "RunOptions": "profiler.run.options",
    "WorkerInfo": "profiler.workload",
    "Workload": "profiler.workload",
}

__all__ = [
    "ConcurError",
    "ConfigError",
    "InputError",
    "Results",
    "ResultsError",
    "RunOptions",
    "Standings",
    "Thresholds",
    "Trial",
    "WorkerInfo",
    "Workload",
    "WorkloadError",
    "__version__",
    "compare",
    "gate",
    "load_results",
    "profile",
]
assert set(__all__) == {*_WHERE, "__version__"}


def __dir__() -> list[str]:
    """The public names too, before their first use (so `help(profiler)` lists them)."""
    return sorted({*globals(), *__all__})


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'profiler' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
