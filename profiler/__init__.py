"""concur: which concurrency model makes this per-record batch function fastest here, and why.

Public API::

    from profiler import Workload, profile, load_results
    results = profile("jobs.py:handle", concurrency=[1, 4, 16], records=500)
    results.to_dataframe()
"""

from profiler.api import profile
from profiler.errors import ConcurError, ConfigError, InputError, ResultsError, WorkloadError
from profiler.results import Results, Trial, load_results
from profiler.run.options import RunOptions
from profiler.version import __version__
from profiler.workload import WorkerInfo, Workload

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
