"""The celery model (issue 17): options, queue arithmetic and wording (pure), then real
Celery workers on the real brokers of this machine — Redis (127.0.0.1:6379) and
RabbitMQ (127.0.0.1:5672, guest/guest). A broker that does not answer skips its tests
here and fails them when CI=true (as the PostgreSQL tests do). No mocks.

Assertions are ratios measured in one run, on workloads far from the thresholds, with
margins for a noisy, shared 2-core machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

import psutil
import pytest

from profiler.analysis import analyse
from profiler.errors import ConfigError
from profiler.measure.trial import TrialSpec, run_trial
from profiler.models import get_model, model_options_from_flags, simplicity_order
from profiler.models.celery.metrics import (
    Execution,
    depth_metrics,
    outcome,
    pickup_gaps,
    queue_metrics,
)
from profiler.models.celery.options import broker_reason, celery_options, redact
from profiler.results import Trial
from tests.conftest import run_cli
from tests.factory import make_results, make_trial
from tests.machine_share import timing

pytest.importorskip("celery")

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "tests" / "workloads" / "celery_work.py"
REDIS = os.environ.get("CONCUR_TEST_REDIS", "redis://127.0.0.1:6379/0")
RABBIT = os.environ.get("CONCUR_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//")


def work(name: str) -> str:
    return f"{WORK}:{name}"


# ---------------------------------------------------------------- pure


def test_options_default_to_the_local_redis_one_record_per_task_and_late_acks():
    opts = celery_options({})
    assert (opts.broker, opts.chunk, opts.acks, opts.broker_given) == (
        "redis://127.0.0.1:6379/0", 1, "late", False)
    assert celery_options({"chunk": "auto", "broker": RABBIT}).chunk is None


@pytest.mark.parametrize("options,flag", [({"chunk": 0}, "--chunk"), ({"chunk": "many"}, "--chunk"),
                                          ({"broker": "http://127.0.0.1:6379"}, "--broker"),
                                          ({"acks": "never"}, "acks")])
def test_bad_options_are_one_config_error_naming_the_flag(options, flag):
    with pytest.raises(ConfigError, match=flag):
        celery_options(options)


def test_broker_flag_needs_the_celery_model_and_chunk_serves_dask_or_celery():
    assert model_options_from_flags(["threads", "celery"], broker=REDIS, chunk="10") == (
        ("broker", REDIS), ("chunk", "10"))
    assert model_options_from_flags(["dask", "celery"], chunk="auto") == (("chunk", "auto"),)
    with pytest.raises(ConfigError, match="--broker only applies to the celery model"):
        model_options_from_flags(["threads"], broker=REDIS)
    with pytest.raises(ConfigError, match="--chunk only applies to the dask or celery model"):
        model_options_from_flags(["threads"], chunk="5")
    with pytest.raises(ConfigError, match="--chunk takes records per task"):
        model_options_from_flags(["celery"], chunk="0")


def test_no_broker_password_is_kept_in_messages_or_results():
    assert redact("amqp://guest:s3cret@127.0.0.1:5672//") == "amqp://guest:***@127.0.0.1:5672//"
    assert redact(REDIS) == REDIS
    kept = get_model("celery").public_options({"broker": "redis://:pw@127.0.0.1:6379/0", "chunk": 5})
    assert kept == {"broker": "redis://:***@127.0.0.1:6379/0", "chunk": 5}


def test_a_broker_nobody_listens_on_is_one_line_saying_celery_is_skipped():
    reason = broker_reason(celery_options({"broker": "redis://127.0.0.1:1/0"}))
    assert reason is not None and reason.startswith("celery skipped: no broker reachable at "
                                                    "redis://127.0.0.1:1/0")
    default = broker_reason(celery_options({}))
    assert default is None or "(the default; give --broker" in default


def test_a_worker_queue_ranks_just_after_processes_and_before_any_async_rewrite():
    order = simplicity_order("sync")
    assert order.index("processes") + 1 == order.index("celery")
    assert all(order.index("celery") < order.index(m) for m in ("asyncio-threads", "asyncio", "uvloop"))
    assert get_model("celery").opt_in and get_model("celery").handlers_in_other_processes


def ex(task_id: str, pid: int, sent: float, start: float, body: float, redelivered: bool = False) -> Execution:
    return Execution(task_id, 0, pid, sent, start, body, 1, ([body], {}, {}), redelivered)


def test_each_task_counts_once_and_what_ran_twice_or_never_is_said():
    runs = [ex("a", 1, 0.0, 0.1, 0.01), ex("b", 1, 0.0, 0.2, 0.01),
            ex("b", 2, 0.0, 3.0, 0.01, redelivered=True)]
    o = outcome(["a", "b", "c"], runs)
    assert sorted(o.first) == ["a", "b"] and o.first["b"].pid == 1
    assert (o.duplicates, o.redelivered, o.lost) == (1, 1, ["c"])


def test_pickup_gap_counts_only_tasks_that_were_already_waiting():
    # Worker 1: a ends at 1.010; b (sent at 0) starts at 1.012 → 2 ms; c was sent at 5.0,
    # after b ended: an idle worker waiting for work is not queue overhead.
    runs = [ex("a", 1, 0.0, 1.000, 0.010), ex("b", 1, 0.0, 1.012, 0.010), ex("c", 1, 5.0, 5.001, 0.01)]
    assert pickup_gaps(runs) == pytest.approx([0.002])
    m = queue_metrics(runs, [0.001, 0.003])
    assert m["pickup_p50_ms"] == pytest.approx(2.0)
    assert m["broker_latency_p50_ms"] == pytest.approx(2.0)
    assert m["enqueue_start_p99_ms"] > 1000


def test_queue_depth_keeps_its_peak_and_a_thinned_series():
    m = depth_metrics([i * 0.05 for i in range(1000)], list(range(1000)))
    assert m["queue_depth_peak"] == 999 and m["queue_depth_mean"] == pytest.approx(499.5)
    assert len(m["queue_depth"]["depth"]) <= 300 and m["queue_depth"]["depth"][0] == 0


def celery_trial(rps: float, overhead_ms: float, task_ms: float, n: int = 2, **metrics) -> Trial:
    return make_trial("celery", n, throughput_rps=rps, cpu_util=1.2, model_metrics={
        "acks": "late", "task_overhead_ms": overhead_ms, "task_compute_ms": task_ms,
        "record_compute_ms": task_ms, "records_per_task": 1.0, "broker_latency_p50_ms": 0.8,
        **metrics})


def test_tiny_tasks_say_the_broker_cost_dominates_and_a_thread_pool_wins():
    results = make_results(make_trial("sequential", 1, throughput_rps=15_000, cpu_util=1.0),
                           make_trial("threads", 8, throughput_rps=14_000, cpu_util=1.0),
                           celery_trial(400, overhead_ms=2.0, task_ms=0.05, n=8))
    rec = analyse(results).recommendation
    assert rec.model in ("sequential", "threads")
    warning = next(x for x in rec.warnings if "per-task cost dominates" in x)
    assert "celery×8" in warning and "per-task overhead 2 ms vs 0.05 ms of work" in warning
    assert "a thread pool is faster on one machine" in warning and "--chunk" in warning
    assert "survives a worker's loss" in warning
    line = next(x for x in rec.rationale if "beat the celery queue" in x)
    assert line.startswith("sequential beat the celery queue on this machine: 15,000 vs 400 records/s")


def test_a_queue_that_wins_is_recommended_with_its_overhead_in_words():
    results = make_results(make_trial("sequential", 1, throughput_rps=90, cpu_util=0.05),
                           make_trial("threads", 8, throughput_rps=500, cpu_util=0.3),
                           celery_trial(700, overhead_ms=1.5, task_ms=10.0, n=8))
    rec = analyse(results).recommendation
    assert rec.model == "celery" and rec.concurrency == 8
    line = next(x for x in rec.rationale if "queue beat every pool on this machine" in x)
    assert "celery×8 ran 700 records/s" in line and "per-task overhead 1.5 ms vs 10 ms of work" in line
    assert not any("per-task cost dominates" in x for x in rec.warnings)


def test_a_dead_worker_is_a_warning_with_the_redelivered_and_lost_counts():
    results = make_results(celery_trial(300, overhead_ms=1.0, task_ms=5.0, workers_lost=1,
                                        tasks_redelivered=2, tasks_lost=0))
    rec = analyse(results).recommendation
    line = next(x for x in rec.warnings if "worker(s) died" in x)
    assert "redelivered 2 task(s) and 0 were lost (acks late" in line


# ---------------------------------------------------------------- real brokers

BROKERS = [pytest.param(REDIS, id="redis"), pytest.param(RABBIT, id="rabbitmq")]
slow = pytest.mark.slow  # shares the machine (SHARED_MODULES) unless marked `timing`


def need(broker: str) -> str:
    reason = broker_reason(celery_options({"broker": broker}))
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: the broker tests must run)")
        pytest.skip(reason)
    return broker


def celery_run(broker: str, tgt: str, n: int, records: int, timeout_s: float = 90.0, **options) -> Trial:
    opts = {"broker": broker, "chunk": 1, **options}
    return run_trial(TrialSpec(tgt, "celery", n, records, timeout_s=timeout_s,
                               options=tuple(opts.items()))).trial


def ok(trial: Trial) -> Trial:
    assert trial.status == "ok", (trial.status, trial.status_detail)
    return trial


def celery_workers_alive() -> list[int]:
    """Celery workers this test run started (they inherit CONCUR_TEST_RUN) still alive;
    another program's workers on the same machine are not ours to count."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        if "profiler.models.celery.worker" not in " ".join(p.info["cmdline"] or []):
            continue
        with contextlib.suppress(psutil.Error):
            if p.environ().get("CONCUR_TEST_RUN") == os.environ["CONCUR_TEST_RUN"]:
                found.append(p.pid)
    return found


