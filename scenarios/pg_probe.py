"""The database's side of a trial: the sessions this job held, what the server spent, what it refused.

Client-side counts (the TCP sockets of the trial's process tree) cannot see a connection
refused with "too many clients" for what it is (a refused attempt still shows as a
socket for a moment, so the client count runs up to 3× the sessions the server ever
admitted), nor tell an idle pooled connection from a busy one. The server can:
`ActivityProbe` samples `pg_stat_activity` every ~50 ms on a connection of its own (in
a background thread of the concur parent, outside the measured process tree; as the
superuser when the embedded server's CONCUR_PG_ADMIN_DSN is given, so it can connect even
when the job has taken every ordinary slot; connected before the window, it holds one of
them), for the sessions whose `application_name` is the job's.

`stop()` returns, for `profiler.measure.trial.run_trial`:
- `db_connections_peak`: most sessions admitted at once (→ `Trial.db_connections_peak`);
- `db_refused`: connection attempts the server refused during the window ("too many
  clients", "remaining connection slots are reserved", "too many connections for role"),
  counted in the server's own log (CONCUR_PG_LOG, the embedded server's) → `Trial.db_refused`, a
  cross-check of the refusals the trial counts from the driver's error (`connection_failures`);
  absent when the log cannot be read (a server given by --dsn);
- `db_server_cpu_s`: CPU seconds of the server's processes over the window (the postmaster,
  every backend, exited ones included) → `Trial.db_server_cpu_s`; only for a server on
  this machine, and it is the whole server's (other clients' sessions count too: on the
  embedded server there are none; `db_server_shared` says which);
- `db_connections_mean`, `db_active_peak`, `db_idle_peak`, `db_idle_in_transaction_peak`;
- `db_waits`: session-samples of *active* sessions by `wait_event_type` ("CPU" when not
  waiting: running or runnable), e.g. {"CPU": 40, "Client": 12, "Lock": 3};
- `db_wait_events`: the same by `type:event` (e.g. "LWLock:WALWrite"), the top ones;
- `db_samples`: samples taken, and `db_probe_error` if sampling stopped early.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

DEFAULT_INTERVAL_S = 0.05
PROBE_APPLICATION_NAME = "concur_probe"
TOP_WAIT_EVENTS = 8
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "")
# What PostgreSQL logs when it turns a connection away for lack of a slot.
REFUSED = re.compile(r"FATAL:\s+(sorry, too many clients already|remaining connection slots "
                     r"are reserved|too many connections for (role|database))")

_QUERY = """
SELECT state, wait_event_type, wait_event, count(*)
FROM pg_stat_activity
WHERE application_name = %s AND pid <> pg_backend_pid()
GROUP BY state, wait_event_type, wait_event
"""


class ServerCpu:
    """CPU seconds of a local server's processes, exited backends included (in the postmaster's
    reaped-children times), so the difference of two readings is what the server spent."""

    def __init__(self, postmaster_pid: int) -> None:
        import psutil

        self.postmaster = psutil.Process(postmaster_pid)

    @classmethod
    def of_backend(cls, conn: Any) -> ServerCpu | None:
        """The server behind this connection, when it runs on this machine and is readable."""
        import psutil

        host = conn.info.host or ""
        if not (host.startswith("/") or host in LOCAL_HOSTS or host.startswith("127.")):
            return None
        try:
            backend = psutil.Process(conn.execute("SELECT pg_backend_pid()").fetchone()[0])
            parent = backend.parent()
            if parent is None or "postgres" not in backend.name() or not (
                    "postgres" in parent.name() or "postmaster" in parent.name()):
                return None
            return cls(parent.pid)
        except (psutil.Error, OSError):
            return None

    def seconds(self) -> float:
        import psutil

        t = self.postmaster.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in self.postmaster.children():
            try:
                ct = child.cpu_times()
            except psutil.Error:
                continue  # exited between the listing and the reading: reaped into the above
            total += ct.user + ct.system
        return total


class RefusalLog:
    """Counts refused connection attempts written to the server's log after `start()`."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.offset = 0

    def start(self) -> None:
        self.offset = self.path.stat().st_size

    def count(self) -> int:
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            text = fh.read().decode("utf-8", errors="replace")
        return sum(1 for line in text.splitlines() if REFUSED.search(line))


