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
from profiler.analysis.configs import fails
from profiler.analysis.predict import prediction, validation_of
from profiler.analysis.standings import table
from profiler.models import MODELS
from profiler.models.workers import REFUSED, RESET, TIMEOUT
from profiler.results import (
    Attribution,
    Config,
    Results,
    Standings,
    Story,
    StorySide,
    Trial,
    Validation,
)

# What a client raises when the server has no slot left (asyncpg, psycopg): counted as
# refusals only in files written before trials classified their errors by SQLSTATE
# (`Trial.connection_failures`), when the server's log was not read either.
REFUSAL_ERRORS = frozenset({"TooManyConnectionsError", "TooManyConnections",
                            "CannotConnectNowError"})
DRIVER_ERRORS = "driver errors"  # db_refused_source: counted on the client, from the driver's error
TOP_WAITS = 3
POOL_NAMES = {"threads": ("the thread pool", "thread", "threads"),
              "processes": ("the process pool", "process", "processes")}


def is_rewrite_model(model: str) -> bool:
    """A model that runs the async handle on an event loop (asyncio, uvloop)."""
    found = MODELS.get(model)
    return found is not None and found.has_loop and found.unbounded


def sides(s: Standings) -> tuple[Config | None, Config | None, Config | None]:
    """(baseline, rewrite, rewrite_bounded) of a run holding both forms of a job: the
    rewrite is the unbounded gather if it completed a trial (asyncio before uvloop), else the
    fastest event-loop configuration; its bounded form the best event-loop configuration
    with N in flight (only beside an unbounded rewrite); the job as it was the best thread
    pool, else the best configuration without an event loop."""
    unbounded = [c for c in s.configs if is_rewrite_model(c.model) and c.concurrency == 0]
    rewrite = (min(unbounded, key=lambda c: c.model != "asyncio") if unbounded
               else s.first(lambda c: is_rewrite_model(c.model), eligible_only=False))
    bounded = bounded_form(s) if unbounded else None
    baseline = (s.first(lambda c: c.model == "threads")
                or s.first(lambda c: not is_rewrite_model(c.model)))
    return baseline, rewrite, bounded


def bounded_form(s: Standings) -> Config | None:
    """The rewrite's best bounded configuration (an event loop with N > 0 records in flight):
    the best eligible one, else the best measured."""
    def keep(c: Config) -> bool:
        return is_rewrite_model(c.model) and c.concurrency > 0
    return s.first(keep) or s.first(keep, eligible_only=False)


def tell(results: Results, total: int | None = None) -> Story | None:
    """The story of one run holding both forms of the job (a sync and an async handle)
    (`sides`). None when the baseline or the rewrite is missing."""
    if results.workload.handle_kind != "both":
        return None
    s = table(results)
    baseline, rewrite, bounded = sides(s)
    if rewrite is None or baseline is None:
        return None
    checked = {c.key: v for c in (baseline, rewrite, bounded)
               if c is not None and (v := validation_of(results, c)) is not None}
    story = story_of(baseline, rewrite, total or results.workload.total_records,
                     results.attribution, bounded, checked)
    unfinished = [t for t in results.trials
                  if t.concurrency == 0 and is_rewrite_model(t.model) and not t.ok]
    if unfinished and not any(c.concurrency == 0 for c in s.configs if is_rewrite_model(c.model)):
        t = unfinished[0]
        story.details.insert(0, f"The unbounded rewrite ({t.label}) did not finish a trial "
                                f"of {fmt.count(t.records)} records: {t.status_detail or t.status}; "
                                f"the rewrite above is its fastest bounded form.")
    return story


