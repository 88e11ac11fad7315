"""Hand-made `Results` for the report tests: no workload runs, every number chosen.

`make_results()` tells the story the report exists for: an I/O-bound batch job where
threads × 8 wins, unbounded asyncio opens hundreds of connections and its loop lags,
one processes trial crashed and one timed out.
"""

from __future__ import annotations

import math
from html.parser import HTMLParser

from profiler.analysis.standings import table
from profiler.results import Environment, Results, Skipped, SweepEvent, Trial, WorkloadInfo
from tests import factory

RECOMMENDED_SENTENCE = (
    "I/O-bound: run it with threads × 8 (320 records/s, 6.4× sequential); "
    "unbounded asyncio opens 400 connections and is 34 % slower."
)

# model, concurrency, repeat, throughput, cpu_util, connections, loop lag p50/p99, status
_ROWS = [
    ("sequential", 1, 0, 50.0, 0.18, 1, None, None, "ok"),
    ("threads", 2, 0, 98.0, 0.33, 2, None, None, "ok"),
    ("threads", 4, 0, 180.0, 0.55, 4, None, None, "ok"),
    ("threads", 8, 0, 310.0, 0.92, 8, None, None, "ok"),
    ("threads", 8, 1, 320.0, 0.95, 8, None, None, "ok"),
    ("threads", 8, 2, 330.0, 0.97, 8, None, None, "ok"),
    ("threads", 16, 0, 335.0, 1.10, 16, None, None, "ok"),
    ("processes", 2, 0, 95.0, 0.40, 2, None, None, "ok"),
    ("processes", 4, 0, 0.0, None, None, None, None, "crashed"),
    ("processes", 8, 0, 0.0, None, None, None, None, "timeout"),
    ("asyncio", 8, 0, 300.0, 0.70, 8, 0.4, 2.1, "ok"),
    ("asyncio", 0, 0, 210.0, 1.60, 400, 35.0, 180.0, "ok"),
    ("uvloop", 8, 0, 315.0, 0.62, 8, 0.3, 1.5, "ok"),
]
RECORDS = 200


def make_trial(model: str, n: int, repeat: int, rps: float, cpu_util: float | None,
               conns: int | None, lag50: float | None, lag99: float | None,
               status: str = "ok", records: int = RECORDS) -> Trial:
    if status != "ok":
        return factory.make_trial(model, n, repeat=repeat, records=records, wall_s=1.5,
                                  throughput_rps=rps, cpu_util=None, workers=1, status=status,
                                  status_detail="worker process died (signal 11)" if status == "crashed"
                                  else "killed after --timeout 1.5 s")
    wall = records / rps
    workers = 1 if model in ("asyncio", "uvloop") else max(n, 1)
    cpu = (cpu_util or 0.0) * wall
    is_loop = model in ("asyncio", "uvloop")
    errors = 3 if n == 0 else 0
    return factory.make_trial(
        model, n, repeat=repeat, records=records, errors=errors, wall_s=wall,
        throughput_rps=rps, cpu_user_s=cpu * 0.8, cpu_system_s=cpu * 0.2, cpu_util=cpu_util,
        rss_peak_bytes=int((40 + 0.2 * (conns or 0)) * 1024 * 1024),
        threads_peak=workers + 2, fds_peak=(conns or 0) + 6, connections_peak=conns,
        ctx_switches_voluntary=1000 * max(n, 1), ctx_switches_involuntary=50 * max(n, 1),
        runqueue_wait_s=0.05 * cpu, iowait_frac=0.01,
        latency_p50_ms=1000.0 * max(n, 1) / rps * (4 if n == 0 else 1),
        latency_p99_ms=3000.0 * max(n, 1) / rps * (8 if n == 0 else 1),
        loop_lag_p50_ms=lag50, loop_lag_p99_ms=lag99, loop_lag_max_ms=lag99 and lag99 * 2,
        tasks_peak=(records if n == 0 else n + 1) if is_loop else None,
        workers=workers,
        errors_by_type={"TimeoutError": errors} if errors else {},
        error_messages={"TimeoutError": ["pool exhausted: <timeout> after 5.0 s"]} if errors else {},
        samples_taken=20,
    )


def make_samples(index: int, trial: Trial, points: int = 20) -> dict:
    t_s = [round(trial.wall_s * k / (points - 1), 4) for k in range(points)]
    wave = [math.sin(k / 2.0 + index) for k in range(points)]
    util = trial.cpu_util or 0.0
    conns = trial.connections_peak or 0
    return {
        "trial": index,
        "t_s": t_s,
        "cpu_util": [round(max(0.0, util * (1 + 0.1 * w)), 3) for w in wave],
        "rss_bytes": [trial.rss_peak_bytes or 0] * points,
        "threads": [trial.threads_peak or 1] * points,
        "fds": [trial.fds_peak or 0] * points,
        "connections": [max(0, round(conns * (0.8 + 0.2 * abs(w)))) for w in wave],
    }


def _points(*ns: int) -> list[dict]:
    return [{"concurrency": n, "throughput_rps": 50.0 * n, "repeats": 1, "from_sequential": False}
            for n in ns]


