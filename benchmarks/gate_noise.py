"""Does the gate cry wolf, and does it let a real regression through?

    python benchmarks/gate_noise.py [--runs 20]

Runs `concur gate` --runs times with the same target on both sides (must pass ≥ 19 of
20 at the default 5 % threshold) and --runs times with a candidate made 30 % slower on
purpose (must fail every time). Pinned threads:4, 5 interleaved repeats, 200 records.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GATE = ROOT / "tests" / "workloads" / "gate.py"
FLAGS = ["--baseline-config", "threads:4", "--candidate-config", "threads:4", "--repeat", "5",
         "--records", "200", "--no-report", "-q"]


def gate(candidate: str) -> int:
    proc = subprocess.run([sys.executable, "-m", "profiler", "gate", "--baseline", f"{GATE}:baseline",
                           "--candidate", f"{GATE}:{candidate}", *FLAGS], capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"gate exited {proc.returncode}: {proc.stderr}")
    return proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    same = [gate("same_as_baseline") for _ in range(args.runs)]
    slow = [gate("thirty_percent_slower") for _ in range(args.runs)]
    print(f"identical sides: passed {same.count(0)} of {args.runs} (target ≥ {args.runs - 1})")
    print(f"30 % slower candidate: failed {slow.count(1)} of {args.runs} (target {args.runs})")


if __name__ == "__main__":
    main()
