"""Harness and sampler overhead: what concur's trial costs the workload it measures.

    python benchmarks/overhead.py [--rounds 10] [--cases processes,sequential,threads,asyncio]

Per case (one model × N × handler), each round measures, in a rotating order so machine
drift hits every variant alike:
- `oracle`: the stock executor idiom written by hand (ProcessPoolExecutor.map,
  ThreadPoolExecutor.map, a semaphore around gather), independent of concur's code;
- `dispatch`: a hand-written loop with concur's own dispatch (chunked pool, N threads
  pulling from a deque, N coroutines pulling from a deque), without any of its harness;
- `unsampled`: a concur trial whose outside sampler takes only its start and end readings
  (an interval longer than the window): the harness without the periodic sampler;
- `concur`: a concur trial as a run makes it (sampler every 50 ms).
It prints each variant's median records/s and, per round, the ratios; their median and
spread (min–max over the rounds) are the figures: `concur ÷ unsampled` is the sampler's
cost, `concur ÷ oracle` the whole harness against an independent implementation
(target: ≥ 0.98 each). On processes×2 every core is busy, so anything the parent does
(sampling included) is taken from the workload: that is the case issue 13 asks about.
"""

from __future__ import annotations

import argparse
import asyncio
import os
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
UNSAMPLED_INTERVAL_S = 3600.0  # longer than any window: only the start and end readings

CASES = {  # name: (model, handler name, concurrency, records)
    "processes": ("processes", "cpu_1ms", 2, 3000),
    "sequential": ("sequential", "cpu_1ms", 1, 1500),
    "threads": ("threads", "sleep_2ms", 16, 6000),
    "asyncio": ("asyncio", "async_sleep_2ms", 100, 20000),
}
VARIANTS = ("oracle", "dispatch", "unsampled", "concur")


def raw(model: str, name: str, n: int, records: int, plain: bool) -> float:
    """Records/s of a hand-written loop: `plain` the stock idiom (the oracle), else concur's
    own dispatch without its harness."""
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
            if model == "processes" and plain:
                chunk = max(1, records // (n * 4))  # what a careful user writes for cheap records
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


def trial(model: str, name: str, n: int, records: int, interval_s: float) -> float:
    t = run_trial(TrialSpec(f"{TARGETS}:{name}", model, n, records,
                            sample_interval_s=interval_s)).trial
    if t.status != "ok":
        raise SystemExit(f"{model}: trial {t.status}: {t.status_detail}")
    return t.throughput_rps


def measure(variant: str, model: str, name: str, n: int, records: int) -> float:
    if variant == "oracle":
        return raw(model, name, n, records, plain=True)
    if variant == "dispatch":
        return raw(model, name, n, records, plain=False)
    return trial(model, name, n, records, UNSAMPLED_INTERVAL_S if variant == "unsampled" else 0.05)


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}–{max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--cases", default=",".join(CASES), help="any of " + ", ".join(CASES))
    args = parser.parse_args()
    print(f"{args.rounds} interleaved rounds; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"{'case':<14} {'oracle':>9} {'dispatch':>9} {'unsampled':>9} {'concur':>9}   "
          f"{'concur÷unsampled (sampler)':>27} {'concur÷oracle':>22} {'concur÷dispatch':>22}")
    for case in args.cases.split(","):
        model, name, n, records = CASES[case]
        rps: dict[str, list[float]] = {v: [] for v in VARIANTS}
        for i in range(args.rounds):
            order = VARIANTS[i % len(VARIANTS):] + VARIANTS[:i % len(VARIANTS)]
            for variant in order:
                rps[variant].append(measure(variant, model, name, n, records))
        ratio = {other: [c / o for c, o in zip(rps["concur"], rps[other], strict=True)]
                 for other in ("unsampled", "oracle", "dispatch")}
        medians = " ".join(f"{statistics.median(rps[v]):>9,.0f}" for v in VARIANTS)
        print(f"{f'{model}×{n}':<14} {medians}   {spread(ratio['unsampled']):>27} "
              f"{spread(ratio['oracle']):>22} {spread(ratio['dispatch']):>22}", flush=True)
    print("records/s are medians; ratios are the median (min–max) of the per-round ratios")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
