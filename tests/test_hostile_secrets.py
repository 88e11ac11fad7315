"""No piece of a password reaches any artifact (issue 24 item 1): a real `concur run` and
a real `concur gate`, given a DSN whose password holds `@ : / ? # + =` (URL and key=value
forms), on a handler that prints its DSN and fails with the driver's own error. Every
stream and every file they write is searched for every 4-character piece of the password.
The table of passwords and forms is tested through `redact` in tests/test_redact.py; here
the forms go end to end.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.battery import hostile
from tests.test_redact import leaked_pieces

pytestmark = pytest.mark.slow

CASES = [  # (form, password, DSN, gate too: the gate's outputs are the same code for any form)
    ("url", "p@ss:w/rd?#x9+=Zm9vYmFy/cXV4", "postgresql://app:{pw}@127.0.0.1:1/db", True),
    ("key=value", "Kq9/zz@@x:y#W+=", "host=127.0.0.1 port=1 user=app password={pw} dbname=db", False),
]


def leaks(password: str, folder: Path, *streams: str) -> list[str]:
    found = [f"stream: {leaked_pieces(password, s)}" for s in streams if leaked_pieces(password, s)]
    for path in folder.rglob("*"):
        if path.is_file():
            pieces = leaked_pieces(password, path.read_bytes().decode("utf-8", "replace"))
            if pieces:
                found.append(f"{path.relative_to(folder)}: {pieces}")
    return found


@pytest.mark.parametrize(("form", "password", "dsn", "with_gate"), CASES, ids=[c[0] for c in CASES])
def test_no_piece_of_the_password_in_any_output_of_run_and_gate(concur, tmp_path, form, password, dsn,
                                                               with_gate):
    dsn = dsn.format(pw=password)
    job = hostile("connects_with_its_dsn")
    run = concur.run(f"run, password in {form} DSN", tmp_path / "run", "run", job, "--models",
                     "sequential", "--concurrency", "1", "--records", "20", "--dsn", dsn,
                     "--json", "-", "--out", "out")
    assert run.code == 0, run.stderr
    assert (tmp_path / "run" / "out" / "index.html").is_file()
    assert "postgresql" in run.stdout or "host=127.0.0.1" in run.stdout  # where it pointed stays
    streams = [run.stdout, run.stderr]
    if with_gate:
        streams += _gate(concur, tmp_path, form, job, dsn)
    found = leaks(password, tmp_path, *streams)
    assert not found, found


def _gate(concur, tmp_path: Path, form: str, job: str, dsn: str) -> list[str]:
    gate = concur.run(f"gate, password in {form} DSN", tmp_path / "gate", "gate", "--baseline", job,
                      "--candidate", job, "--baseline-config", "sequential:1", "--candidate-config",
                      "sequential:1", "--repeat", "2", "--records", "20", "--dsn", dsn,
                      "--markdown", "gate.md", "--junit", "gate.xml", "--json", "gate.json",
                      "--out", "out")
    assert gate.code in (0, 1), gate.stderr
    assert {"gate.md", "gate.xml", "gate.json"} <= {p.name for p in (tmp_path / "gate").iterdir()}
    return [gate.stdout, gate.stderr]
