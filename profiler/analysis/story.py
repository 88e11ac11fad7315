"""The story: the job as it was (a thread pool) against its rewrite (asyncio), in one sentence.

concur exists because a 300,000-record batch job was rewritten from a thread pool to
asyncio and ran 40 minutes slower: too many database sessions, an event loop busy with
its own bookkeeping next to the real work, an optimisation aimed at the wrong
bottleneck. When a run holds both forms of a job (a target with a sync and an async
handle; a gate's or a compare's two sides) the verdict answers that first:

    The asyncio rewrite (gather over all records) would take 3 h 28 min for 300,000
    records vs 7 min 21 s for the thread pool (threads×4) (+3 h 20 min): it held 24× the
    database sessions (96 admitted at once vs 4; 1,475 attempts refused), 94 % of its
    records failed, and its event-loop lag p99 was 2,288 ms.

Pure functions over measured configurations; every number is a field of the trials
(or of `--attribution`'s entries) in the same results. A figure that was not measured
is left out of the sentence, never guessed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from profiler import format as fmt
from profiler.analysis.standings import table
from profiler.models import MODELS
from profiler.results import Attribution, Config, Results, Story, StorySide, Trial

# What a client raises when the server has no slot left (asyncpg, psycopg): counted as
# refusals when the server's own log cannot be read (a server given by --dsn).
REFUSAL_ERRORS = frozenset({"TooManyConnectionsError", "TooManyConnections",
                            "CannotConnectNowError"})
TOP_WAITS = 3
POOL_NAMES = {"threads": ("the thread pool", "thread", "threads"),
              "processes": ("the process pool", "process", "processes")}


def is_rewrite_model(model: str) -> bool:
    """A model that runs the async handle on an event loop (asyncio, uvloop)."""
    found = MODELS.get(model)
    return found is not None and found.has_loop and found.unbounded


def tell(results: Results, total: int | None = None) -> Story | None:
    """The story of one run holding both forms of the job (a sync and an async handle):
    the rewrite is the unbounded gather if it completed (asyncio before uvloop), else the
    fastest event-loop configuration; the job as it was is the best thread pool, else the
    best configuration without an event loop. None when either is missing."""
    if results.workload.handle_kind != "both":
        return None
    s = table(results)
    unbounded = [c for c in s.configs if is_rewrite_model(c.model) and c.concurrency == 0]
    rewrite = (min(unbounded, key=lambda c: c.model != "asyncio") if unbounded
               else s.first(lambda c: is_rewrite_model(c.model), eligible_only=False))
    baseline = (s.first(lambda c: c.model == "threads")
                or s.first(lambda c: not is_rewrite_model(c.model)))
    if rewrite is None or baseline is None:
        return None
    story = story_of(baseline, rewrite, total or results.workload.total_records,
                     results.attribution)
    unfinished = [t for t in results.trials
                  if t.concurrency == 0 and is_rewrite_model(t.model) and not t.ok]
    if unfinished and not unbounded:
        t = unfinished[0]
        story.details.insert(0, f"The unbounded rewrite ({t.label}) did not finish a trial "
                                f"of {fmt.count(t.records)} records: {t.status_detail or t.status}; "
                                f"the rewrite above is its fastest bounded form.")
    return story


def story_of(baseline: Config, rewrite: Config, total: int | None,
             attribution: Sequence[Attribution] = ()) -> Story:
    """The story of two measured configurations (pure)."""
    b = side(baseline, "job", total, attribution)
    r = side(rewrite, "rewrite", total, attribution)
    if b.name == r.name:  # two versions of one job under the same model: say which is which
        b.name, r.name = f"the job as it was ({b.config})", f"the rewrite ({r.config})"
    delta = r.batch_s - b.batch_s if r.batch_s is not None and b.batch_s is not None else None
    shared = any(t.probe_metrics.get("db_server_shared") is True
                 for t in (*baseline.trials, *rewrite.trials))
    story = Story(total, b, r, delta, server_shared=shared)
    story.headline = headline(story)
    story.details = details(story)
    return story


def side_name(model: str, concurrency: int, role: str) -> str:
    """"the thread pool of 4 threads", "the asyncio rewrite (gather over all records)"."""
    if is_rewrite_model(model):
        how = "gather over all records" if concurrency == 0 else f"{concurrency} records in flight"
        return f"the {model} {role} ({how})"
    if model == "sequential":
        return "the sequential job"
    if model in POOL_NAMES:
        name, one, many = POOL_NAMES[model]
        return f"{name} of {fmt.count(concurrency)} {one if concurrency == 1 else many}"
    return f"the {model} {role} ({fmt.config(model, concurrency)})"


def side(c: Config, role: str, total: int | None,
         attribution: Sequence[Attribution] = ()) -> StorySide:
    rps = c.throughput_rps
    refused, source = refusals(c.trials)
    sessions = c.peak("db_connections_peak")
    sockets = c.peak("connections_peak")
    return StorySide(
        name=side_name(c.model, c.concurrency, role),
        config=c.label, model=c.model, concurrency=c.concurrency, rps=rps,
        batch_s=total / rps if total and rps > 0 else None,
        db_sessions_peak=None if sessions is None else int(sessions),
        db_refused=refused, db_refused_source=source,
        cpu_per_record_ms=c.mean_of(lambda t: t.cpu_ms_per_record),
        server_cpu_per_record_ms=c.mean_of(lambda t: t.server_cpu_ms_per_record),
        loop_lag_p99_ms=c.peak("loop_lag_p99_ms"),
        error_rate=c.error_rate, repeats=c.repeats,
        records_per_trial=max(t.records for t in c.trials),
        client_sockets_peak=None if sockets is None else int(sockets),
        top_waits=top_waits(c.trials),
        loop_overhead_cores=loop_overhead(c, attribution),
    )


def refusals(trials: Sequence[Trial]) -> tuple[int | None, str]:
    """Connection attempts refused, worst repeat: the server's log when it was read, else the
    client's refusal errors (when a server was probed or such errors were raised)."""
    logged = [t.db_refused for t in trials if t.db_refused is not None]
    if logged:
        return max(logged), "server log"
    raised = [sum(n for kind, n in t.errors_by_type.items() if kind in REFUSAL_ERRORS) for t in trials]
    if any(raised) or any(t.db_connections_peak is not None for t in trials):
        return max(raised), "client errors"
    return None, ""


