"""Targets import the way Python does (issue 25): `module:attr` from the current folder as
`python -m` would, a file inside a package as that package's module (relative imports
work), no PYTHONPATH needed; a failure says what was tried; the target's folder never
shadows a module concur needs later (a `gzip.py` beside the job); and the handler contract
is checked before any trial, one line per breach."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from profiler.errors import WorkloadError
from profiler.workload import Workload, load_target

CONCUR = Path(sys.executable).with_name("concur")  # the console script a user runs


@pytest.fixture
def fresh_imports(monkeypatch: pytest.MonkeyPatch):
    """Whatever a test imports or puts on sys.path is undone afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def write_package(root: Path, package: str) -> None:
    (root / package).mkdir()
    (root / package / "__init__.py").write_text("")
    (root / package / "helpers.py").write_text("def double(x):\n    return 2 * x\n")
    (root / package / "etl.py").write_text(
        "from .helpers import double\n\ndef handle(record):\n    return double(record)\n")


def user_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


# --- in this process: how a target resolves -----------------------------------------------

def test_a_module_beside_the_current_folder_loads_by_its_name(tmp_path, monkeypatch, fresh_imports):
    name = unique("job")
    (tmp_path / f"{name}.py").write_text("def handle(record):\n    return record\n")
    monkeypatch.chdir(tmp_path)
    assert load_target(f"{name}:handle").handle(3) == 3


def test_a_package_module_with_relative_imports_loads_by_dotted_name_and_by_path(
        tmp_path, monkeypatch, fresh_imports):
    package = unique("jobs")
    write_package(tmp_path, package)
    monkeypatch.chdir(tmp_path)
    assert load_target(f"{package}.etl:handle").handle(2) == 4
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    by_path = load_target(f"{tmp_path / package / 'etl.py'}:handle")
    assert by_path.handle(5) == 10
    assert by_path.handle.__module__ == f"{package}.etl"  # the package's module, not a copy


def test_a_package_file_may_also_import_its_siblings_by_plain_name(tmp_path, fresh_imports):
    """`python path/to/pkg/job.py` has the file's folder on the path: `import helpers` of a
    sibling keeps working when the file is imported as the package's module."""
    package = unique("jobs")
    write_package(tmp_path, package)
    (tmp_path / package / "plain.py").write_text(
        "import helpers\nfrom .helpers import double\n\ndef handle(record):\n"
        "    return helpers.double(record) + double(record)\n")
    assert load_target(f"{tmp_path / package / 'plain.py'}:handle").handle(1) == 4


def test_the_targets_folder_is_last_on_the_path_once_it_is_imported(tmp_path, fresh_imports):
    name = unique("job")
    (tmp_path / f"{name}.py").write_text("def handle(record):\n    return record\n")
    load_target(f"{tmp_path / name}.py:handle")
    assert sys.path[-1] == str(tmp_path)
    assert str(tmp_path) not in sys.path[:-1]


def test_a_missing_module_says_where_it_was_looked_for(tmp_path, monkeypatch, fresh_imports):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WorkloadError) as err:
        load_target("no_such_job:handle")
    message = str(err.value)
    assert "no module named 'no_such_job'" in message
    assert f"no_such_job.py and no_such_job/ in the current folder ({tmp_path})" in message


def test_a_relative_import_outside_a_package_says_the_folder_is_not_one(tmp_path, fresh_imports):
    job = tmp_path / "job.py"
    job.write_text("from .helpers import double\n")
    with pytest.raises(WorkloadError) as err:
        load_target(f"{job}:handle")
    assert f"{tmp_path} has no __init__.py" in str(err.value)


@pytest.mark.parametrize(("source", "needle"), [
    ("def handle(record, ctx):\n    pass\n", "takes two required arguments, (record, ctx), but nothing makes a ctx"),
    ("class handle:\n    pass\n", "handle is a class; concur calls a function once per record"),
    ("def handle(record):\n    yield record\n", "is a generator function (it yields)"),
    ("async def handle(record):\n    yield record\n", "is an async generator"),
    ("def handle():\n    pass\n", "cannot be called as handle(record) or handle(record, ctx)"),
    ("def handle(a, b, c):\n    pass\n", "cannot be called as handle(record) or handle(record, ctx)"),
])
def test_a_handler_that_breaks_the_contract_is_refused_before_any_trial(tmp_path, fresh_imports,
                                                                          source, needle):
    job = tmp_path / "job.py"
    job.write_text(source)
    with pytest.raises(WorkloadError) as err:
        load_target(f"{job}:handle")
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("source", [
    "def handle(record):\n    return record\n",
    "async def handle(record):\n    return record\n",
    "def handle(record, ctx=None):\n    return record\n",
    "class Job:\n    def __call__(self, record):\n        return record\nhandle = Job()\n",
])
def test_the_handler_forms_the_readme_documents_load(tmp_path, fresh_imports, source):
    job = tmp_path / "job.py"
    job.write_text(source)
    assert load_target(f"{job}:handle").name == "handle"


def test_a_workload_whose_handle_takes_a_ctx_needs_a_setup():
    def handle(record, ctx):
        return record

    with pytest.raises(WorkloadError, match="nothing makes a ctx"):
        Workload("etl", handle=handle)
    assert Workload("etl", handle=handle, setup=lambda: object()).handle is handle


# --- as a user runs it: the console script, no PYTHONPATH ----------------------------------

@pytest.mark.slow
def test_concur_run_module_colon_function_from_the_folder_holding_it(tmp_path):
    """`concur run job:handle` beside job.py; a `gzip.py` there (named like the standard
    library) does not break concur drawing the report."""
    (tmp_path / "job.py").write_text("def handle(record):\n    return record\n")
    (tmp_path / "gzip.py").write_text("raise RuntimeError('the user gzip.py was imported')\n")
    proc = subprocess.run([str(CONCUR), "run", "job:handle", "--models", "sequential",
                           "--concurrency", "1", "--records", "20", "-q", "--out", "out"],
                          cwd=tmp_path, env=user_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "index.html").is_file()
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_concur_run_a_package_handler_with_relative_imports_without_pythonpath(tmp_path):
    """By dotted name from the folder above the package, and by path from anywhere: the
    trial's own process imports it the same way (a trial that could not would fail)."""
    write_package(tmp_path, "jobs")
    for target, cwd in (("jobs.etl:handle", tmp_path), (f"{tmp_path}/jobs/etl.py:handle", "/")):
        proc = subprocess.run([str(CONCUR), "run", target, "--models", "threads",
                               "--concurrency", "2", "--records", "20", "-q", "--no-report",
                               "--json", str(tmp_path / "r.json")],
                              cwd=cwd, env=user_env(), capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, (target, proc.stderr)
        assert json.loads((tmp_path / "r.json").read_text())["trials"][0]["status"] == "ok"
