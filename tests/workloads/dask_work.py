"""Handlers for the dask model tests: tiny per-record work, and dask workers that die."""

from __future__ import annotations

import os
import signal
import time


def spin(seconds: float) -> None:
    """Pure-Python CPU for about `seconds` (holds the GIL)."""
    end = time.thread_time() + seconds
    x = 0
    while time.thread_time() < end:
        for i in range(50):
            x += i * i


def tiny_50us(record):
    spin(0.00005)


def _in_dask_worker() -> bool:
    try:
        from distributed import get_worker

        get_worker()
        return True
    except Exception:
        return False


def kill_once(marker: str) -> None:
    """SIGKILL this process unless an earlier one already created the marker file: across
    the workers and the redelivery, the kill happens once."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return
    os.kill(os.getpid(), signal.SIGKILL)


def dies_once(record):
    """SIGKILLs its dask worker on record 20, once per marker file ($CONCUR_TEST_KILL_MARKER)."""
    marker = os.environ.get("CONCUR_TEST_KILL_MARKER")
    if record == 20 and marker and _in_dask_worker():
        kill_once(marker)
    spin(0.002)


def dies_always(record):
    """SIGKILLs whichever dask worker runs record 20: no worker can finish that task."""
    if record == 20 and _in_dask_worker():
        os.kill(os.getpid(), signal.SIGKILL)
    spin(0.002)