def top_waits(trials: Sequence[Trial]) -> dict[str, float]:
    """Where the database's active sessions were, by wait type, as shares of the samples."""
    merged: Counter[str] = Counter()
    for t in trials:
        waits = t.probe_metrics.get("db_waits")
        if isinstance(waits, dict):
            merged.update({str(k): int(v) for k, v in waits.items() if isinstance(v, int | float)})
    total = sum(merged.values())
    return {k: round(v / total, 3) for k, v in merged.most_common(TOP_WAITS)} if total else {}


def loop_overhead(c: Config, attribution: Sequence[Attribution]) -> float | None:
    """Cores of event-loop bookkeeping: --attribution's yappi share of the loop's own code
    times the configuration's measured CPU (None without an attribution of it)."""
    cpu = c.mean_of("cpu_util")
    for entry in attribution:
        if (entry.model, entry.concurrency) == c.key and entry.loop_internal_share is not None \
                and cpu is not None:
            return entry.loop_internal_share * cpu
    return None


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _join(clauses: list[str]) -> str:
    if len(clauses) <= 2:
        return " and ".join(clauses)
    return ", ".join(clauses[:-1]) + ", and " + clauses[-1]


SAME_COUNT = 1.25  # connection counts within this factor of each other are not news


def _differs(rewrite: int | None, baseline: int | None) -> bool:
    """Both measured, and far enough apart to be worth a clause of the headline."""
    if rewrite is None or baseline is None:
        return False
    ratio = max(rewrite, 1) / max(baseline, 1)
    return ratio >= SAME_COUNT or ratio <= 1 / SAME_COUNT


