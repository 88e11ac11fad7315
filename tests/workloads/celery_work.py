"""Handlers for the celery model tests: I/O-like sleeps, tiny CPU work, a worker that dies."""

from __future__ import annotations

import os
import time

from tests.workloads.dask_work import kill_once, spin


def sleep_10ms(record):
    time.sleep(0.010)


def sleep_100ms(record):
    time.sleep(0.100)


def tiny_50us(record):
    spin(0.00005)


def _in_celery_task() -> bool:
    from celery import current_task

    return bool(current_task)


def dies_once(record):
    """SIGKILLs its celery worker on record 20, once per marker file ($CONCUR_TEST_KILL_MARKER)."""
    marker = os.environ.get("CONCUR_TEST_KILL_MARKER")
    if record == 20 and marker and _in_celery_task():
        kill_once(marker)
    time.sleep(0.005)


def sleep_50ms(record):
    time.sleep(0.050)
