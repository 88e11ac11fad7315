"""The package's shape, checked: one-way imports, no cycles, and a model is one module."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from profiler.api import profile
from profiler.models import MODELS, default_models, register
from profiler.report.html import render_report
from profiler.run.options import RunOptions
from tests.conftest import CORE
from tests.report_fixtures import Page
from tests.workloads.fake_model import RelayModel

ROOT = Path(__file__).resolve().parents[1]


def test_imports_flow_one_way_without_cycles():
    """The import-linter contracts in pyproject.toml: measurement never imports analysis,
    reports or the gate; no module imports a higher layer; no package has a cycle."""
    lint = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    proc = subprocess.run([lint], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 kept, 0 broken" in proc.stdout


@pytest.fixture
def relay():
    model = register(RelayModel())
    yield model
    del MODELS[model.name]


@pytest.mark.shared  # 8 waiting threads against 1: no neighbour closes that gap
@pytest.mark.slow
def test_a_registered_model_is_swept_judged_and_reported_without_other_edits(relay, tmp_path):
    assert relay.name in default_models()
    results = profile(f"{CORE}:sleep_10ms", RunOptions(models=["sequential", "relay"], budget_s=12))
    relay_trials = [t for t in results.trials if t.model == "relay"]
    assert relay_trials and all(t.ok for t in relay_trials), [t.status_detail for t in relay_trials]
    assert any(e.model == "relay" for e in results.sweep_log)  # the sweep climbed it
    assert "relay" in results.scaling  # the verdict fitted it
    assert results.recommendation.model == "relay"  # 10 ms sleeps: 8 threads beat one
    page = Page(render_report(results, tmp_path).read_text(encoding="utf-8"))
    assert "relay×8" in page.text or "relay×4" in page.text
    assert page.rows["trials"] == len(results.trials)
