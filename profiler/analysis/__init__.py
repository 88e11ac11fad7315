"""The verdict: pure functions from measured `Results` to what the user should do.

Nothing here runs a workload, touches a file or imports pandas; every function takes
numbers and returns plain dicts (the results file's verdict sections), so all of it is
tested with hand-made trials. `analyse` fills the four sections; `verdict_lines` is the
terminal text, verdict sentence first, as Clinic.js Doctor names the problem before any
chart.
"""

from __future__ import annotations

from profiler.analysis import wording
from profiler.analysis.classify import classify
from profiler.analysis.configs import MODEL_SIMPLICITY
from profiler.analysis.decompose import decompose
from profiler.analysis.predict import predict
from profiler.analysis.recommend import Constraints, recommend
from profiler.analysis.scaling import fit_scaling
from profiler.results import Results

__all__ = [
    "MODEL_SIMPLICITY",
    "Constraints",
    "analyse",
    "classify",
    "decompose",
    "fit_scaling",
    "predict",
    "recommend",
    "verdict_lines",
]


def analyse(
    results: Results,
    constraints: Constraints = Constraints(),  # noqa: B008 - frozen, immutable default
    total_records: int | None = None,
) -> Results:
    """Fill classification, scaling, recommendation and (given a total) predictions.

    Writes the sections into `results` and returns the same object, so
    `analyse(results).save(path)` works. Predictions use `total_records`, else
    `results.workload.total_records`; with neither, existing predictions are kept.
    """
    results.classification = classify(results)
    results.scaling = fit_scaling(results)
    results.recommendation = recommend(results, constraints)
    total = total_records if total_records is not None else results.workload.total_records
    if total is not None:
        results.predictions = predict(results, total)
    return results


def verdict_lines(results: Results) -> list[str]:
    """Terminal text: "<label>: <recommendation sentence>", the batch prediction for the
    recommended configuration, the classification evidence, then "warning: ..." lines.

    Sections missing from `results` are computed on the fly (default constraints) and not
    stored: printing never changes the results.
    """
    classification = results.classification or classify(results)
    recommendation = results.recommendation or recommend(results)
    title = wording.verdict_title(classification["label"], classification.get("refinements") or [])
    lines = [f"{title}: {recommendation['sentence']}"]
    prediction = _recommended_prediction(results)
    if prediction:
        lines.append(prediction)
    lines += list(classification.get("evidence") or [])
    lines += [f"warning: {text}" for text in recommendation.get("warnings") or []]
    return lines


def _recommended_prediction(results: Results) -> str | None:
    predictions = results.predictions or {}
    row = next((r for r in predictions.get("rows", []) if r.get("recommended")), None)
    if row is None or row.get("wall_s") is None:
        return None
    name = f"{row['model']}×{'unbounded' if row['concurrency'] == 0 else row['concurrency']}"
    text = (f"full batch of {wording.count(predictions['total_records'])} records: about "
            f"{wording.duration(row['wall_s'])} with {name}")
    if row.get("low_s") is not None and row.get("high_s") is not None:
        text += f" ({wording.duration(row['low_s'])} to {wording.duration(row['high_s'])})"
    elif row.get("note") == "single run":
        text += " (single run: no interval)"
    return text
