"""Every renderer: the terminal (`console`), the HTML report with PNG plots (`html`,
`views`, `why`, `plots`), markdown (`markdown`) and the side-by-side compare (`compare`).

Renderers only read `Results` and the typed verdict in it; they never run a workload.
Every file is written through `profiler.files.write_atomic`. Import the renderer you need
(`profiler.report.html.render_report`, `profiler.report.compare.render_compare`): this
package imports nothing itself, so the terminal never pays for matplotlib.
"""