def story_of(baseline: Config, rewrite: Config, total: int | None,
             attribution: Sequence[Attribution] = (), bounded: Config | None = None,
             validations: dict[tuple[str, int], Validation] | None = None) -> Story:
    """The story of two measured configurations, and the rewrite's bounded form (pure)."""
    checked = validations or {}
    b = side(baseline, "job", total, attribution, checked.get(baseline.key))
    r = side(rewrite, "rewrite", total, attribution, checked.get(rewrite.key))
    rb = side(bounded, "rewrite", total, attribution, checked.get(bounded.key)) if bounded else None
    if b.name == r.name:  # two versions of one job under the same model: say which is which
        b.name, r.name = f"the job as it was ({b.config})", f"the rewrite ({r.config})"
    for one in (r, rb):
        if one is not None and one.batch_s is not None and b.batch_s is not None:
            one.delta_s = one.batch_s - b.batch_s
    trials = (*baseline.trials, *rewrite.trials, *(bounded.trials if bounded else ()))
    shared = any(t.probe_metrics.get("db_server_shared") is True for t in trials)
    story = Story(total, b, r, r.delta_s, server_shared=shared, rewrite_bounded=rb)
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
         attribution: Sequence[Attribution] = (), validation: Validation | None = None) -> StorySide:
    rps = c.throughput_rps
    refused, source = refusals(c.trials)
    sessions = c.peak("db_connections_peak")
    sockets = c.peak("connections_peak")
    out = StorySide(
        name=side_name(c.model, c.concurrency, role),
        config=c.label, model=c.model, concurrency=c.concurrency, rps=rps, batch_s=None,
        db_sessions_peak=None if sessions is None else int(sessions),
        db_refused=refused, db_refused_source=source,
        cpu_per_record_ms=c.mean_of(lambda t: t.cpu_ms_per_record),
        loop_lag_p99_ms=c.peak("loop_lag_p99_ms"),
        error_rate=c.error_rate, repeats=c.repeats,
        records_per_trial=max(t.records for t in c.trials),
        client_sockets_peak=None if sockets is None else int(sockets),
        top_waits=top_waits(c.trials),
        loop_overhead_cores=loop_overhead(c, attribution),
        attempted=c.records, completed=c.records - c.errors,
        db_timeouts=failures_of(c.trials, TIMEOUT), db_resets=failures_of(c.trials, RESET),
        db_refused_server_log=_worst([t.db_refused for t in c.trials]),
    )
    out.server_cpu_per_record_ms, out.server_cpu_per_attempted_ms = server_cpu_per_record(c.trials)
    if fails(c.error_rate):
        out.batch_note = (f"fails {fmt.pct(c.error_rate)} of records ({failure_kinds(out)}): "
                          "it would not finish the batch")
    elif total:
        row = prediction(c, total, validation=validation)
        out.batch_s, out.batch_low_s, out.batch_high_s = row.wall_s, row.low_s, row.high_s
        out.batch_note = row.note
    return out


