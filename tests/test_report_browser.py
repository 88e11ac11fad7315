"""The report in a real browser: headless Chromium opens index.html from a file:// URL.

Checks that it renders (a screenshot of the expected size with real content) and that
the page asks for nothing over the network. Chromium's net log records every request;
the browser's own background requests (update checks, accounts) carry the initiator
"not an origin", while anything the page loads carries its opaque file origin "null".
A control page with external references proves the net-log check can see a request.
Skipped without Chromium, except in CI (CI=true), where a missing browser fails.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from profiler.report.html import render_report
from tests.report_fixtures import Page, is_local_reference, make_results

pytestmark = pytest.mark.browser

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # nothing could resolve even if it tried
    "--hide-scrollbars",
)
BROWSER_INITIATOR = "not an origin"  # Chromium's own requests, not the page's
NETWORK_SCHEMES = ("http://", "https://", "ws://", "wss://", "ftp://")


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    if os.environ.get("CI") == "true":
        pytest.fail("headless Chromium is required when CI=true (apt-get install chromium)")
    pytest.skip("chromium is not installed")


def screenshot(url: str, tmp_path: Path, name: str, size: tuple[int, int]) -> tuple[Path, Path]:
    """Load url, save a screenshot and a net log; return both paths."""
    png, netlog = tmp_path / f"{name}.png", tmp_path / f"{name}.netlog.json"
    cmd = [chromium(), *FLAGS, f"--user-data-dir={tmp_path / f'{name}-profile'}",
           f"--log-net-log={netlog}", f"--screenshot={png}",
           f"--window-size={size[0]},{size[1]}", url]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, check=False)
    assert png.is_file(), f"no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}"
    assert netlog.is_file(), "chromium wrote no net log"
    return png, netlog


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


def page_requests(netlog: Path) -> list[str]:
    """Network URLs requested by the page itself (not by the browser's background jobs)."""
    text = netlog.read_text(encoding="utf-8", errors="replace").rstrip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:  # a log cut at exit lacks its closing brackets
        data = json.loads(text.rstrip(",\n") + "]}")
    start_job = data["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in data["events"]:
        params = event.get("params") or {}
        url = params.get("url", "")
        if event.get("type") == start_job and url.lower().startswith(NETWORK_SCHEMES):
            if params.get("initiator") != BROWSER_INITIATOR:
                urls.append(url)
    return urls


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory) -> Path:
    """The report fixture's run at 40× its throughput: the y axis reads up to 14,000
    records/s, tick labels wide enough to have run into the axis title (issue 25)."""
    out = tmp_path_factory.mktemp("browser-report")
    results = make_results()
    for trial in results.trials:
        trial.throughput_rps *= 40
        trial.wall_s /= 40
    fit_scaling_again(results)
    render_report(results, out)
    return out


def fit_scaling_again(results) -> None:
    from profiler.analysis.scaling import fit_scaling
    from profiler.analysis.standings import table

    table(results)  # the trials changed: judged again
    results.scaling = fit_scaling(results)


@pytest.mark.parametrize("size", [(1280, 2000), (390, 1600)], ids=["laptop", "phone"])
def test_report_renders_in_chromium_without_network(report_dir, tmp_path, size):
    index = report_dir / "index.html"
    png, netlog = screenshot(index.as_uri(), tmp_path, "report", size)
    assert png_size(png) == size
    with Image.open(png) as img:
        colours = img.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 200, "screenshot looks blank"
    assert page_requests(netlog) == []


def test_every_reference_in_the_report_is_local(report_dir):
    page = Page((report_dir / "index.html").read_text(encoding="utf-8"))
    assert page.imgs
    assert [v for _, _, v in page.links if not is_local_reference(v)] == []


def test_net_log_check_sees_a_page_that_does_reach_out(tmp_path):
    control = tmp_path / "control.html"
    control.write_text('<!doctype html><img src="http://example.invalid/a.png">'
                       '<link rel="stylesheet" href="https://fonts.example.invalid/b.css">',
                       encoding="utf-8")
    _, netlog = screenshot(control.as_uri(), tmp_path, "control", (400, 300))
    assert sorted(page_requests(netlog)) == ["http://example.invalid/a.png",
                                             "https://fonts.example.invalid/b.css"]


# --- layout at phone and laptop widths, and the interactive parts (issue 16) -------------

LAYOUT_CHECK = """
<script>
/* Injected by the test (never part of a report): measures the page once it has loaded,
   hovers a chart point, sorts the trial table, and writes what it saw into the DOM. */
window.addEventListener("load", function () {
  var r = {width: window.innerWidth,
           overflow: document.documentElement.scrollWidth - window.innerWidth};
  var svg = Array.prototype.find.call(document.querySelectorAll("svg.chart"),
                                      function (s) { return s.getBoundingClientRect().width > 0; });
  r.chart = svg ? svg.getAttribute("class") : null;
  r.outside = []; r.minText = 1e9; r.overlaps = [];
  if (svg) {
    var box = svg.getBoundingClientRect();
    /* Each axis title has a band of its own: the y title left of every y tick label, the
       x title below every x tick label (wherever the ticks happen to fall). */
    var titles = svg.querySelectorAll(".axis-title");
    var xt = titles[0].getBoundingClientRect(), yt = titles[1].getBoundingClientRect();
    svg.querySelectorAll(".ticks text").forEach(function (t) {
      var b = t.getBoundingClientRect(), anchor = t.getAttribute("text-anchor");
      if (anchor === "end" && b.left < yt.right) r.overlaps.push(titles[1].textContent + " / " + t.textContent);
      if (anchor === "middle" && b.bottom > xt.top) r.overlaps.push(titles[0].textContent + " / " + t.textContent);
    });
    svg.querySelectorAll("text").forEach(function (t) {
      var b = t.getBoundingClientRect();
      if (b.left < box.left - 1 || b.right > box.right + 1 || b.top < box.top - 1 ||
          b.bottom > box.bottom + 1) r.outside.push(t.textContent);
      r.minText = Math.min(r.minText, b.height);
    });
    var pt = svg.querySelectorAll(".pt")[2];
    pt.dispatchEvent(new MouseEvent("mouseover", {bubbles: true}));
    r.readout = document.querySelector(".readout").textContent;
    r.expected = pt.getAttribute("data-readout");
  }
  r.imgs = Array.prototype.map.call(document.querySelectorAll("figure img"), function (i) {
    return [i.naturalWidth, Math.round(i.getBoundingClientRect().width)]; });
  var th = Array.prototype.find.call(document.querySelectorAll("#trials th"),
                                     function (h) { return h.textContent.trim() === "Throughput"; });
  th.querySelector("button").click();
  r.sort = th.getAttribute("aria-sort");
  r.sorted = Array.prototype.map.call(document.querySelectorAll("#trials tbody tr"),
                                      function (tr) { return tr.cells[th.cellIndex].getAttribute("data-sort"); });
  parent.postMessage(JSON.stringify(r), "*");  /* to the host page, which --dump-dom prints */
});
</script>
"""
# Headless Chromium's window is at least 500 px wide: the page goes in an iframe of the exact
# width (media queries follow the iframe's viewport), and reports back by postMessage.
HOST = """<!doctype html><html><body style="margin:0">
<iframe src="{src}" style="width:{width}px;height:2000px;border:0"></iframe>
<script>
window.addEventListener("message", function (e) {{
  var pre = document.createElement("pre"); pre.id = "layout-check"; pre.textContent = e.data;
  document.body.appendChild(pre);
}});
</script></body></html>
"""


def measure_layout(report_dir: Path, tmp_path: Path, width: int) -> tuple[dict, list[str]]:
    """Open a copy of index.html with LAYOUT_CHECK added, `width` px wide; its findings and
    the requests the page made."""
    page = report_dir / f"index-check-{width}.html"
    page.write_text((report_dir / "index.html").read_text(encoding="utf-8")
                    .replace("</body>", LAYOUT_CHECK + "</body>"), encoding="utf-8")
    host = report_dir / f"host-{width}.html"
    host.write_text(HOST.format(src=page.name, width=width), encoding="utf-8")
    netlog = tmp_path / f"layout-{width}.netlog.json"
    cmd = [chromium(), *FLAGS, f"--user-data-dir={tmp_path / f'layout-{width}-profile'}",
           f"--log-net-log={netlog}", "--virtual-time-budget=8000",
           f"--window-size={max(width, 500) + 20},2000", "--dump-dom", host.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, check=False)
    start = proc.stdout.find('<pre id="layout-check">')
    assert start >= 0, f"the check did not run (exit {proc.returncode}): {proc.stderr[-2000:]}"
    body = proc.stdout[start + len('<pre id="layout-check">'):proc.stdout.index("</pre>", start)]
    return json.loads(html.unescape(body)), page_requests(netlog)


@pytest.mark.parametrize("width", [390, 1400])
def test_plots_fit_their_boxes_and_the_interactive_parts_work_offline(report_dir, tmp_path, width):
    found, requests = measure_layout(report_dir, tmp_path, width)
    assert found["width"] == width
    assert requests == []
    assert found["overflow"] <= 0, "the page scrolls sideways: something is wider than the screen"
    # the throughput chart: the layout drawn for this width, every label inside it, ≥ 10 px
    assert found["chart"] == ("chart chart-narrow" if width < 640 else "chart chart-wide")
    assert found["outside"] == []
    assert found["overlaps"] == [], "an axis title runs into the tick labels"
    assert found["minText"] >= 10
    # hovering a point shows its values
    assert found["readout"] == found["expected"] and "records/s" in found["readout"]
    # PNG plots load; on a phone they keep a readable size and scroll sideways in their frame
    assert found["imgs"] and all(natural == 1400 for natural, _ in found["imgs"])
    shown = {w for _, w in found["imgs"]}
    assert shown == {704} if width < 640 else max(shown) <= 1024
    # the trial table sorts by throughput on a click; trials without one go last
    assert found["sort"] == "ascending"
    keys = found["sorted"]
    values = [float(v) for v in keys if v]
    assert len(values) >= 2 and values == sorted(values)
    assert all(keys[: len(values)])  # the crashed and timed-out trials (no throughput) last
