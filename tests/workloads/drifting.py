"""A job that slows down the longer its process runs, like a table growing dead rows:
every record waits 1 ms plus 3 µs per record this process has already done. A ~1 s trial
sees the first few hundred; a long run sees thousands, and goes several times slower."""

from __future__ import annotations

import itertools
import time

_done = itertools.count()


def handle(record):
    time.sleep(0.001 + 3e-6 * next(_done))