def verdict_sections() -> dict:
    """The verdict as it is written in results.json (JSON shapes, read back through the schema)."""
    return {
        "classification": {
            "label": "io-bound", "cpu_fraction": 0.18, "confidence": "high",
            "refinements": [],
            "evidence": ["sequential trial used 0.18 CPU s per wall s (≤ 0.3 ⇒ I/O-bound)",
                         "threads × 8 is 6.4× sequential while CPU stays under 1 core"],
            "basis_trial": 0,
        },
        "scaling": {
            "threads": {"status": "ok", "lambda_rps": 52.0, "sigma": 0.05, "kappa": 0.0008,
                        "n_star": 34.5, "r2": 0.98, "points": _points(1, 2, 4, 8, 16), "message": ""},
            "processes": {"status": "not enough points", "lambda_rps": None, "sigma": None,
                          "kappa": None, "n_star": None, "r2": None, "points": _points(2),
                          "message": "needs ≥ 3 concurrency levels"},
            "asyncio": {"status": "fit failed", "points": _points(8, 16), "message": "did not converge"},
        },
        "recommendation": {
            "model": "threads", "concurrency": 8, "throughput_rps": 320.0, "speedup": 6.4,
            "keep_sequential": False, "sentence": RECOMMENDED_SENTENCE,
            "rationale": ["threads × 16 is only 4.7 % faster: within 10 %, so the smaller pool"],
            "warnings": ["asyncio × unbounded opened 400 connections (threads × 8: 8)",
                         "asyncio × unbounded loop lag p99 180 ms"],
            "constraints": {"max_connections": 100},
            "excluded": [{"model": "asyncio", "concurrency": 0,
                          "reason": "400 connections > --max-connections 100"}],
        },
        "predictions": {
            "total_records": 300000,
            "confidence": 0.95,
            "rows": [
                {"model": "threads", "concurrency": 8, "wall_s": 937.5, "low_s": 909.0,
                 "high_s": 967.7, "throughput_rps": 320.0, "repeats": 3, "recommended": True},
                {"model": "sequential", "concurrency": 1, "wall_s": 6000.0, "low_s": None,
                 "high_s": None, "throughput_rps": 50.0, "repeats": 1, "recommended": False},
            ],
        },
    }


def make_results(*, verdict: bool = True, samples: bool = True) -> Results:
    trials = [make_trial(*row[:8], status=row[8]) for row in _ROWS]
    results = factory.make_results(
        *trials,
        workload=WorkloadInfo(name="orders-batch", target="scenarios/db_batch.py:workload",
                              records_per_trial=RECORDS, total_records=300000),
        environment=Environment(python="3.11.9", implementation="CPython", cpu_count=2,
                                gil_enabled=True, platform="Linux-6.1-x86_64"),
        samples=[make_samples(i, t) for i, t in enumerate(trials) if t.status == "ok"] if samples else [],
        skipped=[Skipped(model="dask", concurrency=None, reason="dask is not installed")],
        sweep_log=[
            SweepEvent(0.0, "calibrate", None, None, "20 ms per record: trials of 200 records"),
            SweepEvent(4.2, "stop", "threads", 16, "threads × 16 gains 4.7 % (< 5 %)"),
            SweepEvent(9.0, "crash", "processes", 4, "worker process died (signal 11)"),
        ],
        command="concur run scenarios/db_batch.py --total 300000 --repeat 3",
        started_at="2025-01-01T10:00:00Z", finished_at="2025-01-01T10:01:00Z",
        tool_version="0.1.0",
    )
    if verdict:
        results = Results.from_dict({**results.to_dict(), **verdict_sections()})
    table(results)
    return results


def make_compare_run(repeats: list[float], *, cpu_util: float = 0.9, conns: int = 8,
                     lag99: float | None = None, model: str = "threads", n: int = 8) -> Results:
    """A small run whose best configuration is `model × n` with these repeat throughputs."""
    results = make_results(verdict=False, samples=False)
    results.trials = [make_trial("sequential", 1, 0, 50.0, 0.2, 1, None, None)]
    results.trials += [
        make_trial(model, n, r, rps, cpu_util, conns, lag99 and lag99 / 4, lag99)
        for r, rps in enumerate(repeats)
    ]
    results.samples = [make_samples(i, t) for i, t in enumerate(results.trials)]
    table(results)
    return results


class Page(HTMLParser):
    """What the report tests look at in an HTML page: links, images, table rows, text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.imgs: list[str] = []
        self.rows: dict[str, int] = {}  # table id -> rows in its tbody
        self.text_parts: list[str] = []
        self._table: list[str] = []
        self._in_tbody = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for name in ("src", "href", "action", "data", "poster", "srcset"):
            if a.get(name) is not None:
                self.links.append((tag, name, a[name] or ""))
        if tag == "img":
            self.imgs.append(a.get("src") or "")
        elif tag == "table":
            self._table.append(a.get("id") or "")
            self.rows.setdefault(self._table[-1], 0)
        elif tag == "tbody":
            self._in_tbody = True
        elif tag == "tr" and self._in_tbody and self._table:
            self.rows[self._table[-1]] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._table:
            self._table.pop()
        elif tag == "tbody":
            self._in_tbody = False

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.text_parts).split())


def is_local_reference(value: str) -> bool:
    """A src/href that cannot leave the machine: relative path, fragment or data: URI."""
    v = value.strip().lower()
    if v.startswith(("#", "data:")):
        return True
    return "://" not in v and not v.startswith("//") and ":" not in v.split("/")[0]