def queue_left(broker: str, queue: str) -> bool:
    if broker.startswith("redis"):
        import redis

        client = redis.Redis.from_url(broker)
        token = queue.split(".")[1]
        return any(True for _ in client.scan_iter(match=f"*{token}*"))
    from kombu import Connection

    left = False
    with Connection(broker) as conn:
        for check in (lambda ch: ch.queue_declare(queue=queue, passive=True),
                      lambda ch: ch.exchange_declare(exchange=queue, type="direct", passive=True)):
            try:
                check(conn.channel())
                left = True
            except Exception:
                pass  # NotFound: deleted
    return left


@slow
@pytest.mark.parametrize("broker", BROKERS)
def test_real_workers_run_every_record_and_leave_nothing_behind(broker):
    t = ok(celery_run(need(broker), work("sleep_10ms"), 2, 120))
    m = t.model_metrics
    assert t.errors == 0 and t.records == 120 and t.workers == 2
    assert m["tasks_sent"] == m["tasks_done"] == 120 and m["tasks_lost"] == 0
    assert m["celery_workers"] == 2 and len(m["per_worker"]) == 2
    assert sum(w["records"] for w in m["per_worker"]) == 120
    assert m["record_compute_ms"] >= 9 and m["task_overhead_ms"] >= 0
    for key in ("broker_latency_p50_ms", "broker_latency_p99_ms", "pickup_p50_ms", "enqueue_start_p99_ms"):
        assert m[key] > 0, key
    assert m["queue_depth_peak"] >= 1 and m["workers_rss_peak_bytes"] > 10 * 2**20
    assert m["cluster_connections"] >= 2 * 2 and m["broker_connections"] >= 2 * 2
    assert "guest:guest" not in json.dumps(t.model_metrics) + json.dumps(t.model_options)
    assert not celery_workers_alive()
    assert not queue_left(broker, m["queue"])
    print(f"\n{m['broker_kind']}: per-task overhead {m['task_overhead_ms']:.2f} ms on "
          f"{m['task_compute_ms']:.2f} ms of work; enqueue→start idle p50 "
          f"{m['broker_latency_p50_ms']:.2f} ms p99 {m['broker_latency_p99_ms']:.2f} ms; pickup p50 "
          f"{m['pickup_p50_ms']:.2f} ms; {t.throughput_rps:.0f} records/s")


