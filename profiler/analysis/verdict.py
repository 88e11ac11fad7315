"""`analyse`: every verdict section of a run, in the order each needs the previous."""

from __future__ import annotations

from profiler.analysis.classify import classify
from profiler.analysis.predict import predict
from profiler.analysis.recommend import recommend
from profiler.analysis.scaling import fit_scaling
from profiler.analysis.standings import table
from profiler.analysis.story import tell
from profiler.results import Constraints, Results


def analyse(
    results: Results,
    constraints: Constraints = Constraints(),  # noqa: B008 - frozen, immutable default
    total_records: int | None = None,
) -> Results:
    """Judge the standings (`analysis.standings`), then fill classification, scaling,
    recommendation, (given a total) predictions, and the story when the run holds a job
    and its rewrite (`analysis.story`); every one of them reads the standings.

    Writes the sections into `results` and returns the same object, so
    `analyse(results).save(path)` works. Predictions use `total_records`, else
    `results.workload.total_records`; with neither, existing predictions are kept.
    """
    table(results, constraints)
    results.classification = classify(results)
    results.scaling = fit_scaling(results)
    results.recommendation = recommend(results, constraints)
    total = total_records if total_records is not None else results.workload.total_records
    if total is not None:
        results.predictions = predict(results, total)
    results.story = tell(results, total)
    return results
