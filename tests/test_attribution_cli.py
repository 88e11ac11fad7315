"""`concur attribute`: one configuration's why, from the command line."""

from __future__ import annotations

import json

import pytest

from tests.conftest import CORE, run_cli


@pytest.mark.slow
def test_attribute_prints_the_gil_finding_and_writes_its_files(tmp_path):
    proc = run_cli("attribute", f"{CORE}:cpu_3ms", "--model", "threads", "--concurrency", "4",
                   "--records", "100", "--seconds", "1", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "waiting for the GIL" in proc.stdout
    entry = json.loads((tmp_path / "attribution.json").read_text())
    assert entry["model"] == "threads" and entry["gil_share"] is not None
    assert (tmp_path / entry["flamegraph"]).exists()


def test_attribute_rejects_a_concurrency_the_model_does_not_take(tmp_path):
    proc = run_cli("attribute", f"{CORE}:cpu_3ms", "--model", "threads", "--concurrency", "0",
                   "--out", str(tmp_path))
    assert proc.returncode == 2 and "threads takes concurrency" in proc.stderr
    assert "Traceback" not in proc.stderr