@slow
@timing
def test_more_workers_drain_an_io_queue_faster():
    # 100 ms per record: Celery's producer sends a task in 2–13 ms here (one thread, a
    # busy machine), far below the 80 tasks/s that 8 workers drain, so 8 workers must
    # far outrun 2 (the ideal is 4×).
    broker = need(REDIS)
    two = ok(celery_run(broker, work("sleep_100ms"), 2, 48))
    eight = ok(celery_run(broker, work("sleep_100ms"), 8, 48))
    ratio = eight.throughput_rps / two.throughput_rps
    print(f"\ncelery×8 / celery×2 on a 100 ms sleep: {ratio:.2f} ({eight.throughput_rps:.0f} vs "
          f"{two.throughput_rps:.0f} records/s)")
    assert ratio >= 2.0, (eight.throughput_rps, two.throughput_rps)


@slow
@timing
def test_tiny_records_report_the_overhead_and_the_verdict_prefers_one_machine():
    broker = need(REDIS)
    seq = ok(run_trial(TrialSpec(work("tiny_50us"), "sequential", 1, 300)).trial)
    threads = ok(run_trial(TrialSpec(work("tiny_50us"), "threads", 2, 300)).trial)
    queue = ok(celery_run(broker, work("tiny_50us"), 2, 300))
    m = queue.model_metrics
    assert m["task_overhead_ms"] >= m["task_compute_ms"], m
    rec = analyse(make_results(seq, threads, queue, cpu_count=os.cpu_count() or 2)).recommendation
    assert rec.model in ("sequential", "threads")
    assert any("per-task cost dominates" in x for x in rec.warnings)
    print(f"\n50 µs records: per-task overhead {m['task_overhead_ms']:.2f} ms vs "
          f"{m['task_compute_ms']:.3f} ms of work; celery×2 {queue.throughput_rps:,.0f}/s, "
          f"sequential {seq.throughput_rps:,.0f}/s")


