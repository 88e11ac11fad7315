"""Baseline and candidates for the gate tests: the same job, and one made 30 % slower."""

from __future__ import annotations

import time


def baseline(record):
    time.sleep(0.004)


def same_as_baseline(record):
    time.sleep(0.004)


def thirty_percent_slower(record):
    time.sleep(0.004 * 1.3)
