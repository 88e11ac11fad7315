"""Handlers that misbehave the way real batch jobs do, for the bad-input battery.

Each is what its name says; none is meant to be measured, only survived.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from profiler import Workload

LEAK_MIB_PER_RECORD = 20


def quick(record):
    time.sleep(0.002)


def hangs(record):
    time.sleep(3600)


def hangs_with_a_child(record):
    """A handler that starts a process of its own and waits on it: it must die too."""
    subprocess.run([sys.executable, "-c", "import time; time.sleep(3600)"], check=False)


_kept: list[bytearray] = []


def leaks(record):
    """Holds LEAK_MIB_PER_RECORD MiB more after every record, never letting go."""
    block = bytearray(LEAK_MIB_PER_RECORD * 2**20)
    block[:: 4096] = b"x" * len(block[:: 4096])  # touch every page: resident, not just mapped
    _kept.append(block)
    time.sleep(0.005)


def exits_in_handler(record):
    """sys.exit() from deep inside a job: records 2, 3, 4, … exit, 0 and 1 (warm-up) do not."""
    if record >= 2:
        sys.exit(3)
    time.sleep(0.001)


def interrupts_in_handler(record):
    if record >= 2:
        raise KeyboardInterrupt("raised by the handler, not by a terminal")
    time.sleep(0.001)


def fails_with_its_dsn(record):
    """Half the records fail with the driver-style message that quotes the whole URL."""
    if record % 2:
        raise ConnectionError(f"could not connect to {os.environ.get('CONCUR_DSN', '?')}")
    time.sleep(0.001)


def always_fails(record):
    raise RuntimeError("the service is down")


def _teardown_fails(ctx):
    raise ValueError("teardown: connection already closed")


teardown_fails = Workload("teardown_fails", handle=quick, teardown=_teardown_fails)

markup_name = Workload("<script>alert(1)</script> *bold* [link](http://x)", handle=quick)
