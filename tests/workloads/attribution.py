"""Workloads for the attribution tests (issue 8): each one's cost has a known shape."""

from __future__ import annotations

import asyncio
import json

_DOC = {"id": 0, "name": "record", "tags": ["a", "b", "c"], "score": 1.5}


async def many_tasks_little_cpu(record):
    """Thousands of these in flight: each waits 20 ms on a timer, then does ~20 µs of
    work. The event loop's bookkeeping (timers, futures, task steps) is most of the CPU."""
    await asyncio.sleep(0.020)
    json.dumps({**_DOC, "id": record})
