"""Classification: the label from sequential CPU share, refined by how the work scaled."""

from __future__ import annotations

import pytest

from profiler.analysis.classify import classify
from tests.factory import make_results, make_trial


def seq(cpu_fraction: float, **kw):
    return make_trial("sequential", 1, cpu_util=cpu_fraction, **kw)


def steady(cpu_fraction: float, n: int = 3):
    """n sequential repeats that agree exactly: the noise is the CPU clock's floor (0.02)."""
    return [seq(cpu_fraction, repeat=i) for i in range(n)]


@pytest.mark.parametrize(
    ("cpu_fraction", "label"),
    [(0.73, "cpu-bound"), (0.67, "mixed"), (0.33, "mixed"), (0.27, "io-bound"), (1.4, "cpu-bound")],
)
def test_label_follows_cpu_fraction_thresholds(cpu_fraction, label):
    out = classify(make_results(*steady(cpu_fraction)))
    assert out.label == label
    assert out.readings == [label]
    assert out.cpu_fraction == pytest.approx(cpu_fraction)
    assert out.basis_trial == 0


@pytest.mark.parametrize(("cpu_fraction", "readings"), [
    (0.30, ["io-bound", "mixed"]), (0.71, ["mixed", "cpu-bound"]), (0.29, ["io-bound", "mixed"])])
def test_within_the_noise_of_a_threshold_the_label_is_borderline_with_both_readings(
        cpu_fraction, readings):
    out = classify(make_results(*steady(cpu_fraction)))
    assert out.label == "borderline"
    assert out.readings == readings
    assert out.confidence == "low"
    sentence = next(e for e in out.evidence if e.startswith("borderline between"))
    assert all(f"read as {title}" in sentence for title in
               ({"io-bound": "I/O-bound", "mixed": "Mixed CPU and I/O", "cpu-bound": "CPU-bound"}[r]
                for r in readings)), sentence
    assert "holds either way" in sentence


def test_measured_once_near_a_threshold_is_borderline_on_assumed_noise_and_says_so():
    out = classify(make_results(seq(0.33)))
    assert out.label == "borderline" and out.noise == "assumed"
    assert out.cpu_fraction_noise == pytest.approx(0.05)
    assert "sequential: 0.33 ± 0.05 (noise assumed: measured once) CPU s per wall s" in out.evidence[0]


def test_noisy_repeats_widen_the_borderline_band():
    """Two standard deviations of the repeats: 0.40 ± 0.12 reaches the 0.30 threshold."""
    out = classify(make_results(seq(0.34, repeat=0), seq(0.40, repeat=1), seq(0.46, repeat=2)))
    assert out.label == "borderline" and out.noise == "measured"
    assert out.cpu_fraction_noise == pytest.approx(0.12)
    assert out.readings == ["io-bound", "mixed"]


def test_far_from_thresholds_one_measurement_gives_a_clear_label():
    for fraction, label in ((0.1, "io-bound"), (0.5, "mixed"), (0.95, "cpu-bound")):
        assert classify(make_results(seq(fraction))).label == label


def test_borderline_keeps_the_refinements_of_either_reading():
    """Serialized needs no CPU-bound reading; scaling evidence still applies to borderline."""
    out = classify(make_results(*steady(0.30), make_trial("threads", 4, throughput_rps=102.0,
                                                          cpu_util=0.31)))
    assert out.label == "borderline" and "serialized" in out.refinements


def test_cpu_fraction_adds_user_and_system_time_per_wall_second():
    trial = make_trial(cpu_user_s=0.5, cpu_system_s=0.3, wall_s=2.0)
    assert classify(make_results(trial)).cpu_fraction == pytest.approx(0.4)


def test_evidence_states_the_number_and_the_threshold():
    out = classify(make_results(seq(0.08)))
    assert ("sequential: 0.08 ± 0.05 (noise assumed: measured once) CPU s per wall s "
            "(threshold: ≤ 0.30 is I/O-bound)") in out.evidence


@pytest.mark.parametrize(
    ("trial", "reason"),
    [
        (seq(0.1, records=10, throughput_rps=20.0), "only 10 records"),
        (seq(0.1, records=100, throughput_rps=1000.0), "timed window of 0.100 s"),
        (seq(None), "CPU time was not measured"),
    ],
)
def test_too_little_data_is_unknown_with_the_reason(trial, reason):
    out = classify(make_results(trial))
    assert out.label == "unknown"
    assert out.cpu_fraction is None
    assert out.basis_trial is None
    assert out.confidence == "low"
    assert any(reason in e for e in out.evidence), out.evidence


