"""Reports a reviewer can read: HTML with plots, a markdown summary, side-by-side compare.

Reports only read `Results` (and the verdict dicts `profiler.analysis` put in it); they
never run a workload. Everything is written through `write_atomic`.

    render_report(results, out_dir) -> Path            # out_dir/index.html
    render_compare(a, b, out_dir, labels) -> CompareOutcome
    summary_markdown(results) -> str
"""

from profiler.report.compare import CompareOutcome, Delta, render_compare
from profiler.report.html import render_report
from profiler.report.markdown import summary_markdown

__all__ = ["CompareOutcome", "Delta", "render_compare", "render_report", "summary_markdown"]
