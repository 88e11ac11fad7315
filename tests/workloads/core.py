"""Labelled handlers for the measurement-core tests: each one is what its name says."""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import os
import socket
import time


def spin(seconds: float) -> int:
    """Pure-Python CPU for about `seconds` (holds the GIL the whole time)."""
    end = time.thread_time() + seconds
    x = 0
    while time.thread_time() < end:
        for i in range(200):
            x += i * i
    return x


def sleep_10ms(record):
    time.sleep(0.010)


def cpu_3ms(record):
    spin(0.003)


async def async_sleep_10ms(record):
    await asyncio.sleep(0.010)


async def async_cpu_5ms(record):
    spin(0.005)  # computes inside the loop: blocks every other task


def _port() -> int:
    return int(os.environ["CONCUR_TEST_PORT"])


def tcp_hold_20ms(record):
    with socket.create_connection(("127.0.0.1", _port())) as s:
        time.sleep(0.020)
        s.sendall(b"x")


async def async_tcp_hold_20ms(record):
    reader, writer = await asyncio.open_connection("127.0.0.1", _port())
    await asyncio.sleep(0.020)
    writer.write(b"x")
    await writer.drain()
    writer.close()
    await writer.wait_closed()


def raises_every_third(record):
    if record % 3 == 0:
        raise ValueError(f"bad record {record}")
    if record % 3 == 1 and record % 5 == 0:
        raise KeyError(record)
    time.sleep(0.001)


def raises_always(record):
    raise RuntimeError("database is down")


def crashes_in_worker_processes(record):
    """Segfaults only inside a processes-model worker: the other models run fine."""
    if multiprocessing.current_process().name.startswith("concur-proc"):
        ctypes.string_at(0)  # SIGSEGV
    time.sleep(0.001)


def exits_hard(record):
    os._exit(7)


def hangs(record):
    time.sleep(3600)


class Unpicklable:
    def __init__(self, i):
        self.i = i
        self.lock = __import__("threading").Lock()


def unpicklable_records(n):
    return [Unpicklable(i) for i in range(n)]


from profiler import Workload  # noqa: E402

unpicklable = Workload("unpicklable", handle=lambda r: time.sleep(0.001), records=unpicklable_records)