def test_no_trials_at_all_is_unknown():
    out = classify(make_results())
    assert out.label == "unknown"
    assert "no trial completed" in out.evidence[0]


def test_crashed_sequential_trial_is_not_used():
    crashed = seq(0.95, status="crashed")
    out = classify(make_results(crashed, seq(0.1)))
    assert out.label == "io-bound"
    assert out.basis_trial == 1


def test_without_sequential_the_lowest_threads_trial_is_used_and_said():
    out = classify(make_results(
        make_trial("threads", 8, cpu_util=0.2),
        make_trial("threads", 2, cpu_util=0.1),
        make_trial("asyncio", 1, cpu_util=0.9),
    ))
    assert out.label == "io-bound"
    assert out.basis_trial == 1
    assert "no sequential trial was run" in out.evidence[0]
    assert "threads×2" in out.evidence[0]
    assert out.confidence != "high"


def test_repeats_are_pooled_by_total_cpu_over_total_wall():
    out = classify(make_results(seq(0.1, repeat=0), seq(0.2, repeat=1)))
    assert out.cpu_fraction == pytest.approx(0.15)
    assert "sequential (2 repeats)" in out.evidence[0]


def test_threads_scaling_like_processes_on_cpu_work_releases_the_gil():
    out = classify(make_results(
        seq(0.95, throughput_rps=100.0),
        make_trial("threads", 4, throughput_rps=350.0, cpu_util=3.6),
        make_trial("processes", 4, throughput_rps=370.0, cpu_util=3.8),
    ))
    assert out.label == "cpu-bound"
    assert out.refinements == ["releases-GIL"]
    assert any("threads×4 ran 3.5× faster than sequential using 3.60 cores" in e
               and "processes×4: 3.7×" in e for e in out.evidence), out.evidence


def test_gil_bound_threads_do_not_release_the_gil_and_processes_show_it():
    out = classify(make_results(
        seq(0.95, throughput_rps=100.0),
        make_trial("threads", 4, throughput_rps=104.0, cpu_util=1.0),
        make_trial("processes", 4, throughput_rps=380.0, cpu_util=3.9),
    ))
    assert out.refinements == []
    assert any("the GIL serialises the Python work" in e for e in out.evidence)


def test_threads_speedup_with_too_little_cpu_is_not_releases_gil():
    out = classify(make_results(
        seq(0.8, throughput_rps=100.0),
        make_trial("threads", 4, throughput_rps=200.0, cpu_util=1.2),
    ))
    assert "releases-GIL" not in out.refinements


def test_io_bound_threads_scaling_is_not_called_releasing_the_gil():
    out = classify(make_results(
        seq(0.1, throughput_rps=100.0),
        make_trial("threads", 16, throughput_rps=1400.0, cpu_util=1.4),
    ))
    assert out.refinements == []


def test_free_threaded_python_never_claims_releases_gil():
    out = classify(make_results(
        seq(0.95, throughput_rps=100.0),
        make_trial("threads", 4, throughput_rps=350.0, cpu_util=3.6),
        gil_enabled=False,
    ))
    assert out.refinements == []
    assert any("free-threaded" in e for e in out.evidence)


def test_nothing_scaling_with_low_cpu_is_serialized():
    out = classify(make_results(
        seq(0.05, throughput_rps=28.0),
        make_trial("threads", 4, throughput_rps=30.0, cpu_util=0.1),
        make_trial("threads", 16, throughput_rps=31.0, cpu_util=0.12),
        make_trial("asyncio", 0, throughput_rps=29.0, cpu_util=0.2),
    ))
    assert out.label == "io-bound"
    assert out.refinements == ["serialized"]
    sentence = next(e for e in out.evidence if "serialises" in e)
    assert "threads×16, ran 1.11× (31 vs 28 records/s)" in sentence
    assert "CPU never above 0.20 cores" in sentence


def test_no_scaling_with_busy_cpu_is_not_serialized():
    out = classify(make_results(
        seq(0.9, throughput_rps=100.0),
        make_trial("threads", 4, throughput_rps=101.0, cpu_util=1.0),
    ))
    assert "serialized" not in out.refinements


def test_serialized_needs_a_concurrent_trial():
    out = classify(make_results(seq(0.05, throughput_rps=28.0)))
    assert out.refinements == []


