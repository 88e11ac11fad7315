"""The report in a real browser: headless Chromium opens index.html from a file:// URL.

Checks that it renders (a screenshot of the expected size with real content) and that
the page asks for nothing over the network. Chromium's net log records every request;
the browser's own background requests (update checks, accounts) carry the initiator
"not an origin", while anything the page loads carries its opaque file origin "null".
A control page with external references proves the net-log check can see a request.
Skipped without Chromium, except in CI (CI=true), where a missing browser fails.
"""

from __future__ import annotations

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
    out = tmp_path_factory.mktemp("browser-report")
    render_report(make_results(), out)
    return out


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
