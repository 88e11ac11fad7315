"""`render_report`: one results file → a folder a reviewer can open from disk.

The folder holds `index.html` (CSS and script inline, plots as PNG files beside it,
no network request of any kind), the PNGs, `results.json` and `summary.md`. Every file
goes through `write_atomic`, so an interrupted render never leaves half a file.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Sequence
from pathlib import Path

import jinja2

from profiler.files import write_atomic
from profiler.report import plots as plotting
from profiler.report.cells import Plot
from profiler.report.markdown import summary_markdown
from profiler.report.views import build_report
from profiler.results import Results

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_template(name: str, **context: object) -> str:
    return _ENV.get_template(name).render(**context)


def save_png(fig: plotting.Figure, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=plotting.DPI, facecolor="white")
    return write_atomic(path, buf.getvalue())


def render_plots(data: Results | Sequence[plotting.Run], out_dir: Path) -> tuple[Plot, ...]:
    """Draw every plot into out_dir; a plot without data becomes a note saying why."""
    views = []
    for spec in plotting.PLOTS:
        png = out_dir / f"{spec.key}.png"
        try:
            fig = spec.make(data)
        except plotting.NoData as why:
            png.unlink(missing_ok=True)  # a stale plot from an earlier render would mislead
            views.append(Plot(spec.key, spec.title, None, "", spec.caption, str(why)))
            continue
        save_png(fig, png)
        views.append(Plot(spec.key, spec.title, png.name, _alt(spec, fig), spec.caption))
    return tuple(views)


def _alt(spec: plotting.PlotSpec, fig: plotting.Figure) -> str:
    axes = fig.axes[0]
    return f"{spec.title}: {axes.get_ylabel()} against {axes.get_xlabel() or fig.axes[-1].get_xlabel()}"


def render_report(results: Results, out_dir: Path, source_dir: Path | None = None) -> Path:
    """Write index.html, the PNG plots, results.json and summary.md; return index.html's path.

    `source_dir` (where the results file was read from) supplies the attribution's flame
    graphs and speedscope files when the report goes to another folder."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    copy_attribution_files(results, source_dir, out_dir)
    plots = render_plots(results, out_dir)
    report = build_report(results, plots, exists=lambda name: (out_dir / name).is_file())
    results.save(out_dir / "results.json")
    write_atomic(out_dir / "summary.md", summary_markdown(results))
    return write_atomic(out_dir / "index.html", render_template("index.html.j2", report=report))


def copy_attribution_files(results: Results, source_dir: Path | None, out_dir: Path) -> None:
    """Bring the files the attribution entries name (relative paths) beside the report."""
    if source_dir is None or Path(source_dir).resolve() == out_dir.resolve():
        return
    for entry in results.attribution:
        for name in (entry.flamegraph, entry.speedscope):
            if not name or Path(name).is_absolute() or ".." in Path(name).parts:
                continue
            src, dst = Path(source_dir) / name, out_dir / name
            if src.is_file() and not dst.exists():
                shutil.copyfile(src, dst)
