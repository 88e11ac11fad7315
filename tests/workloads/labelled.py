"""Eight workloads whose nature is known by construction, for the verdict tests (issue 4).

Each name says what it is; tests assert the label concur gives it and that the
recommended model is one a performance engineer would accept for it.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import socket
import tempfile
import time

from core import spin  # noqa: I001 - concur puts a file target's folder on sys.path

_BLOB = os.urandom(2 * 2**20)


def pure_python_cpu(record):
    spin(0.003)


def native_hash(record):
    """hashlib releases the GIL for buffers over 2 KiB: threads run it in parallel."""
    hashlib.sha256(_BLOB).digest()


def blocking_sleep(record):
    time.sleep(0.010)


async def async_sleep(record):
    await asyncio.sleep(0.010)


def mixed_cpu_wait(record):
    spin(0.002)
    time.sleep(0.002)


async def async_blocks_loop(record):
    spin(0.004)  # CPU inside the coroutine: the loop can do nothing else meanwhile
    await asyncio.sleep(0.0005)


_LOCK_PATH = os.path.join(tempfile.gettempdir(), "concur-test-shared.lock")


def serialized_on_lock(record):
    """Holds an OS file lock while waiting: one at a time across threads and processes,
    like a hot database row."""
    fd = os.open(_LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        time.sleep(0.004)
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def network_request(record):
    """Request/response to a local server that answers after ~10 ms."""
    with socket.create_connection(("127.0.0.1", int(os.environ["CONCUR_TEST_PORT"]))) as s:
        s.sendall(b"ping\n")
        s.recv(16)
