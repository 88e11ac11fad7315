"""Half CPU, half waiting: parse a batch of CSV rows (~3 ms), wait on a lookup (3 ms), write.

Per record: parse and validate 400 CSV lines in Python and aggregate them (CPU, holding
the GIL), wait 3 ms for a "remote lookup" (`time.sleep`, or `asyncio.sleep` in the
async handle), then append one summary line to the worker's output file. With about
half the time on CPU, concur should call it mixed: threads help until the CPU half
saturates one core; processes help further on a second core.

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

LOOKUP_S = 0.003
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


def handle(record: int, out: TextIO) -> None:
    result = parse(record)
    time.sleep(LOOKUP_S)
    out.write(_summary(result))


async def async_handle(record: int, out: TextIO) -> None:
    result = parse(record)
    await asyncio.sleep(LOOKUP_S)
    out.write(_summary(result))


def teardown(out: TextIO) -> None:
    out.close()


etl = Workload(name="mixed_etl", handle=handle, async_handle=async_handle, setup=setup,
               teardown=teardown)
workload = etl
