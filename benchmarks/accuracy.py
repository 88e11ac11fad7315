"""Sweep accuracy: does the adaptive sweep's recommendation reach ≥ 0.90 of the best
throughput an exhaustive grid finds, for each labelled workload?

    python benchmarks/accuracy.py [--budget 60] [--only NAME] [--dsn DSN]

The psycopg threads job (benchmarks/db_jobs.py) runs when PostgreSQL answers at --dsn.
For each workload: one default sweep (`profile`, adaptive, --budget), then an exhaustive
grid (every applicable model × N in 1, 2, 4, … up to a cap: 256 for pools, 4096 for event
loops, 2 × cores for processes), then the grid's three fastest and the recommended
configuration measured twice more, interleaved. The figure is the recommended
configuration's mean throughput over the grid's best mean, both from those same
measurements, so a lucky single grid trial cannot decide it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.db_jobs import DEFAULT_DSN, postgres_available  # noqa: E402
from profiler import format as fmt  # noqa: E402
from profiler import profile  # noqa: E402
from tests.conftest import DelayServer  # noqa: E402

LABELLED = ROOT / "tests" / "workloads" / "labelled.py"
WORKLOADS = {
    "pure_python_cpu": ["sequential", "threads", "processes"],
    "native_hash": ["sequential", "threads", "processes"],
    "blocking_sleep": ["sequential", "threads", "processes", "asyncio-threads"],
    "async_sleep": ["sequential", "threads", "processes", "asyncio", "uvloop"],
    "mixed_cpu_wait": ["sequential", "threads", "processes", "asyncio-threads"],
    "async_blocks_loop": ["sequential", "threads", "processes", "asyncio", "uvloop"],
    "serialized_on_lock": ["sequential", "threads", "processes"],
    "network_request": ["sequential", "threads", "processes", "asyncio-threads"],
    "psycopg_pool64": ["sequential", "threads", "processes", "asyncio-threads"],
}
TARGETS = {name: f"{LABELLED}:{name}" for name in WORKLOADS}
TARGETS["psycopg_pool64"] = f"{ROOT / 'benchmarks' / 'db_jobs.py'}:psycopg_pool64"
GRID = [1, 2, 4, 8, 16, 32, 64, 128, 256]
LOOP_GRID = GRID + [512, 1024, 2048, 4096]
FINAL_ROUNDS = 2  # extra measurements of the contenders, interleaved


def measure(name: str, key: tuple[str, int], records: int) -> float | None:
    results = profile(TARGETS[name], models=[key[0]], concurrency=[key[1]], records=records)
    ok = [t for t in results.ok_trials() if t.errors == 0]
    return ok[0].throughput_rps if ok else None


def grid_best(name: str, models: list[str], seq_rps: float, best_rps: float
              ) -> dict[tuple[str, int], list[float]]:
    """Every model × N, each trial sized to ~1 s at min(best, sequential × N) records/s."""
    cores = os.cpu_count() or 1
    out: dict[tuple[str, int], list[float]] = {}
    for model in models:
        grid = LOOP_GRID if model in ("asyncio", "uvloop") else GRID
        values = [1] if model == "sequential" else [n for n in grid if model != "processes" or n <= 2 * cores]
        for n in values:
            rps = measure(name, (model, n), records_for(best_rps, seq_rps, n))
            if rps is not None:
                out[(model, n)] = [rps]
    return out


def records_for(best_rps: float, seq_rps: float, n: int) -> int:
    return max(4 * n, 20, int(min(best_rps, seq_rps * n)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--only", default=None)
    parser.add_argument("--dsn", default=os.environ.get("CONCUR_DSN") or DEFAULT_DSN)
    args = parser.parse_args()
    os.environ["CONCUR_DSN"] = args.dsn
    print(f"accuracy at --budget {args.budget:g}; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"{'workload':<20} {'recommended':<22} {'grid best':<22} {'fraction':>8}")
    with DelayServer() as server:
        os.environ["CONCUR_TEST_PORT"] = str(server.port)
        for name, models in WORKLOADS.items():
            if args.only and name != args.only:
                continue
            if name == "psycopg_pool64" and (why := postgres_available()):
                print(f"{name:<20} skipped: PostgreSQL not reachable ({why})")
                continue
            swept = profile(TARGETS[name], models=models, budget_s=args.budget)
            rec = swept.recommendation
            key = (rec.model, rec.concurrency)
            seq_rps = next(t.throughput_rps for t in swept.ok_trials() if t.model == "sequential")
            best_rps = max(t.throughput_rps for t in swept.ok_trials() if t.concurrency != 0)
            grid = grid_best(name, models, seq_rps, best_rps)
            contenders = sorted(grid, key=lambda k: -grid[k][0])[:3]
            if key not in contenders:
                contenders.append(key)
                grid.setdefault(key, [])
            for _ in range(FINAL_ROUNDS):
                for k in contenders:
                    rps = measure(name, k, records_for(best_rps, seq_rps, k[1]))
                    if rps is not None:
                        grid[k].append(rps)
            means = {k: statistics.fmean(v) for k, v in grid.items() if v}
            best_key = max((k for k in contenders if k in means), key=means.get)
            frac = means.get(key, 0.0) / means[best_key]
            print(f"{name:<20} {fmt.config(*key):<22} {fmt.config(*best_key):<22} {frac:>8.2f}",
                  flush=True)
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
