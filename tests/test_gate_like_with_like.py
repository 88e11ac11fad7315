"""The gate compares like with like at its DEFAULT budget and grid (issue 22): a target gated
against itself is measured at the same configurations on both sides and passes. Real
trials; the 3×-slower case at the default budget is in `test_gate_revision.py`."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli, target


@pytest.mark.slow
def test_a_sleep_handler_gated_against_itself_at_the_default_budget_passes(tmp_path):
    out = tmp_path / "gate.json"
    proc = run_cli("gate", "--baseline", target("sleep_10ms"), "--candidate", target("sleep_10ms"),
                   "--no-report", "--json", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())
    assert data["status"] == "passed" and data["unfinished"] == []
    shared = next(n for n in data["notes"] if n.startswith("like with like: both sides measured at "))
    for side in ("baseline", "candidate"):
        assert len(data[side]["throughput_rps"]) == 5  # --repeat's default, interleaved
        label = f"{data[side]['model']}×{data[side]['concurrency']}"
        assert label in shared, (label, shared)
