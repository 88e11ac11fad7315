"""Does the gate cry wolf at its default budget, and does it let a real regression through?

    flock /tmp/concur-heavy.lock python benchmarks/gate_noise.py [--runs 5] [--cases io,cpu,slow]

Runs `concur gate` --runs times per case, each at the DEFAULT budget and grid (no pinned
configuration, no --records): `io` gates a handler that sleeps 10 ms against itself,
`cpu` a CPU-bound handler (~3 ms of arithmetic per record) against itself (both must pass
every time: issue 22 asks 5 of 5), `slow` a 10 ms handler against the same made 3× slower
(must fail every time). Prints, per run, the exit code, the configurations each side was
judged at, the measured throughput difference with its 95 % interval, and the wall time;
then the pass/fail counts. Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HANDLERS = '''
import time


def io_sleep(record):
    time.sleep(0.010)


def io_sleep_3x(record):
    time.sleep(0.030)


def cpu(record):
    x = 0
    for i in range(30_000):
        x += i * i
    return x
'''
CASES = {"io": ("io_sleep", "io_sleep", 0), "cpu": ("cpu", "cpu", 0), "slow": ("io_sleep", "io_sleep_3x", 1)}


def gate(folder: Path, baseline: str, candidate: str) -> tuple[int, dict, float]:
    out = folder / "gate.json"
    out.unlink(missing_ok=True)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "profiler", "gate", "--baseline", f"W.py:{baseline}",
                           "--candidate", f"W.py:{candidate}", "--no-report", "-q", "--json", str(out)],
                          capture_output=True, text=True, cwd=folder)
    took = time.monotonic() - started
    if proc.returncode not in (0, 1, 5):
        raise SystemExit(f"gate exited {proc.returncode}: {proc.stderr}")
    return proc.returncode, json.loads(out.read_text()), took


def describe(data: dict) -> str:
    slow = next((c for c in data["checks"] if c["name"] == "slowdown"), None)
    sides = " vs ".join(f"{data[s]['model']}×{data[s]['concurrency']}" for s in ("candidate", "baseline"))
    if slow is None:
        return sides
    return f"{sides}: {slow['delta']} ({slow['note']})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cases", default="io,cpu,slow")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gate-noise-") as tmp:
        folder = Path(tmp)
        (folder / "W.py").write_text(HANDLERS)
        for case in args.cases.split(","):
            baseline, candidate, want = CASES[case]
            codes = []
            for i in range(args.runs):
                code, data, took = gate(folder, baseline, candidate)
                codes.append(code)
                print(f"{case} run {i + 1}: exit {code} ({data['status']}) in {took:.0f} s; "
                      f"{describe(data)}", flush=True)
            print(f"{case}: {codes.count(want)} of {args.runs} as expected (exit {want}); "
                  f"exits {codes}", flush=True)


if __name__ == "__main__":
    main()
