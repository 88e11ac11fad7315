"""`summary_markdown`: the verdict, the five fastest configurations and the warnings,
short enough to paste into a pull request (GitHub-flavoured markdown).

Every text that is not ours (a workload's name, a handler's error message, a function
name such as `<lambda>`) goes through `text` or `code`, so it shows as written and never
becomes markup: no injected HTML, links, emphasis or table cells in a PR comment.
"""

from __future__ import annotations

import re

from profiler import format as fmt
from profiler.report.views import build_verdict, sequential_throughput
from profiler.report.why import attribution_views
from profiler.results import Results, Story, standings_of

TOP = 5
MAX_WARNINGS = 6  # a PR comment stays short; the report has them all


_MARKUP = re.compile(r"([\\`*_\[\]|~])")


def text(value: str) -> str:
    """Plain text in markdown: HTML's <, > and & as entities, markdown's punctuation
    backslash-escaped, newlines flattened (a line break would end a table row)."""
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKUP.sub(r"\\\1", value).replace("\r", " ").replace("\n", " ")


cell = text  # a table cell: the same escaping, pipes included


def code(value: str) -> str:
    """A code span that holds `value` literally, whatever backticks it contains."""
    value = value.replace("\r", " ").replace("\n", " ")
    runs = [len(r) for r in re.findall(r"`+", value)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def summary_markdown(results: Results) -> str:
    verdict = build_verdict(results)
    lines = [f"### concur: {text(results.workload.name)}", ""]
    lines += story_markdown(results.story)
    lines += [f"**Verdict:** {text(verdict.headline)}", ""]
    if verdict.figures:
        lines += ["| | |", "|---|---|"]
        lines += [f"| {cell(f.label)} | {cell(f.value)}{cell(' (' + f.detail + ')') if f.detail else ''} |"
                  for f in verdict.figures]
        lines.append("")
    lines += top_configurations(results)
    if verdict.warnings:
        shown = verdict.warnings[:MAX_WARNINGS]
        lines += ["**Warnings**", ""] + [f"- {text(w)}" for w in shown]
        if len(verdict.warnings) > len(shown):
            lines.append(f"- … and {len(verdict.warnings) - len(shown)} more in the HTML report")
        lines.append("")
    if verdict.notes:  # the tool's own choices: one line, a PR comment stays short
        lines += [f"_Notes:_ {text('; '.join(verdict.notes))}", ""]
    lines += [f"**Next step:** {text(step.why)}: {code(step.command)}" for step in verdict.next_steps]
    lines += [""] if verdict.next_steps else []
    lines += why_slow(results)
    env = results.environment
    foot = f"{env.implementation} {env.python}, {env.cpu_count} cores, GIL {'on' if env.gil_enabled else 'off'}"
    if results.command:
        foot = f"{code(results.command)} · {foot}"
    lines.append(f"<sub>{foot} · concur {text(results.tool_version or fmt.NA)}</sub>")
    return "\n".join(lines) + "\n"


def story_markdown(story: Story | None) -> list[str]:
    """The job as it was vs its rewrite, first: the headline in bold, the details under it."""
    if story is None:
        return []
    return [f"**{text(story.headline)}**", "", *[f"- {text(d)}" for d in story.details],
            *([""] if story.details else [])]


def top_configurations(results: Results) -> list[str]:
    configs = [r.config for r in standings_of(results).rows][:TOP]
    if not configs:
        return ["_No trial finished successfully._", ""]
    seq = sequential_throughput(results)
    rec = results.recommendation
    out = [f"**Top {len(configs)} configurations** (mean of repeats; range in brackets)", "",
           "| Configuration | Throughput | vs sequential | CPU | Connections | Loop lag p99 | Repeats |",
           "|---|--:|--:|--:|--:|--:|--:|"]
    for c in configs:
        thr = c.throughputs
        spread = f" ({fmt.sig(min(thr))}–{fmt.sig(max(thr))})" if len(thr) > 1 else ""
        name = cell(c.label)
        if rec is not None and rec.names(c.model, c.concurrency):
            name = f"**{name}** (recommended)"
        out.append("| " + " | ".join([name] + [cell(x) for x in (
            fmt.rps(c.throughput_rps) + spread,
            fmt.times(c.throughput_rps / seq) if seq else fmt.NA,
            fmt.cores(c.mean_of("cpu_util")),
            fmt.count(c.peak("connections_peak")),
            fmt.ms(c.mean_of("loop_lag_p99_ms")),
            str(c.repeats),
        )]) + " |")
    return out + [""]


def why_slow(results: Results) -> list[str]:
    """The attribution's main finding per attributed configuration, when there is one."""
    views = [v for v in attribution_views(results) if v.findings or v.warnings]
    if not views:
        return []
    out = ["**Why it is slow**", ""]
    for v in views:
        out.append(f"- {cell(v.title)}: {cell(v.findings[0] if v.findings else v.warnings[0])}")
    return out + [""]