class ActivityProbe:
    """Samples pg_stat_activity for one application_name between start() and stop()."""

    def __init__(self, dsn: str, application_name: str = "concur_db_batch",
                 interval_s: float = DEFAULT_INTERVAL_S, admin_dsn: str | None = None,
                 log_path: str | None = None) -> None:
        self.dsn = dsn
        self.admin_dsn = admin_dsn
        self.application_name = application_name
        self.interval_s = interval_s
        self.log = RefusalLog(log_path) if log_path else None
        self._conn: Any = None
        self._cpu: ServerCpu | None = None
        self._cpu_start: float | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._reset()

    @classmethod
    def from_env(cls, dsn: str, application_name: str) -> ActivityProbe:
        """The probe for this run's server: the embedded one exports its superuser DSN and log."""
        return cls(dsn, application_name, admin_dsn=os.environ.get("CONCUR_PG_ADMIN_DSN") or None,
                   log_path=os.environ.get("CONCUR_PG_LOG") or None)

    def _reset(self) -> None:
        self.samples = 0
        self.total_sessions = 0
        self.peaks: Counter[str] = Counter()
        self.waits: Counter[str] = Counter()
        self.wait_events: Counter[str] = Counter()
        self.error: str | None = None

    def start(self) -> None:
        import psycopg

        self._reset()
        self._stop.clear()
        self._conn = psycopg.connect(self.admin_dsn or self.dsn, autocommit=True, connect_timeout=10,
                                     application_name=PROBE_APPLICATION_NAME)
        self._cpu = ServerCpu.of_backend(self._conn)
        if self.log is not None:
            try:
                self.log.start()
            except OSError as exc:
                self.error, self.log = f"server log unreadable: {exc}", None
        self._cpu_start = self._cpu.seconds() if self._cpu else None
        self.sample()  # the window's first instant, before the thread's first tick
        self._thread = threading.Thread(target=self._run, name="concur-pg-probe", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        next_at = time.monotonic()
        while True:
            next_at += self.interval_s
            if self._stop.wait(max(0.0, next_at - time.monotonic())):
                return
            try:
                self.sample()
            except Exception as exc:  # a dead probe connection must not end the trial
                self.error = f"{type(exc).__name__}: {exc}"
                return

    def sample(self) -> None:
        """Take one sample now (also used by start(), stop() and tests)."""
        with self._lock:
            rows = self._conn.execute(_QUERY, (self.application_name,)).fetchall()
            total = 0
            by_state: Counter[str] = Counter()
            for state, wait_type, wait_event, count in rows:
                total += count
                by_state[state or "unknown"] += count
                if state == "active":
                    self.waits[wait_type or "CPU"] += count
                    if wait_type:
                        self.wait_events[f"{wait_type}:{wait_event}"] += count
            self.samples += 1
            self.total_sessions += total
            self.peaks["total"] = max(self.peaks["total"], total)
            for state, count in by_state.items():
                self.peaks[state] = max(self.peaks[state], count)

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        out: dict[str, Any] = {}
        try:
            if self._cpu is not None and self._cpu_start is not None:
                out["db_server_cpu_s"] = round(self._cpu.seconds() - self._cpu_start, 4)
                # The embedded server (its log given) serves this run only; any other is shared.
                out["db_server_shared"] = self.log is None
            if self.log is not None:
                out["db_refused"] = self.log.count()
            if self.error is None and self._conn is not None:
                self.sample()  # the window's last instant
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        out.update({
            "db_connections_peak": self.peaks["total"],
            "db_connections_mean": round(self.total_sessions / self.samples, 2) if self.samples else None,
            "db_active_peak": self.peaks["active"],
            "db_idle_peak": self.peaks["idle"],
            "db_idle_in_transaction_peak": self.peaks["idle in transaction"],
            "db_waits": dict(self.waits.most_common()),
            "db_wait_events": dict(self.wait_events.most_common(TOP_WAIT_EVENTS)),
            "db_samples": self.samples,
        })
        if self.error:
            out["db_probe_error"] = self.error
        return out