def _worst(values: Sequence[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def failures_of(trials: Sequence[Trial], kind: str) -> int | None:
    """Records that died of this kind of connection failure, worst repeat; None when the
    trials did not classify their errors (files written before they did)."""
    return _worst([None if t.connection_failures is None else t.connection_failures.get(kind, 0)
                   for t in trials])


def refusals(trials: Sequence[Trial]) -> tuple[int | None, str]:
    """Connection attempts refused, worst repeat: counted on the client from the driver's
    error (SQLSTATE 53300 or the server's words; `Trial.connection_failures`), on any server.
    Files written before that are read as they were: the server's log when it was read,
    else the client's refusal error classes."""
    counted = failures_of(trials, REFUSED)
    if counted is not None:
        return counted, DRIVER_ERRORS
    logged = [t.db_refused for t in trials if t.db_refused is not None]
    if logged:
        return max(logged), "server log"
    raised = [sum(n for kind, n in t.errors_by_type.items() if kind in REFUSAL_ERRORS) for t in trials]
    if any(raised) or any(t.db_connections_peak is not None for t in trials):
        return max(raised), "client errors"
    return None, ""


def server_cpu_per_record(trials: Sequence[Trial]) -> tuple[float | None, float | None]:
    """The database server's CPU per completed record and per attempted record, in ms: its
    CPU seconds over the repeats that measured it ÷ the records of those repeats that
    succeeded (that were attempted). None per completed when no record succeeded."""
    measured = [t for t in trials if t.db_server_cpu_s is not None and t.records]
    if not measured:
        return None, None
    cpu = sum(t.db_server_cpu_s or 0.0 for t in measured)
    attempted = sum(t.records for t in measured)
    completed = attempted - sum(t.errors for t in measured)
    return (cpu / completed * 1000.0 if completed > 0 else None), cpu / attempted * 1000.0


def failure_kinds(s: StorySide) -> str:
    """"1,505 refused connections, 0 timeouts" (resets only when there were some)."""
    parts = []
    if s.db_refused is not None:
        parts.append(f"{fmt.count(s.db_refused)} refused connection{'s' if s.db_refused != 1 else ''}")
    if s.db_timeouts is not None:
        parts.append(f"{fmt.count(s.db_timeouts)} timeout{'s' if s.db_timeouts != 1 else ''}")
    if s.db_resets:
        parts.append(f"{fmt.count(s.db_resets)} reset connection{'s' if s.db_resets != 1 else ''}")
    return ", ".join(parts) or "errors of other kinds"


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


def batch_time(s: StorySide) -> str:
    """"47 min 05 s (41 min 10 s – 53 min 02 s)": the batch time and its interval from the
    measured spread; "(one run: spread unknown)" when there is none to give."""
    if s.batch_s is None:
        return fmt.NA
    if s.batch_low_s is not None and s.batch_high_s is not None:
        return f"{fmt.duration(s.batch_s)} ({fmt.duration(s.batch_low_s)} – {fmt.duration(s.batch_high_s)})"
    if s.batch_low_s is not None:
        return f"{fmt.duration(s.batch_s)} ({fmt.duration(s.batch_low_s)} or more)"
    return f"{fmt.duration(s.batch_s)} (one run: spread unknown)"


def _clauses(story: Story, failing: bool) -> list[str]:
    b, r = story.baseline, story.rewrite
    clauses = []
    if _differs(r.db_sessions_peak, b.db_sessions_peak):
        ratio = r.db_sessions_peak / max(b.db_sessions_peak, 1)
        text = (f"it held {fmt.times(ratio)} the database sessions "
                f"({fmt.count(r.db_sessions_peak)} admitted at once vs {fmt.count(b.db_sessions_peak)}")
        if r.db_refused and not failing:
            text += f"; {fmt.count(r.db_refused)} attempts refused"
        clauses.append(text + ")")
    elif _differs(r.client_sockets_peak, b.client_sockets_peak):
        ratio = r.client_sockets_peak / max(b.client_sockets_peak, 1)
        clauses.append(f"it opened {fmt.times(ratio)} the client sockets "
                       f"({fmt.count(r.client_sockets_peak)} vs {fmt.count(b.client_sockets_peak)})")
    if fails(r.error_rate) and not failing:
        clauses.append(f"{fmt.pct(r.error_rate)} of its records failed")
    if r.loop_overhead_cores is not None:
        clauses.append(f"it spent {fmt.cores(r.loop_overhead_cores)} in the event loop's own "
                       "bookkeeping")
    if r.loop_lag_p99_ms is not None:
        clauses.append(f"its event-loop lag p99 was {fmt.ms(r.loop_lag_p99_ms)}")
    return clauses


def headline(story: Story) -> str:
    """The seed's question in a sentence or two: each side's batch time with its interval, or,
    for a side that fails, that it fails and of what; then the rewrite's bounded form priced."""
    b, r = story.baseline, story.rewrite
    if fails(r.error_rate):
        clauses = _clauses(story, failing=True)
        head = (f"{_cap(r.name)} fails {fmt.pct(r.error_rate)} of records — {failure_kinds(r)}: "
                "it would not finish the batch")
        return head + (f"; {_join(clauses)}." if clauses else ".") + bounded_sentence(story)
    if story.total and r.batch_s is not None and b.batch_s is not None:
        head = (f"{_cap(r.name)} would take {batch_time(r)} for {fmt.count(story.total)} "
                f"records vs {batch_time(b)} for {b.name} ({fmt.signed_duration(story.delta_s)})")
    elif r.rps <= 0:
        head = f"{_cap(r.name)} completed no record without an error, {b.name} {fmt.rps(b.rps)}"
    else:
        head = (f"{_cap(r.name)} ran at {fmt.rps(r.rps)} vs {fmt.rate(b.rps)} for {b.name} "
                f"({fmt.signed_pct(r.rps / b.rps - 1) if b.rps > 0 else fmt.NA})")
    clauses = _clauses(story, failing=False)
    if fails(b.error_rate):
        clauses.append(f"{b.name} itself fails {fmt.pct(b.error_rate)} of records "
                       f"({failure_kinds(b)})")
    return head + (f": {_join(clauses)}." if clauses else ".")


def bounded_sentence(story: Story) -> str:
    """After a rewrite that fails: what its best bounded form would take against the baseline
    (the comparison a team makes once the gather has failed)."""
    b, rb = story.baseline, story.rewrite_bounded
    if rb is None:
        return (" No bounded form of the rewrite was measured to price instead "
                "(--models asyncio --concurrency 2,4,8 measures some).")
    form = f" Bounded to {fmt.count(rb.concurrency)} records in flight ({rb.config}), it"
    if fails(rb.error_rate):
        return f"{form} fails {fmt.pct(rb.error_rate)} of records too ({failure_kinds(rb)})."
    if story.total and rb.batch_s is not None and b.batch_s is not None:
        return (f"{form} would take {batch_time(rb)} for {fmt.count(story.total)} records vs "
                f"{batch_time(b)} for {b.name}: {fmt.signed_duration(rb.delta_s)}.")
    if fails(b.error_rate):
        return (f"{form} ran at {fmt.rps(rb.rps)}; {b.name} fails {fmt.pct(b.error_rate)} of "
                f"records ({failure_kinds(b)}).")
    return (f"{form} ran at {fmt.rps(rb.rps)} vs {fmt.rate(b.rps)} for {b.name} "
            f"({fmt.signed_pct(rb.rps / b.rps - 1) if b.rps > 0 else fmt.NA}).")


def details(story: Story) -> list[str]:
    """The numbers behind the headline that do not fit in it: how firm each batch time is,
    the database's own cost per record next to the client's (and its formula), where the
    database waited, and how connections were counted."""
    b, r, rb = story.baseline, story.rewrite, story.rewrite_bounded
    shown = [x for x in (r, rb, b) if x is not None]
    out = []
    firm = [f"{x.config}: {x.batch_note}" for x in shown if x.batch_note]
    if story.total and firm:
        out.append(f"Batch times for {fmt.count(story.total)} records (total ÷ records completed "
                   "per second): " + "; ".join(firm) + ".")
    costs = []
    if any(x.server_cpu_per_record_ms is not None or x.server_cpu_per_attempted_ms is not None
           for x in shown):
        costs.append("the database server spent " + " vs ".join(
            f"{fmt.ms(x.server_cpu_per_record_ms)} ({x.config})" for x in shown)
            + " of CPU per completed record (per attempted: "
            + " vs ".join(fmt.ms(x.server_cpu_per_attempted_ms) for x in shown) + ")")
    if any(x.cpu_per_record_ms is not None for x in shown):
        costs.append("the client " + " vs ".join(fmt.ms(x.cpu_per_record_ms) for x in shown)
                     + " per attempted record")
    if costs:
        shared = " (the whole server's CPU: other clients' sessions count too)" if story.server_shared else ""
        out.append(f"Per record: {'; '.join(costs)}{shared}. Server CPU per completed record = "
                   "the server's CPU seconds in the timed windows ÷ the records that succeeded "
                   "in them, over the repeats.")
    waits = [f"{x.config}: " + ", ".join(f"{k} {fmt.pct(v)}" for k, v in x.top_waits.items())
             for x in (r, b) if x.top_waits]
    if waits:
        out.append("Where the database's active sessions were (share of samples; CPU = running): "
                   + "; ".join(waits) + ".")
    if r.db_sessions_peak is not None and r.client_sockets_peak is not None:
        refused = fmt.count(r.db_refused) if r.db_refused is not None else fmt.NA
        how = {DRIVER_ERRORS: "from the driver's error: SQLSTATE 53300 or the server's \"too many "
                              "clients\" words"}.get(r.db_refused_source, r.db_refused_source or "not counted")
        if r.db_refused_source == DRIVER_ERRORS and r.db_refused_server_log is not None:
            how += f"; the server's log counted {fmt.count(r.db_refused_server_log)}"
        other = ""
        if r.db_timeouts is not None:
            other = (f", {fmt.count(r.db_timeouts)} timed out, "
                     f"{fmt.count(r.db_resets or 0)} reset")
        out.append(f"Connections, counted three ways for {r.config}: {fmt.count(r.db_sessions_peak)} "
                   f"sessions admitted at once (the server's count), {refused} attempts refused "
                   f"({how}){other}, {fmt.count(r.client_sockets_peak)} client sockets at peak "
                   "(refused attempts included).")
    if not story.total:
        out.append("Give --total N (records in the whole batch) for the batch's time each way.")
    return out