def headline(story: Story) -> str:
    b, r = story.baseline, story.rewrite
    if story.total and r.batch_s is not None and b.batch_s is not None:
        head = (f"{_cap(r.name)} would take {fmt.duration(r.batch_s)} for {fmt.count(story.total)} "
                f"records vs {fmt.duration(b.batch_s)} for {b.name} "
                f"({fmt.signed_duration(story.delta_s)})")
    elif r.rps <= 0:
        head = f"{_cap(r.name)} completed no record without an error, {b.name} {fmt.rps(b.rps)}"
    else:
        head = (f"{_cap(r.name)} ran at {fmt.rps(r.rps)} vs {fmt.rate(b.rps)} for {b.name} "
                f"({fmt.signed_pct(r.rps / b.rps - 1) if b.rps > 0 else fmt.NA})")
    clauses = []
    if _differs(r.db_sessions_peak, b.db_sessions_peak):
        ratio = r.db_sessions_peak / max(b.db_sessions_peak, 1)
        text = (f"it held {fmt.times(ratio)} the database sessions "
                f"({fmt.count(r.db_sessions_peak)} admitted at once vs {fmt.count(b.db_sessions_peak)}")
        if r.db_refused:
            text += f"; {fmt.count(r.db_refused)} attempts refused"
        clauses.append(text + ")")
    elif _differs(r.client_sockets_peak, b.client_sockets_peak):
        ratio = r.client_sockets_peak / max(b.client_sockets_peak, 1)
        clauses.append(f"it opened {fmt.times(ratio)} the client sockets "
                       f"({fmt.count(r.client_sockets_peak)} vs {fmt.count(b.client_sockets_peak)})")
    if r.error_rate >= 0.01:
        clauses.append(f"{fmt.pct(r.error_rate)} of its records failed")
    if r.loop_overhead_cores is not None:
        clauses.append(f"it spent {fmt.cores(r.loop_overhead_cores)} in the event loop's own "
                       "bookkeeping")
    if r.loop_lag_p99_ms is not None:
        clauses.append(f"its event-loop lag p99 was {fmt.ms(r.loop_lag_p99_ms)}")
    return head + (f": {_join(clauses)}." if clauses else ".")


def details(story: Story) -> list[str]:
    """The numbers behind the headline that do not fit in it: the database's own cost per
    record next to the client's, where the database waited, and how connections were counted."""
    b, r = story.baseline, story.rewrite
    out = []
    costs = []
    if r.server_cpu_per_record_ms is not None or b.server_cpu_per_record_ms is not None:
        costs.append(f"the database server spent {fmt.ms(r.server_cpu_per_record_ms)} of CPU vs "
                     f"{fmt.ms(b.server_cpu_per_record_ms)}")
    if r.cpu_per_record_ms is not None or b.cpu_per_record_ms is not None:
        costs.append(f"the client {fmt.ms(r.cpu_per_record_ms)} vs {fmt.ms(b.cpu_per_record_ms)}")
    if costs:
        shared = " (the whole server's CPU: other clients' sessions count too)" if story.server_shared else ""
        out.append(f"Per record ({r.config} vs {b.config}): {'; '.join(costs)}{shared}.")
    waits = [f"{s.config}: " + ", ".join(f"{k} {fmt.pct(v)}" for k, v in s.top_waits.items())
             for s in (r, b) if s.top_waits]
    if waits:
        out.append("Where the database's active sessions were (share of samples; CPU = running): "
                   + "; ".join(waits) + ".")
    if r.db_sessions_peak is not None and r.client_sockets_peak is not None:
        out.append(f"Connections, counted three ways for {r.config}: {fmt.count(r.db_sessions_peak)} "
                   f"sessions admitted at once (the server's count), "
                   f"{fmt.count(r.db_refused) if r.db_refused is not None else fmt.NA} attempts "
                   f"refused ({r.db_refused_source or 'not counted'}), "
                   f"{fmt.count(r.client_sockets_peak)} client sockets at peak (refused attempts "
                   "included).")
    if not story.total:
        out.append("Give --total N (records in the whole batch) for the batch's time each way.")
    return out
