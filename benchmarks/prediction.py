"""Prediction accuracy: predict the wall time of a full batch from the sweep, then run
that batch under the recommended configuration and compare (target: within ±15 %).

    python benchmarks/prediction.py [--seconds 15] [--budget 40]

The batch size is chosen so the real run takes about --seconds at the sweep's measured
throughput: big enough that per-trial start-up is a small share, as in a real batch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from profiler import format as fmt  # noqa: E402
from profiler import profile  # noqa: E402
from profiler.analysis import predict  # noqa: E402
from profiler.measure.trial import TrialSpec, run_trial  # noqa: E402

LABELLED = ROOT / "tests" / "workloads" / "labelled.py"
CASES = {
    "pure_python_cpu": ["sequential", "threads", "processes"],
    "blocking_sleep": ["sequential", "threads", "asyncio-threads"],
    "mixed_cpu_wait": ["sequential", "threads", "processes"],
    "async_sleep": ["sequential", "asyncio", "uvloop"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--budget", type=float, default=40.0)
    args = parser.parse_args()
    print(f"{'workload':<18} {'config':<18} {'total':>8} {'predicted s':>12} {'interval':>17} {'actual s':>9} {'error':>7}")
    for name, models in CASES.items():
        target = f"{LABELLED}:{name}"
        sweep = profile(target, models=models, budget_s=args.budget)
        rec = sweep.recommendation
        total = int(rec.throughput_rps * args.seconds)
        row = next(r for r in predict(sweep, total).rows if rec.names(r.model, r.concurrency))
        actual = run_trial(TrialSpec(target, rec.model, rec.concurrency, total, timeout_s=600)).trial
        err = actual.wall_s / row.wall_s - 1
        low = "n/a" if row.low_s is None else f"{row.low_s:.1f}"
        high = "n/a" if row.high_s is None else f"{row.high_s:.1f}"
        print(f"{name:<18} {fmt.config(rec.model, rec.concurrency):<18} {total:>8,} "
              f"{row.wall_s:>12.2f} {low + '–' + high:>17} {actual.wall_s:>9.2f} {err:>+7.1%}", flush=True)


if __name__ == "__main__":
    main()
