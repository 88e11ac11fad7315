"""The gate's outputs: the terminal table, a pull-request comment (markdown), JUnit XML
(one testcase per check, so CI systems show failures natively) and JSON. Reads a
GateOutcome only."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from rich.table import Table
from rich.text import Text

from profiler.report.markdown import text as md_text
from profiler.review.decision import THROUGHPUT_CHECKS, Check, GateOutcome


def is_open(outcome: GateOutcome, check: Check) -> bool:
    """A throughput check an unfinished climb left open (the outcome is inconclusive)."""
    return outcome.inconclusive and check.name in THROUGHPUT_CHECKS


def result_word(outcome: GateOutcome, check: Check) -> str:
    if is_open(outcome, check):
        return "open"
    return "pass" if check.passed else "FAIL"


def gate_table(outcome: GateOutcome) -> Table:
    """One row per check, for the terminal; an open check (inconclusive) reads "open"."""
    table = Table(title="concur gate")
    for col in ("check", "result", "baseline", "candidate", "delta", "threshold", "note"):
        table.add_column(col)
    for ch in outcome.checks:
        word = result_word(outcome, ch)
        table.add_row(ch.name, Text(word, style={"FAIL": "red", "open": "yellow"}.get(word, "")),
                      ch.baseline, ch.candidate, ch.delta, ch.threshold, ch.note)
    return table


def gate_markdown(outcome: GateOutcome) -> str:
    b, c = outcome.baseline, outcome.candidate
    icon = {"passed": "✅", "failed": "❌"}.get(outcome.status, "⚠️")
    story = [f"**{md_text(outcome.story.headline)}**", ""] if outcome.story else []
    notes = [f"- {md_text(n)}" for n in outcome.notes]
    lines = [
        f"## {icon} concur gate {outcome.status}",
        "",
        *story,
        f"Baseline **{md_text(b.described)}** ({b.repeats} repeats) vs candidate "
        f"**{md_text(c.described)}** ({c.repeats} repeats); thresholds from "
        f"{md_text(outcome.thresholds_source)}.",
        "",
        *notes,
        *([""] if notes else []),
        "| check | result | baseline | candidate | delta | threshold | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for ch in outcome.checks:
        word = result_word(outcome, ch)
        word = f"**{word}**" if word != "pass" else word
        lines.append(f"| {ch.name} | {word} | {ch.baseline} | {ch.candidate} "
                     f"| {ch.delta} | {ch.threshold} | {ch.note} |")
    return "\n".join(lines) + "\n"


def gate_junit(outcome: GateOutcome) -> str:
    """One testcase per check: a failed check is a failure; a check an unfinished climb
    left open is skipped with the reason (the exit code, 5, still fails the job)."""
    failures = sum(1 for ch in outcome.failed_checks if not is_open(outcome, ch))
    skipped = sum(1 for ch in outcome.checks if is_open(outcome, ch))
    suites = ET.Element("testsuites", name="concur gate", tests=str(len(outcome.checks)),
                        failures=str(failures), errors="0")
    suite = ET.SubElement(suites, "testsuite", name="concur gate", tests=str(len(outcome.checks)),
                          failures=str(failures), errors="0", skipped=str(skipped), time="0")
    for ch in outcome.checks:
        case = ET.SubElement(suite, "testcase", classname="concur.gate", name=ch.name, time="0")
        detail = (f"baseline {outcome.baseline.config}: {ch.baseline}; candidate {outcome.candidate.config}: "
                  f"{ch.candidate}; delta {ch.delta or 'n/a'}; threshold {ch.threshold}"
                  + (f"; {ch.note}" if ch.note else ""))
        if is_open(outcome, ch):
            ET.SubElement(case, "skipped", message=f"inconclusive: {ch.note}")
        elif not ch.passed:
            failure = ET.SubElement(case, "failure", message=f"{ch.name}: {ch.candidate} vs {ch.baseline} "
                                    f"(threshold {ch.threshold})", type="GateCheckFailed")
            failure.text = detail
        out = ET.SubElement(case, "system-out")
        out.text = detail
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def gate_json(outcome: GateOutcome) -> str:
    return json.dumps(outcome.to_dict(), indent=1)
