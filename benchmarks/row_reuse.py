"""Do short trials mis-measure a database job because they reuse the same rows?

    flock /tmp/concur-heavy.lock python benchmarks/row_reuse.py [--pairs 6] [--records 3000]
        [--target async_pool] [--model asyncio] [--concurrency 8] [--dsn DSN]

Every trial takes the first N records (`scenarios.db_batch.records`: row ids 1…N), so a
sweep's trials and its --validate run update the same rows again and again, while a full
batch spreads over the whole table. If dead row versions on those pages slowed the trials,
the sweep would predict a batch too slow. This runs one configuration in pairs of trials,
interleaved in one run: one on the reused rows 1…N, one on rows no trial here touched
before (an offset that moves on by N each time), and prints each trial's throughput, the
medians and their ratio. Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

OFFSET = "CONCUR_BENCH_ROW_OFFSET"  # read by the trial's child process


def offset_records(n: int) -> list[int]:
    """Row ids from the offset in OFFSET on, cycling over the table like `db_batch.records`."""
    from profiler.scenarios import db_store

    start, rows = int(os.environ.get(OFFSET, "0")), db_store.current().rows
    return [(start + i) % rows + 1 for i in range(n)]


def _job(name: str):
    from profiler.scenarios import db_batch

    # the run-scoped service is not needed: the benchmark names the server (--dsn)
    return replace(getattr(db_batch, name), records=offset_records, service=None)


async_pool = _job("async_pool")
sync_pool = _job("sync_pool")


def main(argv: list[str] | None = None) -> int:
    from benchmarks import seed_story  # here, not at the top: the trials import this module

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--target", choices=("async_pool", "sync_pool"), default="async_pool")
    parser.add_argument("--model", default="asyncio")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--dsn", default=os.environ.get("CONCUR_DSN") or seed_story.DEFAULT_DSN)
    args = parser.parse_args(argv)

    os.environ.update(CONCUR_DSN=args.dsn, CONCUR_DB_BACKEND="postgresql")
    from profiler.measure.trial import TrialSpec, run_trial
    from profiler.scenarios import db_store

    backend = db_store.ensure_table()
    print(f"{backend.describe()}; {args.target} {args.model}×{args.concurrency}, "
          f"{args.records:,} records per trial, {args.pairs} pairs")
    target = f"{Path(__file__).resolve()}:{args.target}"
    rps: dict[str, list[float]] = {"reused rows": [], "fresh rows": []}
    fresh = backend.rows // 5
    for i in range(2 * args.pairs):
        kind = "reused rows" if i % 2 == 0 else "fresh rows"
        os.environ[OFFSET] = "0" if kind == "reused rows" else str(fresh)
        trial = run_trial(TrialSpec(target, args.model, args.concurrency, args.records)).trial
        if kind == "fresh rows":
            fresh += args.records
        print(f"  {i + 1:>2} {kind:<11} ids from {int(os.environ[OFFSET]) + 1:>6,}: {trial.status}, "
              f"{trial.throughput_rps:,.0f} records/s, {trial.errors} errors", flush=True)
        if trial.ok:
            rps[kind].append(trial.throughput_rps)
    if not all(rps.values()):
        print("no ok trial on one side: no comparison")
        return 1
    reused, new = (statistics.median(v) for v in rps.values())
    spreads = [statistics.stdev(v) / statistics.mean(v) for v in rps.values() if len(v) > 1]
    spread = f" (trial-to-trial spread on one side: ±{max(spreads):.0%})" if spreads else ""
    print(f"median: reused rows {reused:,.0f} records/s, fresh rows {new:,.0f} records/s, "
          f"fresh/reused {new / reused:.3f}{spread}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
