"""`python -m profiler.run.foreground TARGET`: one record through the handler, in the
foreground, with nothing caught.

concur's trials count a handler's exceptions and keep only the last frames of each
(`Trial.error_tracebacks`); when every record fails, the verdict points here: this runs
the run's first record (or `--record N`) as a trial's worker would (the target loaded
the same way, the workload's service started, setup, the record, teardown) in this
process, so the handler's own traceback, its prints and a debugger (`breakpoint()`) all
reach the terminal. Exit 0 when the record succeeded, 1 when the handler raised (its
traceback printed, as Python prints it), 2 when the target or its records cannot load.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from profiler.errors import ConcurError
from profiler.measure.session import SilentProgress
from profiler.models.workers import SyncWorker
from profiler.run.service import run_services
from profiler.workload import WorkerInfo, load_target, read_input

PROG = "python -m profiler.run.foreground"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Run one record through a concur target's handler in the "
        "foreground, with nothing caught: see its whole traceback and its output.")
    parser.add_argument("target", help="file.py:function or package.module:attr, as given to concur run")
    parser.add_argument("--input", help="CSV, JSONL or Parquet file whose rows are the records")
    parser.add_argument("--record", type=int, default=0, help="which record, 0 = the first")
    args = parser.parse_args(argv)
    try:
        workload = load_target(args.target)
        if args.record < 0:
            raise ConcurError("--record takes 0 or more")
        if args.input:
            records = read_input(args.input, limit=args.record + 1)
        else:
            records = workload.make_records(args.record + 1)
        if len(records) <= args.record:
            raise ConcurError(f"there are only {len(records)} records; --record {args.record} is past them")
    except ConcurError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    record = records[args.record]
    print(f"record {args.record}: {_short(record)}", flush=True)
    with run_services([workload], SilentProgress()):
        worker = SyncWorker(workload, WorkerInfo("foreground", 1, 0))
        worker.open()
        try:
            result = worker.run_one(record)
        except BaseException:
            import traceback

            traceback.print_exc()
            return 1
        finally:
            worker.close()
    print(f"the handler returned {_short(result)}")
    return 0


def _short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


if __name__ == "__main__":
    sys.exit(main())
