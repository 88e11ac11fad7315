"""Half CPU, half waiting: parse a batch of CSV rows, wait on a lookup as long, write.

Per record: parse and validate 400 CSV lines in Python and aggregate them (CPU, holding
the GIL; 1–3 ms depending on the machine), wait on a "remote lookup" for as long as the
parse took on CPU (`time.sleep`, or `asyncio.sleep` in the async handle), then append
one summary line to the worker's output file. Half the time on CPU on any machine, so
concur should call it mixed: threads help until the CPU half saturates one core;
processes help further on a second core. (A fixed 3 ms lookup made it io-bound on a
machine that parses in 1 ms: CPU fraction 0.26, not the half it is built to be.)

`concur run scenarios/mixed_etl.py --models sequential,threads,processes,asyncio --concurrency 2,4`
"""

from __future__ import annotations

import asyncio
import csv
import os
import tempfile
import time
from typing import Any, TextIO

from profiler.workload import Workload

LOOKUP_MIN_S = 0.0005  # a lookup is never instant, even after a parse the clock missed
ROWS = 400  # CSV lines per record: sets the CPU per record
_HEADER = "id,region,sku,qty,price,status\n"
_REGIONS = ("north", "south", "east", "west")
_STATUS = ("ok", "ok", "ok", "late", "returned")


def batch(record: int) -> str:
    lines = [_HEADER]
    for i in range(ROWS):
        k = record * ROWS + i
        lines.append(f"{k},{_REGIONS[k % 4]},SKU-{k % 997:04d},{k % 9 + 1},"
                     f"{(k * 37) % 10000 / 100:.2f},{_STATUS[k % 5]}\n")
    return "".join(lines)


def parse(record: int) -> dict[str, Any]:
    totals: dict[str, float] = {}
    returned = 0
    for row in csv.DictReader(batch(record).splitlines()):
        qty, price = int(row["qty"]), float(row["price"])
        if qty <= 0 or price < 0 or not row["sku"].startswith("SKU-"):
            raise ValueError(f"record {record}: bad row {row['id']}")
        if row["status"] == "returned":
            returned += 1
            continue
        region = row["region"].strip().lower()
        totals[region] = round(totals.get(region, 0.0) + qty * price, 2)
    return {"record": record, "totals": totals, "returned": returned}


def _summary(result: dict[str, Any]) -> str:
    regions = ",".join(f"{k}={v}" for k, v in sorted(result["totals"].items()))
    return f"{result['record']}\t{result['returned']}\t{regions}\n"


def setup() -> TextIO:
    fd, path = tempfile.mkstemp(prefix="concur-mixed-etl-", suffix=".tsv")
    os.unlink(path)  # the worker's scratch output: gone when closed
    return os.fdopen(fd, "w")


def parse_timed(record: int) -> tuple[dict[str, Any], float]:
    """The parse and the lookup's wait: the CPU time this thread spent on the parse (not
    its wall time, which a neighbour on the GIL or the core would stretch)."""
    started = time.thread_time()
    result = parse(record)
    return result, max(time.thread_time() - started, LOOKUP_MIN_S)


def handle(record: int, out: TextIO) -> None:
    result, lookup_s = parse_timed(record)
    time.sleep(lookup_s)
    out.write(_summary(result))


async def async_handle(record: int, out: TextIO) -> None:
    result, lookup_s = parse_timed(record)
    await asyncio.sleep(lookup_s)
    out.write(_summary(result))


def teardown(out: TextIO) -> None:
    out.close()


etl = Workload(name="mixed_etl", handle=handle, async_handle=async_handle, setup=setup,
               teardown=teardown)
workload = etl
