"""Handlers for benchmarks/overhead.py (importable by worker processes)."""

from __future__ import annotations

import asyncio
import time


def cpu_1ms(record):
    end = time.thread_time() + 0.001
    x = 0
    while time.thread_time() < end:
        for i in range(100):
            x += i * i
    return x


def sleep_2ms(record):
    time.sleep(0.002)


async def async_sleep_2ms(record):
    await asyncio.sleep(0.002)
