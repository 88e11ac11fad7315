"""What kind of work is this? CPU-bound, I/O-bound or mixed, refined by how it scaled.

The label comes from one number a user can check: CPU seconds per wall second of the
sequential trial (`cpu_fraction`; run-queue wait counts as CPU, see `_cpu_demand_s`). One worker doing pure Python CPU work keeps one core
busy (≈ 1.0); one worker waiting on a database keeps almost none busy (≈ 0.0). The
thresholds (≥ 0.7 CPU-bound, ≤ 0.3 I/O-bound) are printed in the evidence so a reader can
disagree with them. Scaling then refines the label:

- "releases-GIL": threads scaled like processes on CPU work, so the hot code is native
  and drops the GIL (numpy, hashlib, zlib ...): threads are enough, processes are not needed.
- "serialized": nothing at N ≥ 2 got meaningfully faster and CPU stayed low, so the work
  waits on one shared thing (a lock, a DB row, a connection limit): more concurrency
  cannot help; that resource must change.

Near a threshold the label is "borderline" rather than a coin flip: when the CPU
fraction lies within its noise of a threshold (two standard deviations of the sequential
repeats, at least `NOISE_FLOOR`; `ASSUMED_NOISE` when it was measured once), both readings
are named (`readings`) with what each would mean, and the recommendation, which rests
on measured throughput, not on the label, stands either way.

When the data cannot carry a verdict (no usable trial, too few records, too short a
window, CPU not measured) the answer is "unknown" with the reason, never a guess.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from profiler import format as fmt
from profiler.analysis.configs import ERROR_ALLOWANCE
from profiler.analysis.failure import handler_failure
from profiler.analysis.standings import table
from profiler.results import Classification, Config, Results, Trial
from profiler.results.standings import UNCONFIRMED, concurrency_key
from profiler.stats import coefficient_of_variation, single_spread

CPU_BOUND_AT = 0.70  # cpu_fraction at or above: CPU-bound
IO_BOUND_AT = 0.30  # cpu_fraction at or below: I/O-bound
MIN_RECORDS = 20  # fewer records than this and one slow record moves the fraction
MIN_WALL_S = 0.2  # shorter windows are dominated by sampling granularity (~50 ms)
FEW_RECORDS = 50  # usable, but confidence drops

RELEASES_GIL_SPEEDUP = 1.5  # threads at N ≥ 2 at least this much faster than sequential ...
RELEASES_GIL_CPU_UTIL = 1.3  # ... while keeping more than this many cores busy
SERIALIZED_MIN_N = 2  # the sweep stops a climb at N=2 when nothing gains; that is evidence enough
SERIALIZED_SPEEDUP = 1.3  # no configuration at N ≥ 2 reaches this ...
SERIALIZED_CPU_UTIL = 0.5  # ... and CPU stays under this many cores,
SERIALIZED_CPU_GROWTH = 1.3  # ... or under this multiple of sequential's (CPU did not grow with N)
SCALED_SPEEDUP = 1.3  # worth a sentence of scaling evidence

# The noise of the CPU fraction: how far another run's reading may land.
NOISE_FLOOR = 0.02  # CPU times tick at 10 ms per process: ±0.01-0.02 of a ~1 s window
ASSUMED_NOISE = 0.05  # measured once: the run-to-run spread seen on a busy 2-core machine

# Confidence from the distance of cpu_fraction to the nearest threshold.
HIGH_DISTANCE = 0.10
MEDIUM_DISTANCE = 0.03
SINGLE_RUN_SAFE_DISTANCE = 0.20  # this far from a threshold, one run is enough
NOISY_CV = 0.10
LEVELS = ("low", "medium", "high")


def classify(results: Results) -> Classification:
    """Label the work from its sequential trial(s), refined by scaling evidence;
    `basis_trial` indexes `results.trials` (the first repeat used)."""
    failure = handler_failure(results)
    if failure is not None:  # nothing ran: no figure of it describes the work
        return Classification("failed", evidence=failure.evidence())
    basis, notes, reason = _choose_basis(results)
    if basis is None:
        return _unknown(notes + [reason])

    trials = [results.trials[i] for i in basis]
    fractions = [_cpu_demand_s(t) / t.wall_s for t in trials]
    wall = sum(t.wall_s for t in trials)
    cpu_fraction = sum(_cpu_demand_s(t) for t in trials) / wall
    spread = single_spread(fractions)
    noise = max(spread, NOISE_FLOOR) if spread is not None else ASSUMED_NOISE
    readings = _readings(cpu_fraction, noise)
    label = readings[0] if len(readings) == 1 else "borderline"
    name = trials[0].label

    evidence = list(notes)
    repeats = f" ({len(trials)} repeats)" if len(trials) > 1 else ""
    queued = sum(t.runqueue_wait_s or 0.0 for t in trials) / wall
    parts = (f" ({cpu_fraction - queued:.2f} on CPU + {queued:.2f} runnable, waiting for a core "
             "on this busy machine)" if queued >= 0.05 else "")
    if spread is None:
        why_noise = "noise assumed: measured once"
    elif spread >= NOISE_FLOOR:
        why_noise = "two standard deviations of the repeats"
    else:
        why_noise = "the CPU clock's resolution; the repeats agree closer than that"
    noise_phrase = f" ± {noise:.2f} ({why_noise})"
    evidence.append(
        f"{name}{repeats}: {cpu_fraction:.2f}{noise_phrase} CPU s per wall s{parts} "
        f"({_threshold_phrase(label)})"
    )
    if label == "borderline":
        evidence.append(_borderline_sentence(readings, cpu_fraction, noise,
                                             results.environment.cpu_count))

    # Scaling evidence from every configuration but those whose reading was never confirmed.
    configs = [r.config for r in table(results).rows if r.kind not in UNCONFIRMED]
    base_rps = statistics.fmean(t.throughput_rps for t in trials)
    refinements: list[str] = []
    if base_rps > 0:
        refinements, scaling_evidence = _refine(results, configs, readings, name, base_rps, trials[0])
        evidence.extend(scaling_evidence)

    confidence, why = _confidence(label, cpu_fraction, trials, fractions, fallback=bool(notes))
    evidence.append(f"confidence {confidence}: {why}")
    return Classification(label, cpu_fraction, confidence, refinements, evidence, basis[0],
                          readings=readings, cpu_fraction_noise=noise,
                          noise="measured" if spread is not None else "assumed")


def _cpu_demand_s(t: Trial) -> float:
    """CPU the worker used plus the time it was runnable but had no core: on a busy
    machine a CPU-bound worker queues for a core, and that wait is CPU demand, not I/O."""
    cpu = t.cpu_s
    assert cpu is not None  # only usable trials get here
    return cpu + (t.runqueue_wait_s or 0.0)


def _unusable(t: Trial) -> str | None:
    """Why a trial cannot carry a classification, or None when it can."""
    if t.cpu_s is None:
        return "CPU time was not measured"
    if t.records < MIN_RECORDS:
        return f"only {t.records} records in the timed window (need ≥ {MIN_RECORDS})"
    if t.wall_s < MIN_WALL_S:
        return f"timed window of {t.wall_s:.3f} s (need ≥ {MIN_WALL_S} s)"
    return None


def _choose_basis(results: Results) -> tuple[list[int] | None, list[str], str]:
    """Indices of the trials to classify from, notes about a fallback, and why none if None.

    Sequential first; without a usable one, the lowest-concurrency threads trials (at N = 1
    that is the same work; at N > 1 the CPU per wall second counts several workers).
    """
    ok = [(i, t) for i, t in enumerate(results.trials) if t.ok]
    if not ok:
        return None, [], "no trial completed, so there is nothing to classify"

    sequential = [(i, t) for i, t in ok if t.model == "sequential"]
    counted = table(results).sequential  # its clean repeats, or its suspect ones when none is clean
    usable = [i for i in (counted.indices if counted else ()) if _unusable(results.trials[i]) is None]
    if usable:
        return usable, [], ""

    if sequential:
        why_not = f"sequential trial unusable: {_unusable(sequential[0][1])}"
    elif any(t.model == "sequential" for t in results.trials):
        why_not = "the sequential trial did not complete"
    else:
        why_not = "no sequential trial was run"

    threads = [(i, t) for i, t in ok if t.model == "threads" and t.concurrency >= 1]
    threads_usable = [(i, t) for i, t in threads if _unusable(t) is None]
    if not threads_usable:
        if threads:
            why_not += f"; threads trials unusable too: {_unusable(threads[0][1])}"
        return None, [], why_not

    lowest = min(t.concurrency for _, t in threads_usable)
    basis = [i for i, t in threads_usable if t.concurrency == lowest]
    note = f"{why_not}: classified from {fmt.config('threads', lowest)}, the lowest concurrency measured"
    if lowest > 1:
        note += (
            f" (its CPU per wall second adds up {lowest} workers, so it can overstate the CPU "
            "share of one record)"
        )
    return basis, [note], ""


def _unknown(evidence: list[str]) -> Classification:
    return Classification("unknown", evidence=[e for e in evidence if e])


def _label(cpu_fraction: float) -> str:
    if cpu_fraction >= CPU_BOUND_AT:
        return "cpu-bound"
    if cpu_fraction <= IO_BOUND_AT:
        return "io-bound"
    return "mixed"


def _readings(cpu_fraction: float, noise: float) -> list[str]:
    """Every label the CPU fraction may take within its noise, from I/O- to CPU-bound."""
    low, high = cpu_fraction - noise, cpu_fraction + noise
    out = [_label(low)]
    if low <= IO_BOUND_AT and high >= CPU_BOUND_AT:
        out.append("mixed")
    if _label(high) not in out:
        out.append(_label(high))
    return out


CONSEQUENCES = {
    "io-bound": "the workers mostly wait, so threads or an event loop overlap the waits and N "
                "can go far past the cores",
    "mixed": "part of each record holds a core, so threads gain until that part fills one core "
             "(about {one_core:.1f}× sequential) and processes go further, a core each",
    "cpu-bound": "each record keeps a core busy, so only processes (or native code that releases "
                 "the GIL) scale, up to the {cores} cores",
}


def _borderline_sentence(readings: list[str], cpu_fraction: float, noise: float,
                         cores: int) -> str:
    """Both readings and what each would mean; the recommendation does not depend on it."""
    titles = [fmt.LABEL_TITLES.get(r, r) for r in readings]
    thresholds = [t for t in (IO_BOUND_AT, CPU_BOUND_AT) if abs(cpu_fraction - t) <= noise]
    parts = [f"read as {fmt.LABEL_TITLES.get(r, r)}, {CONSEQUENCES[r]}".format(
        one_core=1 / max(cpu_fraction, 1e-9), cores=cores) for r in readings]
    return (f"borderline between {' and '.join(titles)}: the CPU fraction is within its noise of "
            f"the {' and '.join(f'{t:.2f}' for t in thresholds)} threshold"
            f"{'s' if len(thresholds) > 1 else ''}; " + "; ".join(parts)
            + ". The recommendation rests on measured throughput, so it holds either way")


def _threshold_phrase(label: str) -> str:
    if label == "borderline":
        return f"thresholds: ≤ {IO_BOUND_AT:.2f} I/O-bound, ≥ {CPU_BOUND_AT:.2f} CPU-bound"
    if label == "cpu-bound":
        return f"threshold: ≥ {CPU_BOUND_AT:.2f} is CPU-bound"
    if label == "io-bound":
        return f"threshold: ≤ {IO_BOUND_AT:.2f} is I/O-bound"
    return f"between the I/O-bound ≤ {IO_BOUND_AT:.2f} and CPU-bound ≥ {CPU_BOUND_AT:.2f} thresholds"


@dataclass(frozen=True)
class _Scaling:
    """What the refinements compare against: the basis and every other configuration."""

    results: Results
    readings: list[str]  # the label, or both readings of a borderline one
    base_name: str
    base_rps: float
    base_trial: Trial
    others: list[Config]

    def speedup(self, c: Config) -> float:
        return c.throughput_rps / self.base_rps


def _refine(results: Results, configs: list[Config], readings: list[str], base_name: str,
            base_rps: float, base_trial: Trial) -> tuple[list[str], list[str]]:
    """Refinements and the scaling sentences that support (or frame) them."""
    others = [c for c in configs if c.key != base_trial.key and c.model != "sequential"]
    s = _Scaling(results, readings, base_name, base_rps, base_trial, others)
    refinements: list[str] = []
    evidence = _gil_evidence(s, refinements)
    serialized = _serialized_evidence(s)
    if serialized:
        return [*refinements, "serialized"], evidence + [serialized]
    if "releases-GIL" not in refinements and others:
        best = max(others, key=s.speedup)
        cpu = best.mean_of("cpu_util")
        if s.speedup(best) >= SCALED_SPEEDUP and cpu is not None:
            still = "still " if readings == ["io-bound"] else ""
            evidence.append(f"{best.label} ran {fmt.times(s.speedup(best))} faster than {base_name} "
                            f"with CPU {still}at {fmt.cores(cpu)}")
    return refinements, evidence


def _gil_evidence(s: _Scaling, refinements: list[str]) -> list[str]:
    """Threads scaling like processes on CPU work: the hot code releases the GIL."""
    if not {"cpu-bound", "mixed"} & set(s.readings):
        return []
    if not s.results.environment.gil_enabled:
        return ["free-threaded Python (GIL disabled): threads scaling on CPU work is expected "
                "here and says nothing about native code"]
    threads = [c for c in s.others if c.model == "threads" and c.concurrency >= 2]
    gil_free = [c for c in threads if s.speedup(c) >= RELEASES_GIL_SPEEDUP
                and (c.mean_of("cpu_util") or 0.0) > RELEASES_GIL_CPU_UTIL]
    if gil_free:
        best = max(gil_free, key=s.speedup)
        sentence = (
            f"{best.label} ran {fmt.times(s.speedup(best))} faster than {s.base_name} using "
            f"{fmt.cores(best.mean_of('cpu_util') or 0.0)} (thresholds: ≥ {RELEASES_GIL_SPEEDUP}× "
            f"with > {RELEASES_GIL_CPU_UTIL} cores): the work releases the GIL (native code), "
            "so threads scale like processes")
        procs = next((c for c in s.others if c.model == "processes"
                      and c.concurrency == best.concurrency), None)
        if procs is not None:
            sentence += f" ({procs.label}: {fmt.times(s.speedup(procs))})"
        refinements.append("releases-GIL")
        return [sentence]
    best_threads = max(threads, key=s.speedup, default=None)
    best_procs = max((c for c in s.others if c.model == "processes" and c.concurrency >= 2),
                     key=s.speedup, default=None)
    if (best_threads is not None and best_procs is not None
            and s.speedup(best_threads) < SCALED_SPEEDUP
            and s.speedup(best_procs) >= RELEASES_GIL_SPEEDUP):
        return [f"threads reached only {fmt.times(s.speedup(best_threads))} ({best_threads.label}) "
                f"while {best_procs.label} reached {fmt.times(s.speedup(best_procs))}: the GIL "
                "serialises the Python work"]
    return []


def _serialized_evidence(s: _Scaling) -> str | None:
    """Nothing scales at N ≥ 2 while CPU stays low: a shared resource serialises the work.

    CPU-bound work that does not scale under threads is the GIL's doing (processes are the
    answer), not a shared resource's: with a CPU-bound reading only processes count as
    evidence, since they have no GIL (an SQLite writer at 0.7 CPU s per wall s gets
    nowhere with four processes either). An external dask cluster's CPU is not in our
    samples (the client's only), so it is no evidence either way."""
    wide = [c for c in s.others if concurrency_key(c.concurrency) >= SERIALIZED_MIN_N
            and not any(t.model_metrics.get("parent_sampled") == "client only" for t in c.trials)]
    if "cpu-bound" in s.readings:
        wide = [c for c in wide if c.model == "processes"]
    measured_cpu = [u for u in (c.mean_of("cpu_util") for c in wide) if u is not None]
    # "Low" is relative: a job with 0.6 cores of per-record work that never gets past
    # 0.6 cores at any N is as stuck as an idle one (the SQLite writer of the seed job).
    cpu_limit = max(SERIALIZED_CPU_UTIL, SERIALIZED_CPU_GROWTH * (s.base_trial.cpu_util or 0.0))
    if not wide or not measured_cpu:
        return None
    best = max(wide, key=s.speedup)
    if s.speedup(best) >= SERIALIZED_SPEEDUP or max(measured_cpu) >= cpu_limit:
        return None
    return (f"no configuration at N ≥ {SERIALIZED_MIN_N} reached {SERIALIZED_SPEEDUP}× "
            f"{s.base_name}: the best, {best.label}, ran {fmt.times(s.speedup(best))} "
            f"({fmt.rate(best.throughput_rps)} vs {fmt.rate(s.base_rps)} records/s) with CPU never "
            f"above {fmt.cores(max(measured_cpu))} (threshold: < {fmt.cores(cpu_limit)}, the larger of "
            f"{SERIALIZED_CPU_UTIL} and {SERIALIZED_CPU_GROWTH}× sequential's): "
            "something serialises the work (a lock, a DB row, a connection limit)")


def _confidence(
    label: str,
    cpu_fraction: float,
    trials: list[Trial],
    fractions: list[float],
    *,
    fallback: bool,
) -> tuple[str, str]:
    """A level and the reasons: threshold distance, repeats, spread, errors, basis."""
    if label == "borderline":
        nearest = min((IO_BOUND_AT, CPU_BOUND_AT), key=lambda t: abs(cpu_fraction - t))
        distance = abs(cpu_fraction - nearest)
    elif label == "io-bound":
        distance, nearest = IO_BOUND_AT - cpu_fraction, IO_BOUND_AT
    elif label == "cpu-bound":
        distance, nearest = cpu_fraction - CPU_BOUND_AT, CPU_BOUND_AT
    else:
        distance = min(cpu_fraction - IO_BOUND_AT, CPU_BOUND_AT - cpu_fraction)
        nearest = IO_BOUND_AT if cpu_fraction - IO_BOUND_AT < CPU_BOUND_AT - cpu_fraction else CPU_BOUND_AT
    level = 2 if distance >= HIGH_DISTANCE else 1 if distance >= MEDIUM_DISTANCE else 0
    reasons = [f"{distance:.2f} from the {nearest:.2f} threshold"]
    if label == "borderline":
        level = 0
        reasons.append("within the noise of the CPU fraction: another run may read either side")

    if len(trials) == 1 and distance < SINGLE_RUN_SAFE_DISTANCE:
        level -= 1
        reasons.append("measured once")
    cv = coefficient_of_variation(fractions)
    if cv is not None and cv > NOISY_CV:
        level -= 1
        reasons.append(f"CPU share varied {fmt.pct(cv)} between repeats (> {fmt.pct(NOISY_CV)})")
    records = sum(t.records for t in trials)
    errors = sum(t.errors for t in trials)
    if records and errors / records > ERROR_ALLOWANCE:
        level -= 1
        reasons.append(f"{fmt.pct(errors / records)} of records failed")
    if any(t.records < FEW_RECORDS for t in trials):
        level -= 1
        reasons.append(f"fewer than {FEW_RECORDS} records per trial")
    if fallback:
        level -= 1
        reasons.append("not classified from a usable sequential trial")
    return LEVELS[max(level, 0)], "; ".join(reasons)