@slow
@pytest.mark.parametrize("broker", BROKERS)
def test_a_worker_killed_mid_trial_is_redelivered_and_nothing_hangs(broker, tmp_path, monkeypatch):
    need(broker)
    monkeypatch.setenv("CONCUR_TEST_KILL_MARKER", str(tmp_path / "killed"))
    start = time.monotonic()
    t = celery_run(broker, work("dies_once"), 2, 100, visibility_timeout_s=2)
    assert (tmp_path / "killed").exists()
    assert t.status == "ok", t.status_detail
    m = t.model_metrics
    assert m["workers_lost"] == 1 and m["tasks_redelivered"] >= 1 and m["tasks_lost"] == 0, m
    assert t.errors == 0 and t.records == 100
    assert time.monotonic() - start < 60
    rec = analyse(make_results(t)).recommendation
    assert any("1 worker(s) died" in x and "acks late" in x for x in rec.warnings)
    assert not celery_workers_alive()


@slow
def test_with_early_acks_a_killed_workers_task_is_lost_and_counted(tmp_path, monkeypatch):
    broker = need(REDIS)
    monkeypatch.setenv("CONCUR_TEST_KILL_MARKER", str(tmp_path / "killed"))
    t = celery_run(broker, work("dies_once"), 2, 100, acks="early")
    assert t.status == "ok", t.status_detail
    m = t.model_metrics
    assert m["workers_lost"] == 1 and m["tasks_lost"] >= 1, m
    assert t.errors_by_type.get("TaskLost", 0) >= 1 and t.errors == m["tasks_lost"]
    assert not celery_workers_alive()


@slow
def test_cli_runs_threads_and_celery_and_skips_celery_on_a_dead_broker(tmp_path):
    need(REDIS)
    out = tmp_path / "run"
    done = run_cli("run", work("sleep_10ms"), "--models", "threads,celery", "--concurrency", "2",
                   "--records", "60", "--broker", REDIS, "--out", str(out), "--no-report", "--quiet")
    assert done.returncode == 0, done.stderr
    data = json.loads((out / "results.json").read_text())
    models = {(t["model"], t["concurrency"]) for t in data["trials"] if t["status"] == "ok"}
    assert models == {("threads", 2), ("celery", 2)}
    celery = next(t for t in data["trials"] if t["model"] == "celery")
    assert celery["model_metrics"]["task_overhead_ms"] >= 0

    dead = run_cli("run", work("sleep_10ms"), "--models", "threads,celery", "--concurrency", "2",
                   "--records", "30", "--broker", "redis://127.0.0.1:1/0", "--out", str(tmp_path / "dead"),
                   "--no-report", "--quiet")
    assert dead.returncode == 0, dead.stderr
    skipped = json.loads((tmp_path / "dead" / "results.json").read_text())["skipped"]
    assert any(s["model"] == "celery" and "no broker reachable" in s["reason"] for s in skipped)

    alone = run_cli("run", work("sleep_10ms"), "--models", "celery", "--concurrency", "2",
                    "--broker", "redis://127.0.0.1:1/0", "--out", str(tmp_path / "alone"))
    assert alone.returncode == 2 and "Traceback" not in alone.stderr
    assert alone.stderr.strip().count("\n") == 0 and "no broker reachable" in alone.stderr
    bad = run_cli("run", work("sleep_10ms"), "--models", "threads", "--broker", REDIS)
    assert bad.returncode == 2 and "--broker only applies to the celery model" in bad.stderr
