"""Stability: does a default `concur run` give the same verdict run after run?

    python benchmarks/stability.py [--runs 5] [--budget 60] [--only NAME] [--dsn DSN]

Each workload is profiled `--runs` times with the default options (every default model,
the adaptive sweep, the default budget). A workload is stable when every run gives the
same label, or runs that differ are "borderline" with the other runs' label among their
readings (a label never flips between two clear readings), and every run recommends a
model a performance engineer would accept for it. Figures are printed, not asserted;
the load average is printed at the start and the end, because on a shared machine it is
part of the result. Each run's results.json is kept under --out.

The workloads: an `async def` handler awaiting asyncio.sleep(10 ms); a mixed job (2 ms of
pure-Python CPU and 2 ms of sleep, CPU fraction ~0.5); the psycopg threads job
(benchmarks/db_jobs.py, needs PostgreSQL); a pure-Python CPU job.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.db_jobs import DEFAULT_DSN, postgres_available  # noqa: E402
from profiler import format as fmt  # noqa: E402
from profiler import profile  # noqa: E402
from profiler.results import Results  # noqa: E402

LABELLED = ROOT / "tests" / "workloads" / "labelled.py"
WORKLOADS = {  # name: (target, acceptable models)
    "async_sleep": (f"{LABELLED}:async_sleep", {"asyncio", "uvloop"}),
    "mixed_cpu_wait": (f"{LABELLED}:mixed_cpu_wait", {"threads", "processes"}),
    "psycopg_pool64": (f"{ROOT / 'benchmarks' / 'db_jobs.py'}:psycopg_pool64",
                       {"threads", "asyncio-threads"}),
    "pure_python_cpu": (f"{LABELLED}:pure_python_cpu", {"processes"}),
}


@dataclass
class Run:
    label: str
    readings: list[str]
    cpu_fraction: float | None
    noise: float | None
    model: str | None
    concurrency: int | None
    sentence: str
    seconds: float


def stable(runs: list[Run]) -> bool:
    """Same label every time, or borderline runs whose readings include the clear label."""
    clear = {r.label for r in runs if r.label != "borderline"}
    if len(clear) > 1:
        return False
    if not clear:  # borderline every time: between the same readings
        return len({tuple(r.readings) for r in runs}) == 1
    (label,) = clear
    return all(r.label == label or label in r.readings for r in runs)


def one(target: str, budget: float, out: Path) -> Run:
    start = time.monotonic()
    results: Results = profile(target, budget_s=budget, json_path=str(out))
    c, r = results.classification, results.recommendation
    return Run(c.label, list(c.readings), c.cpu_fraction, c.cpu_fraction_noise, r.model,
               r.concurrency, r.sentence, time.monotonic() - start)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--only", default=None, help="one workload: " + ", ".join(WORKLOADS))
    parser.add_argument("--dsn", default=os.environ.get("CONCUR_DSN") or DEFAULT_DSN)
    parser.add_argument("--out", type=Path, default=None, help="folder for the runs' results.json")
    args = parser.parse_args()
    os.environ["CONCUR_DSN"] = args.dsn
    out = args.out or ROOT / "reports" / f"stability-{dt.datetime.now():%Y%m%d-%H%M%S}"
    out.mkdir(parents=True, exist_ok=True)
    print(f"stability: {args.runs} default runs each, --budget {args.budget:g}; load average "
          f"{load()} (1, 5, 15 min) on {os.cpu_count()} cores; results in {out}", flush=True)
    summary = []
    for name, (target, acceptable) in WORKLOADS.items():
        if args.only and name != args.only:
            continue
        if name == "psycopg_pool64" and (why := postgres_available()):
            print(f"\n{name}: skipped, PostgreSQL not reachable ({why})")
            continue
        print(f"\n{name} (acceptable: {', '.join(sorted(acceptable))})", flush=True)
        runs = []
        for i in range(args.runs):
            run = one(target, args.budget, out / f"{name}-{i + 1}.json")
            runs.append(run)
            readings = f" ({' / '.join(run.readings)})" if run.label == "borderline" else ""
            ok = "ok" if run.model in acceptable else "NOT ACCEPTABLE"
            print(f"  run {i + 1}: {run.label}{readings}, CPU fraction "
                  f"{fmt.plain(run.cpu_fraction, 2)} ± {fmt.plain(run.noise, 2)}; "
                  f"{fmt.config(run.model, run.concurrency)} [{ok}] in {run.seconds:.0f} s — "
                  f"{run.sentence}", flush=True)
        good = sum(r.model in acceptable for r in runs)
        summary.append((name, stable(runs), good, len(runs),
                        sorted({fmt.config(r.model, r.concurrency) for r in runs})))
    print(f"\n{'workload':<18} {'label stable':>12} {'acceptable':>11}  configurations")
    for name, is_stable, good, n, configs in summary:
        print(f"{name:<18} {'yes' if is_stable else 'NO':>12} {f'{good}/{n}':>11}  {', '.join(configs)}")
    print(f"load average at the end: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
