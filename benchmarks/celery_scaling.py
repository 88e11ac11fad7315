"""Celery at full speed: does celery×8 run a 10 ms sleep ≥ 3× as fast as celery×2?

    python benchmarks/celery_scaling.py [--rounds 3] [--brokers redis,amqp] [--records 8]

A worker queue of N solo workers can at best run N / 10 ms records per second on a 10 ms
sleep; what keeps it below that is the queue's own per-task cost, and the producer (task
submission, reply collection) is concur's, not the queue's: it must not be the limit
(issue 23). Per broker, each round runs celery×2 then celery×8 as `concur` trials (one
record per task, the model's default), alternating order between rounds; it prints each
trial's records/s, the producer's time per task published (`publish_ms`), the ideal
(N / 10 ms), and per round the ratio ×8 ÷ ×2; the figure is the median ratio (target ≥ 3).
`--records` is records per worker slot at ×8, times 100 (8 → 800 records: ~1 s at ideal).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from profiler.measure.trial import TrialSpec, run_trial  # noqa: E402

BROKERS = {"redis": "redis://127.0.0.1:6379/0", "amqp": "amqp://guest:guest@127.0.0.1:5672//"}
SLEEP_S = 0.010


def sleep_10ms(record: object) -> None:
    time.sleep(SLEEP_S)


def trial(broker: str, n: int, records: int) -> tuple[float, float | None]:
    spec = TrialSpec(f"{HERE / 'celery_scaling.py'}:sleep_10ms", "celery", n, records,
                     timeout_s=120, options=(("broker", broker), ("chunk", 1)))
    t = run_trial(spec).trial
    if t.status != "ok" or t.errors:
        raise SystemExit(f"celery×{n} on {broker}: {t.status} {t.status_detail} ({t.errors} errors)")
    return t.throughput_rps, t.model_metrics.get("publish_ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--brokers", default="redis,amqp")
    ap.add_argument("--records", type=int, default=8)
    args = ap.parse_args()
    records = args.records * 100
    for name in args.brokers.split(","):
        broker = BROKERS[name]
        ratios = []
        for r in range(args.rounds):
            order = (2, 8) if r % 2 == 0 else (8, 2)
            got = {n: trial(broker, n, records if n == 8 else records // 4) for n in order}
            ratio = got[8][0] / got[2][0]
            ratios.append(ratio)
            print(f"{name} round {r + 1}: " + ", ".join(
                f"celery×{n} {got[n][0]:,.0f} records/s (ideal {n / SLEEP_S:,.0f}; publish "
                f"{got[n][1] or 0:.2f} ms/task)" for n in (2, 8)) + f"; ×8 ÷ ×2 = {ratio:.2f}")
        print(f"{name}: celery×8 ÷ celery×2 median {statistics.median(ratios):.2f} "
              f"(min {min(ratios):.2f}, max {max(ratios):.2f}; target ≥ 3)")


if __name__ == "__main__":
    main()
