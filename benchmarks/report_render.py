"""How long `render_report` takes on a large run: 60 trials, ~40 samples each.

    python benchmarks/report_render.py [--trials 60] [--samples 40] [--repeat 3]

Prints the seconds of each render (the first includes matplotlib's font cache warm-up
in this process, not its import) and the best. Target: under 5 s on 2 cores. No
workload runs: the results are made up, in the shapes `profiler.analysis` writes.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from profiler.report.html import render_report  # noqa: E402
from profiler.results import (  # noqa: E402
    Classification,
    Environment,
    PredictionRow,
    Predictions,
    Recommendation,
    Results,
    ScalingFit,
    Skipped,
    SweepEvent,
    Trial,
    WorkloadInfo,
)

MODELS = ("sequential", "threads", "processes", "asyncio-threads", "asyncio", "uvloop")
LEVELS = {"sequential": [1], "processes": [1, 2, 4, 8], "asyncio": [1, 4, 16, 64, 256, 0],
          "uvloop": [1, 4, 16, 64, 256, 0]}


def _trial(rng: random.Random, model: str, n: int, repeat: int) -> Trial:
    eff = 1 if n == 0 else n
    rps = 50.0 * eff / (1 + 0.05 * (eff - 1) + 0.0008 * eff * (eff - 1)) * rng.uniform(0.95, 1.05)
    if n == 0:
        rps *= 0.7
    wall = 400 / rps
    util = min(0.2 * eff, 2.0) * rng.uniform(0.9, 1.1)
    loop = model in ("asyncio", "uvloop")
    conns = 400 if n == 0 else eff
    return Trial(
        model=model, concurrency=n, repeat=repeat, records=400, errors=0, wall_s=wall,
        throughput_rps=rps, cpu_user_s=util * wall * 0.8, cpu_system_s=util * wall * 0.2,
        cpu_util=util, rss_peak_bytes=(40 + conns // 4) * 1024 * 1024, threads_peak=eff + 2,
        fds_peak=conns + 6, connections_peak=conns, runqueue_wait_s=0.05 * util * wall,
        latency_p50_ms=1000 * eff / rps, latency_p99_ms=3000 * eff / rps,
        loop_lag_p50_ms=0.01 * eff if loop else None, loop_lag_p99_ms=0.05 * eff if loop else None,
        tasks_peak=eff + 1 if loop else None, workers=1 if loop else eff, samples_taken=40,
    )


def make_large_results(trials: int = 60, samples: int = 40, seed: int = 1) -> Results:
    rng = random.Random(seed)
    configs = [(m, n) for m in MODELS for n in LEVELS.get(m, [1, 2, 4, 8, 16, 32, 64])]
    out: list[Trial] = []
    repeat = 0
    while len(out) < trials:
        for m, n in configs:
            if len(out) < trials:
                out.append(_trial(rng, m, n, repeat))
        repeat += 1
    out[7].status, out[7].status_detail = "crashed", "worker process died (signal 11)"
    series = []
    for i, t in enumerate(out):
        ts = [t.wall_s * k / (samples - 1) for k in range(samples)]
        series.append({
            "trial": i, "t_s": ts,
            "cpu_util": [(t.cpu_util or 0) * (1 + 0.1 * math.sin(k)) for k in range(samples)],
            "rss_bytes": [t.rss_peak_bytes] * samples, "threads": [t.threads_peak] * samples,
            "fds": [t.fds_peak] * samples, "connections": [t.connections_peak] * samples,
        })
    return Results(
        workload=WorkloadInfo("benchmark", "benchmarks/report_render.py", 400, 300000),
        environment=Environment("3.11.9", "CPython", 2, True, "Linux"),
        trials=out, samples=series,
        skipped=[Skipped("dask", None, "dask is not installed")],
        classification=Classification("io-bound", 0.2, "high", [], ["made up"], 0),
        scaling={m: ScalingFit("ok", 50.0, 0.05, 0.0008, 34.5, 0.97, [], "") for m in MODELS[1:]},
        recommendation=Recommendation("threads", 32, 330.0, 6.6, False,
                                      "I/O-bound: run it with threads×32."),
        predictions=Predictions(300000, 0.95, [
            PredictionRow("threads", 32, 909.0, 880.0, 940.0, 330.0, 2, recommended=True)]),
        sweep_log=[SweepEvent(float(i), "trial", t.model, t.concurrency, "measured")
                   for i, t in enumerate(out)],
        command="python benchmarks/report_render.py", tool_version="bench",
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=60)
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    results = make_large_results(args.trials, args.samples)
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            t0 = time.perf_counter()
            render_report(results, Path(tmp) / f"r{i}")
            times.append(time.perf_counter() - t0)
            print(f"render {i + 1}: {times[-1]:.2f} s")
    print(f"best of {len(times)}: {min(times):.2f} s for {args.trials} trials "
          f"× {args.samples} samples (target < 5 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
