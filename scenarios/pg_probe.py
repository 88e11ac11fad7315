"""The database's side of a trial: how many connections this job held, and what they did.

Client-side counts (the TCP connections of the trial's process tree) cannot see a
connection refused with "too many clients", nor tell an idle pooled connection from a
busy one. The server can: `ActivityProbe` samples `pg_stat_activity` every ~50 ms on a
connection of its own (in a background thread of the concur parent, outside the
measured process tree), for the sessions whose `application_name` is the job's.

`stop()` returns, for `profiler.trial.run_trial`:
- `db_connections_peak`: most sessions seen at once (goes to `Trial.db_connections_peak`);
- `db_connections_mean`: sessions per sample, averaged over the window;
- `db_active_peak`, `db_idle_peak`, `db_idle_in_transaction_peak`: peaks per state;
- `db_waits`: session-samples of *active* sessions by `wait_event_type` ("CPU" when not
  waiting: running or runnable), e.g. {"CPU": 40, "Client": 12, "Lock": 3};
- `db_samples`: samples taken, and `db_probe_error` if sampling stopped early.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

DEFAULT_INTERVAL_S = 0.05
PROBE_APPLICATION_NAME = "concur_probe"

_QUERY = """
SELECT state, wait_event_type, count(*)
FROM pg_stat_activity
WHERE application_name = %s AND pid <> pg_backend_pid()
GROUP BY state, wait_event_type
"""


class ActivityProbe:
    """Samples pg_stat_activity for one application_name between start() and stop()."""

    def __init__(self, dsn: str, application_name: str = "concur_db_batch",
                 interval_s: float = DEFAULT_INTERVAL_S) -> None:
        self.dsn = dsn
        self.application_name = application_name
        self.interval_s = interval_s
        self._conn: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.samples = 0
        self.total_sessions = 0
        self.peaks: Counter[str] = Counter()
        self.waits: Counter[str] = Counter()
        self.error: str | None = None

    def start(self) -> None:
        import psycopg

        self._reset()
        self._stop.clear()
        self._conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=10,
                                     application_name=PROBE_APPLICATION_NAME)
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
            for state, wait_type, count in rows:
                total += count
                by_state[state or "unknown"] += count
                if state == "active":
                    self.waits[wait_type or "CPU"] += count
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
        try:
            if self.error is None and self._conn is not None:
                self.sample()  # the window's last instant
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        out: dict[str, Any] = {
            "db_connections_peak": self.peaks["total"],
            "db_connections_mean": round(self.total_sessions / self.samples, 2) if self.samples else None,
            "db_active_peak": self.peaks["active"],
            "db_idle_peak": self.peaks["idle"],
            "db_idle_in_transaction_peak": self.peaks["idle in transaction"],
            "db_waits": dict(self.waits.most_common()),
            "db_samples": self.samples,
        }
        if self.error:
            out["db_probe_error"] = self.error
        return out
