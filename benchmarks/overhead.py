"""Harness overhead: the same workload at the same concurrency, through concur's trial
(child process, outside sampler at 50 ms, latency tally, loop monitor) vs a plain loop
written by hand. Prints the throughput ratio per model (target: harness ≥ 0.98 × raw).

    python benchmarks/overhead.py [--rounds 5]

Rounds interleave raw and harness so machine drift hits both; the median ratio is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks import overhead_workloads as w  # noqa: E402
from profiler.measure.trial import TrialSpec, run_trial  # noqa: E402

TARGETS = str(HERE / "overhead_workloads.py")

CASES = [  # (model, handler name, concurrency, records)
    ("sequential", "cpu_1ms", 1, 1500),
    ("threads", "sleep_2ms", 16, 6000),
    ("processes", "cpu_1ms", 2, 3000),
    ("asyncio", "async_sleep_2ms", 100, 20000),
]


def raw(model: str, name: str, n: int, records: int, plain: bool) -> float:
    """Records/s of a hand-written loop. `plain=False`: the same dispatch as concur's model
    (N threads or coroutines pulling from a deque; chunked process pool), so the ratio
    isolates the harness's cost. `plain=True`: the stock idiom (executor.map,
    semaphore + gather of every record), a reference for what the dispatch itself costs."""
    handle = getattr(w, name)
    items = list(range(records))
    if model == "sequential":
        handle(0)
        t0 = time.perf_counter()
        for r in items:
            handle(r)
        return records / (time.perf_counter() - t0)
    if model == "processes" or (model == "threads" and plain):
        pool_cls = ThreadPoolExecutor if model == "threads" else ProcessPoolExecutor
        with pool_cls(n) as pool:
            list(pool.map(handle, range(n)))  # warm the workers
            chunk = max(1, records // (n * 8)) if model == "processes" and not plain else 1
            t0 = time.perf_counter()
            list(pool.map(handle, items, chunksize=chunk))
            return records / (time.perf_counter() - t0)
    if model == "threads":
        queue = deque(items)

        def pull() -> None:
            while True:
                try:
                    handle(queue.popleft())
                except IndexError:
                    return

        threads = [threading.Thread(target=pull) for _ in range(n)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return records / (time.perf_counter() - t0)

    async def main() -> float:
        await handle(0)
        t0 = time.perf_counter()
        if plain:
            sem = asyncio.Semaphore(n)

            async def one(r: int) -> None:
                async with sem:
                    await handle(r)

            await asyncio.gather(*(one(r) for r in items))
        else:
            queue = deque(items)

            async def pull() -> None:
                while queue:
                    await handle(queue.popleft())

            await asyncio.gather(*(pull() for _ in range(n)))
        return records / (time.perf_counter() - t0)

    return asyncio.run(main())


def harness(model: str, name: str, n: int, records: int) -> float:
    t = run_trial(TrialSpec(f"{TARGETS}:{name}", model, n, records)).trial
    if t.status != "ok":
        raise SystemExit(f"{model}: trial {t.status}: {t.status_detail}")
    return t.throughput_rps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"{'model':<12} {'N':>4} {'same-dispatch':>14} {'harness':>9} {'ratio':>7} {'stock idiom':>12}"
          f"   records/s, median of {args.rounds} interleaved rounds")
    for model, name, n, records in CASES:
        ratios, raws, hars, plains = [], [], [], []
        for _ in range(args.rounds):
            r = raw(model, name, n, records, plain=False)
            h = harness(model, name, n, records)
            plains.append(raw(model, name, n, records, plain=True))
            raws.append(r)
            hars.append(h)
            ratios.append(h / r)
        print(f"{model:<12} {n:>4} {statistics.median(raws):>14,.0f} {statistics.median(hars):>9,.0f} "
              f"{statistics.median(ratios):>7.3f} {statistics.median(plains):>12,.0f}"
              f"   ratios: {', '.join(f'{x:.3f}' for x in ratios)}")


if __name__ == "__main__":
    main()
