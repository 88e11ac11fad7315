"""Holds an embedded PostgreSQL until a signal ends this process: the signal tests' subject.
Prints the postmaster's pid and the server's folder, then waits."""

from __future__ import annotations

import time

from profiler.scenarios.pg_embedded import embedded_postgres

if __name__ == "__main__":
    with embedded_postgres(max_connections=10) as server:
        print(server.pid, server.folder, flush=True)
        time.sleep(120)
