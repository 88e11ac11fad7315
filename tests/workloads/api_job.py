"""Handlers for the library tests: called as function objects, fed records as objects."""

from __future__ import annotations

import os
import time


def tagged_only(record):
    """Raises unless the record is one of the test's own ("row", i) tuples: a run with no
    errors proves the records it was given are the records the handler saw."""
    if not (isinstance(record, tuple) and record[0] == "row"):
        raise TypeError(f"not a record the test gave: {record!r}")
    time.sleep(0.002)


def select_one(record):
    """One round trip to the database named by CONCUR_DSN (what `profile(dsn=…)` sets)."""
    import psycopg

    with psycopg.connect(os.environ["CONCUR_DSN"], connect_timeout=5) as conn:
        conn.execute("SELECT 1").fetchone()
