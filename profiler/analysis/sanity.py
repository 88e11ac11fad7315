"""Numbers that cannot be right: caught, re-measured, and named when they persist.

Three readings are impossible or untrustworthy on their face:
- a speedup over sequential above N × 1.15 for N workers (N workers cannot do more than
  N times one worker's work; 15 % covers the noise of two measurements and caches that
  warm faster with more workers); one worker's work is sequential's fastest reading
  (`Standings.sequential_capacity_rps`): a slow one was slowed by something else;
- CPU above the machine's cores (× 1.05 for the CPU clock's tick): a window so short that
  one process's tick lands inside it;
- a timed window under 0.3 s: start-up and drain are a large share of it (concur's
  throughput read 0.955 of an independent oracle's below 0.3 s, 0.991 above).

The sweep re-measures a trial that trips one (longer window, and sequential again when a
speedup is at stake), marks the first one `suspect` and keeps it out of its
configuration when the re-measurement is clean (`analysis.standings`), or when it
reproduces a speed-up beyond N workers (`run.sweep.Sweep._reproduced`: measured, not
impossible; the caveats name it). When anything else persists, the caveats say so with
the reason: an impossible number is never printed silently. Pure functions over numbers,
used by the sweep and by the caveats.
"""

from __future__ import annotations

from dataclasses import dataclass

from profiler import format as fmt
from profiler.results import Config, Trial

SPEEDUP_SLACK = 1.15
CPU_SLACK = 1.05
MIN_WINDOW_S = 0.3
NOT_REMEASURED = " (explicit grid: not re-measured)"  # ends a suspect mark no re-measurement tested


@dataclass(frozen=True)
class Reason:
    """One impossible reading: which check ("window", "cpu", "speedup") and the sentence."""

    check: str
    text: str

    def __str__(self) -> str:
        return self.text


def reasons(model: str, concurrency: int, workers: int, throughput_rps: float,
            cpu_util: float | None, wall_s: float | None, sequential_rps: float | None,
            cpu_count: int) -> list[Reason]:
    """Why these readings cannot be trusted as they are ([] when they can)."""
    out: list[Reason] = []
    if wall_s is not None and wall_s < MIN_WINDOW_S:
        out.append(Reason("window", f"a {fmt.seconds(wall_s)} window (under {MIN_WINDOW_S} s, "
                                    "start-up and drain are a large share of it)"))
    if cpu_util is not None and cpu_count and cpu_util > cpu_count * CPU_SLACK:
        out.append(Reason("cpu", f"{fmt.cores(cpu_util)} busy on a {cpu_count}-core machine"))
    n = max(concurrency, workers, 1)
    if (sequential_rps and model != "sequential" and concurrency >= 1
            and throughput_rps > sequential_rps * n * SPEEDUP_SLACK):
        out.append(Reason("speedup", f"{fmt.times(throughput_rps / sequential_rps)} sequential's fastest "
                                     f"reading with {n} worker{'s' if n > 1 else ''} "
                                     f"(above {n} × {SPEEDUP_SLACK})"))
    return out


def trial_reasons(t: Trial, sequential_rps: float | None, cpu_count: int) -> list[Reason]:
    if not t.ok:
        return []
    return reasons(t.model, t.concurrency, t.workers, t.throughput_rps, t.cpu_util, t.wall_s,
                   sequential_rps, cpu_count)


def config_reasons(c: Config, sequential_rps: float | None, cpu_count: int) -> list[Reason]:
    """A configuration's readings: mean throughput, worst CPU, shortest window."""
    walls = c.values("wall_s")
    return reasons(c.model, c.concurrency, max(t.workers for t in c.trials), c.throughput_rps,
                   c.peak("cpu_util"), min(walls) if walls else None, sequential_rps, cpu_count)


def mark_unconfirmed(trials: list[Trial], cpu_count: int) -> None:
    """An explicit grid re-measures nothing: each trial whose speed-up or CPU is impossible
    against its run's sequential is marked `suspect` (not re-measured), so the standings
    exclude what the caveats call suspect and the grid never recommends it. The window
    check is left out: the grid's records are the user's `--records`."""
    seq = [t.throughput_rps for t in trials if t.ok and t.model == "sequential"]
    seq_rps = max(seq) if seq else None  # one worker's capacity, as the standings read it
    for t in trials:
        why = [w for w in trial_reasons(t, seq_rps, cpu_count) if w.check != "window"]
        if why and not t.suspect:
            t.suspect = "; ".join(map(str, why)) + NOT_REMEASURED


def cpu_impossible(cpu_util: float | None, cpu_count: int) -> bool:
    return cpu_util is not None and bool(cpu_count) and cpu_util > cpu_count * CPU_SLACK
