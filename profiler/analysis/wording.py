"""How verdict numbers are spelled, so every sentence in every section reads the same.

Sentences are the product (the verdict first, with its numbers), so the number formats
live in one place: records/s without false precision, speedups with one decimal
(two near 1×, where the difference matters), percentages with a space as in "10 %".
"""

from __future__ import annotations

LABEL_TITLES = {
    "cpu-bound": "CPU-bound",
    "io-bound": "I/O-bound",
    "mixed": "Mixed CPU and I/O",
    "unknown": "Unclassified",
}

REFINEMENT_TITLES = {
    "releases-GIL": "releases the GIL",
    "serialized": "serialized on a shared resource",
}


def rps(x: float) -> str:
    """Records per second: whole numbers from 10 up, three significant digits below."""
    return f"{x:,.0f}" if abs(x) >= 10 else f"{x:.3g}"


def times(x: float) -> str:
    """A speedup factor: `1.04×`, `14.6×`, `1,000×`."""
    if x >= 100:
        return f"{x:,.0f}×"
    return f"{x:.2f}×" if x < 2 else f"{x:.1f}×"


def pct(fraction: float) -> str:
    """A fraction as a percentage: `4 %`, `0.24 %`."""
    v = fraction * 100
    return f"{v:.0f} %" if abs(v) >= 1 or v == 0 else f"{v:.2g} %"


def cores(x: float) -> str:
    return f"{x:.2f} cores" if x < 10 else f"{x:.1f} cores"


def count(n: float) -> str:
    return f"{n:,.0f}"


def mebibytes(n_bytes: float) -> str:
    """Memory in MiB, the unit of `--max-rss`."""
    mib = n_bytes / 2**20
    return f"{mib:,.0f} MiB" if mib >= 10 else f"{mib:.2g} MiB"


def milliseconds(ms: float) -> str:
    return f"{ms:,.0f} ms" if ms >= 10 else f"{ms:.2g} ms"


def duration(seconds: float) -> str:
    """A predicted wall time in the unit a person would use."""
    if seconds < 90:
        return f"{seconds:.3g} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def verdict_title(label: str, refinements: list[str] | tuple[str, ...] = ()) -> str:
    """`I/O-bound (serialized on a shared resource)`."""
    title = LABEL_TITLES.get(label, label)
    if refinements:
        title += " (" + ", ".join(REFINEMENT_TITLES.get(r, r) for r in refinements) + ")"
    return title