def test_no_gain_at_two_workers_with_low_cpu_is_serialized():
    """The sweep stops at N=2 when nothing gains: for wait-bound work that is the evidence."""
    out = classify(make_results(
        seq(0.05, throughput_rps=28.0),
        make_trial("threads", 2, throughput_rps=29.0, cpu_util=0.1),
    ))
    assert out.refinements == ["serialized"]


def test_scaling_io_work_is_reported_with_its_cpu():
    out = classify(make_results(
        seq(0.08, throughput_rps=28.2),
        make_trial("threads", 16, throughput_rps=412.0, cpu_util=0.31),
    ))
    assert "threads×16 ran 14.6× faster than sequential with CPU still at 0.31 cores" in out.evidence


def test_confidence_is_high_far_from_thresholds_even_measured_once():
    assert classify(make_results(seq(0.05))).confidence == "high"


def test_confidence_is_low_next_to_a_threshold():
    out = classify(make_results(seq(0.29)))
    assert out.confidence == "low"
    assert any(e.startswith("confidence low: 0.01 from the 0.30 threshold") for e in out.evidence)


def test_single_run_near_a_threshold_costs_confidence_that_repeats_restore():
    once = classify(make_results(seq(0.15)))
    thrice = classify(make_results(*(seq(0.15, repeat=i) for i in range(3))))
    assert (once.confidence, thrice.confidence) == ("medium", "high")


def test_noisy_repeats_lower_confidence():
    out = classify(make_results(seq(0.05, repeat=0), seq(0.10, repeat=1), seq(0.15, repeat=2)))
    assert out.confidence == "medium"
    assert any("varied" in e for e in out.evidence)


def test_failing_records_lower_confidence():
    out = classify(make_results(seq(0.05, errors=100)))
    assert out.confidence == "medium"
    assert any("10 % of records failed" in e for e in out.evidence)


def test_run_queue_wait_counts_as_cpu_demand_on_a_busy_machine():
    """A CPU-bound worker that got 0.6 of a core and queued 0.3 s per second for one is
    still CPU-bound; the evidence shows both parts."""
    trial = seq(0.6)
    trial.runqueue_wait_s = 0.3 * trial.wall_s
    out = classify(make_results(trial))
    assert out.label == "cpu-bound"
    assert out.cpu_fraction == pytest.approx(0.9)
    assert "0.60 on CPU + 0.30 runnable" in out.evidence[0]


def test_cpu_that_does_not_grow_with_n_counts_as_low_for_serialized():
    """0.6 cores of per-record work that stays at 0.6 at every N is stuck, not scaling."""
    out = classify(make_results(
        seq(0.6, throughput_rps=100.0),
        make_trial("threads", 4, throughput_rps=106.0, cpu_util=0.65),
        make_trial("processes", 4, throughput_rps=88.0, cpu_util=0.62),
    ))
    assert "serialized" in out.refinements


def test_pure_python_cpu_is_not_serialized_when_processes_scale():
    out = classify(make_results(
        seq(0.95, throughput_rps=100.0),
        make_trial("threads", 2, throughput_rps=98.0, cpu_util=1.0),
        make_trial("processes", 2, throughput_rps=190.0, cpu_util=1.9),
    ))
    assert "serialized" not in out.refinements


def test_a_single_writer_near_the_cpu_threshold_is_serialized_when_processes_do_not_scale():
    """The SQLite writer reads 0.70 CPU s per wall s (borderline mixed / CPU-bound); four
    processes, which no GIL holds back, ran slower with no more CPU: a shared resource."""
    out = classify(make_results(
        seq(0.70, throughput_rps=1000.0),
        make_trial("threads", 4, throughput_rps=640.0, cpu_util=0.5),
        make_trial("processes", 4, throughput_rps=700.0, cpu_util=0.58),
    ))
    assert out.label == "borderline" and "cpu-bound" in out.readings
    assert "serialized" in out.refinements


def test_cpu_bound_work_that_only_threads_failed_to_scale_is_the_gil_not_serialized():
    """Without a processes trial, a CPU-bound job stuck at one core under threads is
    the GIL's doing: no evidence of a shared resource."""
    out = classify(make_results(
        seq(0.95, throughput_rps=100.0),
        make_trial("threads", 4, throughput_rps=99.0, cpu_util=1.0),
    ))
    assert "serialized" not in out.refinements


def test_a_suspect_sequential_trial_is_left_out_when_a_clean_one_exists():
    out = classify(make_results(seq(0.9, suspect="a 0.21 s window"), seq(0.1, repeat=1)))
    assert out.label == "io-bound" and out.basis_trial == 1
