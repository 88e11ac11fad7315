"""Does the default-budget sweep pick a configuration within 90 % of the best? (issue 23)

    python benchmarks/sweep_picks.py --workload pool_per_process [--runs 3] [--part grid,picks]

On the issue's shapes (tests/workloads/sweep_shapes.py, real PostgreSQL and Redis on
127.0.0.1): `grid` measures an exhaustive grid of model × N (`--grid-repeat` interleaved
repeats, the mean of each configuration), `picks` runs `concur run` at the default budget
`--runs` times. It prints the grid ranked, then per run the pick, its throughput *as the
grid measured it* ÷ the grid's best (target ≥ 0.90), the run's wall time (target ≤ 60 s)
and how the sweep's time was spent: trial windows (measuring), the rest of each trial
(process start, imports, setup, warm-up, teardown) with concur's own time between trials;
climbs before settling and the settling repeats; analysis and the report. A pick the grid did not measure is said.
Run each part under the heavy lock, one workload at a time (each part stays under 10 min).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from profiler import profile  # noqa: E402
from profiler.api import load_results  # noqa: E402

SHAPES = HERE.parent / "tests" / "workloads" / "sweep_shapes.py"
GRIDS = {
    "pool_per_process": {"threads": [2, 4, 8, 16], "processes": [2, 4, 8, 16, 32]},
    "redis_client": {"asyncio": [2, 8, 16, 32, 64, 128], "uvloop": [2, 8, 16, 32, 64, 128],
                     "threads": [4, 16], "processes": [2, 4, 8]},
}


def grid(name: str, repeat: int, out: Path) -> dict[str, float]:
    means: dict[str, float] = {}
    for model, ns in GRIDS[name].items():
        r = profile(f"{SHAPES}:{name}", models=[model], concurrency=ns, repeat=repeat,
                    records=_records(name, model))
        for c in r.standings.configs:
            if c.model == model:
                means[c.label] = c.throughput_rps
    ranked = dict(sorted(means.items(), key=lambda kv: -kv[1]))
    out.write_text(json.dumps(ranked, indent=1))
    for label, rps in ranked.items():
        print(f"grid {name}: {label:18} {rps:8,.1f} records/s")
    return ranked


def _records(name: str, model: str) -> int:
    return 300 if name == "pool_per_process" else 2000


def picks(name: str, runs: int, grid_file: Path, out: Path) -> None:
    ranked = json.loads(grid_file.read_text()) if grid_file.exists() else {}
    best_label, best = next(iter(ranked.items()), ("?", 0.0))
    ratios, walls = [], []
    for i in range(runs):
        folder = out / f"sweep-picks-{name}-{i + 1}"
        shutil.rmtree(folder, ignore_errors=True)
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-m", "profiler", "run", f"{SHAPES}:{name}", "--quiet",
                        "--out", str(folder), "--json", str(folder / "run.json")],
                       check=True, stdout=subprocess.DEVNULL)
        took = time.monotonic() - t0
        walls.append(took)
        r = load_results(folder / "run.json")
        pick = r.standings.best
        label = pick.label if pick else "none"
        measured = ranked.get(label)
        ratio = (measured / best) if measured and best else None
        if ratio is not None:
            ratios.append(ratio)
        windows = sum(t.wall_s for t in r.trials)
        settle_at = next((e.t_s for e in r.sweep_log if e.event in ("settle", "repeat")), None)
        end = r.sweep_log[-1].t_s if r.sweep_log else took
        own = pick.throughput_rps if pick else 0.0
        print(f"run {i + 1}: pick {label} ({own:,.1f} records/s in the run; grid {measured:,.1f} = "
              f"{ratio:.2f} of the best, {best_label} {best:,.1f})" if ratio is not None else
              f"run {i + 1}: pick {label}, not in the grid: the run's own {own:,.1f} records/s = "
              f"{own / best if best else 0:.2f} of the grid's best {best_label} {best:,.1f} (not counted)")
        print(f"  concur run took {took:.1f} s: sweep {end:.1f} s ({len(r.trials)} trials: windows "
              f"{windows:.1f} s, process start/imports/setup/warm-up/teardown and concur's own "
              f"{max(end - windows, 0):.1f} s; climbs until {settle_at or end:.1f} s, settling "
              f"{end - (settle_at or end):.1f} s), analysis and report {took - end:.1f} s")
    if ratios:
        print(f"{name}: pick ÷ best median {statistics.median(ratios):.2f}, min {min(ratios):.2f} "
              f"over {len(ratios)} runs (target ≥ 0.90); wall max {max(walls):.1f} s (target ≤ 60)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", choices=sorted(GRIDS), required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--grid-repeat", type=int, default=2)
    ap.add_argument("--part", default="grid,picks")
    ap.add_argument("--out", default="/tmp")
    args = ap.parse_args()
    grid_file = Path(args.out) / f"sweep-picks-grid-{args.workload}.json"
    parts = args.part.split(",")
    if "grid" in parts:
        grid(args.workload, args.grid_repeat, grid_file)
    if "picks" in parts:
        picks(args.workload, args.runs, grid_file, Path(args.out))


if __name__ == "__main__":
    main()
