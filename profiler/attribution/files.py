"""The attribution's files: a flamegraph SVG and a speedscope JSON, from collapsed stacks.

py-spy writes one format per run; converting its raw collapsed stacks here (pure
functions, no processes) gives both views from a single sampled run, and lets the
flamegraph colour each frame by what it is: the user's code (orange), event-loop and
pool machinery (blue), concur's harness (grey), everything else (sand). The SVG is
self-contained (no script, no fonts fetched): it opens from disk like the report.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from profiler.attribution.stacks import (
    HARNESS,
    LOOP,
    OTHER,
    USER,
    CodeMap,
    Frame,
    Stack,
    short_path,
)
from profiler.files import write_atomic

SVG_WIDTH = 1200
ROW_H = 17
MIN_WIDTH_PX = 0.8  # narrower boxes are not drawn (their samples still count in the parent)
META = "meta"  # the process and thread levels of the graph, not code
COLOURS = {USER: "#f0913a", LOOP: "#5b8fd6", HARNESS: "#b8b8b8", OTHER: "#e3c77d", META: "#dcdcd4"}
SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"


@dataclass
class _Node:
    label: str
    kind: str | None = None
    count: int = 0
    children: dict[str, _Node] = field(default_factory=dict)


def thread_group(stack: Stack) -> str:
    """Threads of one pool share a box: `concur-worker-3` → `concur-worker-*`."""
    name = stack.thread or "thread"
    base = name.rstrip("0123456789")
    return f"{base}*" if base != name and base.endswith(("-", "_")) else name


def process_label(stack: Stack, root_pid: int | None) -> str:
    if stack.pid is not None and stack.pid == root_pid:
        return "trial process"
    if "spawn_main" in stack.process or "multiprocessing" in stack.process:
        return "worker process"
    return f"process {stack.pid}"


def frame_label(frame: Frame) -> str:
    if frame.native:
        return f"{frame.name} ({Path(frame.file).name})" if frame.file else frame.name
    return f"{frame.name} ({short_path(frame.file)})"


def build_tree(stacks: Iterable[Stack], code: CodeMap) -> _Node:
    stacks = list(stacks)
    pids = {s.pid for s in stacks}
    root_pid = min((p for p in pids if p is not None), default=None)
    several = len(pids) > 1
    root = _Node("all")
    for s in stacks:
        root.count += s.count
        node = root
        levels: list[tuple[str, str | None]] = []
        if several:
            levels.append((process_label(s, root_pid), META))
        levels.append((thread_group(s), META))
        levels += [(frame_label(f), code.kind(f) or OTHER) for f in s.frames]
        for label, kind in levels:
            child = node.children.get(label)
            if child is None:
                child = node.children[label] = _Node(label, kind)
            child.count += s.count
            node = child
    return root


def flamegraph_svg(stacks: Iterable[Stack], code: CodeMap, title: str) -> str:
    """A flame graph (root at the bottom, width = samples), coloured by kind of code."""
    root = build_tree(stacks, code)
    depth = _depth(root)
    height = (depth + 1) * ROW_H + 50
    total = root.count or 1
    scale = (SVG_WIDTH - 20) / total
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{SVG_WIDTH}" height="{height}" '
        f'viewBox="0 0 {SVG_WIDTH} {height}" font-family="Verdana, sans-serif" font-size="11">',
        '<rect width="100%" height="100%" fill="#fbfbf8"/>',
        f'<text x="{SVG_WIDTH / 2}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>',
        f'<text x="10" y="38" fill="#555">{total} samples. Orange: your code; blue: event loop / '
        'pool machinery; grey: concur harness; sand: other code. Hover a box for its numbers.</text>',
    ]

    def draw(node: _Node, x: float, level: int) -> None:
        w = node.count * scale
        if w < MIN_WIDTH_PX:
            return
        y = height - (level + 1) * ROW_H - 4
        colour = COLOURS.get(node.kind or META, COLOURS[OTHER]) if level else COLOURS[META]
        pct = 100.0 * node.count / total
        tip = escape(f"{node.label}: {node.count} samples ({pct:.1f} %)")
        chars = int((w - 6) / 6.5)
        text = node.label if len(node.label) <= chars else (node.label[: chars - 2] + ".." if chars > 3 else "")
        out.append(f'<g><title>{tip}</title><rect x="{x + 10:.2f}" y="{y}" width="{w:.2f}" '
                   f'height="{ROW_H - 1}" fill="{colour}" rx="2"/>'
                   + (f'<text x="{x + 13:.2f}" y="{y + ROW_H - 5}">{escape(text)}</text>' if text else "")
                   + "</g>")
        cx = x
        for child in sorted(node.children.values(), key=lambda n: n.label):
            draw(child, cx, level + 1)
            cx += child.count * scale

    draw(root, 0.0, 0)
    out.append("</svg>")
    return "\n".join(out)


def _depth(node: _Node) -> int:
    return 1 + max((_depth(c) for c in node.children.values()), default=0)


def speedscope_json(stacks: Iterable[Stack], rate_hz: float, name: str) -> str:
    """speedscope's file format: one sampled profile per thread, weights in seconds."""
    frames: list[dict[str, object]] = []
    index: dict[Frame, int] = {}
    profiles: dict[tuple[int | None, int | None], dict[str, object]] = {}
    stacks = list(stacks)
    pids = {s.pid for s in stacks}
    root_pid = min((p for p in pids if p is not None), default=None)
    for s in stacks:
        key = s.thread_key
        prof = profiles.get(key)
        if prof is None:
            label = f"{s.thread or 'thread'} (tid {s.tid})"
            if len(pids) > 1:
                label = f"{process_label(s, root_pid)} {s.pid}: {label}"
            prof = profiles[key] = {"type": "sampled", "name": label, "unit": "seconds",
                                    "startValue": 0.0, "endValue": 0.0, "samples": [], "weights": []}
        ids = []
        for f in s.frames:
            if f not in index:
                index[f] = len(frames)
                entry: dict[str, object] = {"name": f.name, "file": f.file}
                if f.line is not None:
                    entry["line"] = f.line
                frames.append(entry)
            ids.append(index[f])
        weight = s.count / rate_hz
        prof["samples"].append(ids)  # type: ignore[union-attr]
        prof["weights"].append(weight)  # type: ignore[union-attr]
        prof["endValue"] = float(prof["endValue"]) + weight  # type: ignore[arg-type]
    doc = {
        "$schema": SPEEDSCOPE_SCHEMA,
        "name": name,
        "exporter": "concur",
        "activeProfileIndex": 0,
        "shared": {"frames": frames},
        "profiles": sorted(profiles.values(), key=lambda p: str(p["name"])),
    }
    return json.dumps(doc, separators=(",", ":"))


def write_flamegraph(path: Path, stacks: Iterable[Stack], code: CodeMap, title: str) -> Path:
    return write_atomic(path, flamegraph_svg(stacks, code, title))


def write_speedscope(path: Path, stacks: Iterable[Stack], rate_hz: float, name: str) -> Path:
    return write_atomic(path, speedscope_json(stacks, rate_hz, name))
