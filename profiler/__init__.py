"""concur: which concurrency model makes this per-record batch function fastest here, and why.

Public API::

    from profiler import Workload, profile, load_results
    results = profile("jobs.py:handle", concurrency=[1, 4, 16], records=500)
    results.to_dataframe()

The names are imported on first use (PEP 562): every trial's child process imports
`profiler.measure`, and paying for the analysis and the sweep there would add ~0.1 s to
each trial.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from profiler.version import __version__

if TYPE_CHECKING:
    from profiler.api import profile
    from profiler.errors import ConcurError, ConfigError, InputError, ResultsError, WorkloadError
    from profiler.results import Results, Trial, load_results
    from profiler.run.options import RunOptions
    from profiler.workload import WorkerInfo, Workload

_WHERE = {
    "profile": "profiler.api",
    "ConcurError": "profiler.errors",
    "ConfigError": "profiler.errors",
    "InputError": "profiler.errors",
    "ResultsError": "profiler.errors",
    "WorkloadError": "profiler.errors",
    "Results": "profiler.results",
    "Trial": "profiler.results",
    "load_results": "profiler.results",
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
    "Trial",
    "WorkerInfo",
    "Workload",
    "WorkloadError",
    "__version__",
    "load_results",
    "profile",
]
assert set(__all__) == {*_WHERE, "__version__"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'profiler' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
