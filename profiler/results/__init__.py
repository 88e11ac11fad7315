"""The results file: trials, samples and the typed verdict (see `file.Results`)."""

from profiler.results.file import (
    READABLE_VERSIONS,
    SCHEMA_VERSION,
    TOOL_NAME,
    Results,
    load_results,
    standings_of,
)
from profiler.results.sections import (
    Attribution,
    Classification,
    Constraints,
    Decomposition,
    Exclusion,
    PredictionRow,
    Predictions,
    Recommendation,
    ScalingFit,
    ScalingPoint,
    Story,
    StorySide,
    SweepEvent,
    TopFunction,
    Validation,
    YappiRow,
)
from profiler.results.standings import (
    Choice,
    Config,
    Standing,
    StandingRow,
    Standings,
    Tie,
)
from profiler.results.trial import (
    TRIAL_COLUMNS,
    TRIAL_STATUSES,
    Environment,
    Skipped,
    Trial,
    WorkloadInfo,
)

__all__ = [
    "READABLE_VERSIONS", "SCHEMA_VERSION", "TOOL_NAME", "TRIAL_COLUMNS", "TRIAL_STATUSES",
    "Attribution", "Choice", "Classification", "Config", "Constraints", "Decomposition", "Environment", "Exclusion",
    "PredictionRow", "Predictions", "Recommendation", "Results", "ScalingFit", "ScalingPoint",
    "Skipped", "Standing", "StandingRow", "Standings", "Story", "StorySide", "Tie", "SweepEvent", "TopFunction", "Trial", "Validation",
    "WorkloadInfo", "YappiRow", "load_results", "standings_of",
]
