"""Every number, duration and configuration as a reader sees it, spelled once.

The verdict is sentences with numbers in them, shown in the terminal, the HTML report,
markdown and the gate's outputs; they must read the same everywhere. Every function
takes a value that may be None (a measurement that could not be taken) and returns a
string, "n/a" for what was not measured. Percentages keep a space before "%" ("10 %").
"""

from __future__ import annotations

import math

NA = "n/a"
MIB = 1024 * 1024

LABEL_TITLES = {
    "cpu-bound": "CPU-bound",
    "io-bound": "I/O-bound",
    "mixed": "Mixed CPU and I/O",
    "borderline": "Borderline",
    "unknown": "Unclassified",
    "failed": "Failed",
}
REFINEMENT_TITLES = {
    "releases-GIL": "releases the GIL",
    "serialized": "serialized on a shared resource",
}


def missing(value: object) -> bool:
    """None, NaN/inf, or not a number at all."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return True
    return isinstance(value, float) and not math.isfinite(value)


def sig(value: float | None, digits: int = 3) -> str:
    """`digits` significant figures, thousands separated, no scientific notation."""
    if missing(value):
        return NA
    assert value is not None
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - magnitude)
    return f"{value:,.{decimals}f}"


def count(value: float | None) -> str:
    """A whole number: `1,234`."""
    return NA if missing(value) else f"{value:,.0f}"


def rate(value: float | None) -> str:
    """Records per second without the unit, for sentences that name it once: whole numbers
    from 10 up (`1,234`), three significant digits below (`2.47`): no false precision."""
    if missing(value):
        return NA
    assert value is not None
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:.3g}"


def rps(value: float | None) -> str:
    """`1,234 records/s`."""
    return NA if missing(value) else f"{rate(value)} records/s"


def times(value: float | None) -> str:
    """A speedup factor: `1.04×`, `14.6×`, `1,000×` (two decimals near 1×, where they matter)."""
    if missing(value):
        return NA
    assert value is not None
    if value >= 100:
        return f"{value:,.0f}×"
    return f"{value:.2f}×" if value < 2 else f"{value:.1f}×"


def pct(fraction: float | None, digits: int | None = None) -> str:
    """A fraction as a percentage: `4 %`, `0.24 %`; `digits` fixes the decimals."""
    if missing(fraction):
        return NA
    assert fraction is not None
    v = fraction * 100
    if digits is not None:
        return f"{v:.{digits}f} %"
    return f"{v:.0f} %" if abs(v) >= 1 or v == 0 else f"{v:.2g} %"


def signed_pct(fraction: float | None) -> str:
    """A relative change: `+12.3 %`, `−4.0 %`."""
    if missing(fraction):
        return NA
    assert fraction is not None
    return f"{_sign(fraction)}{abs(fraction) * 100:.1f} %"


def _sign(value: float) -> str:
    return "+" if value > 0 else "−" if value < 0 else "±"


def cores(value: float | None) -> str:
    if missing(value):
        return NA
    assert value is not None
    return f"{value:.2f} cores" if value < 10 else f"{value:.1f} cores"


def mib(n_bytes: float | None) -> str:
    """Memory in MiB, the unit of `--max-rss`."""
    if missing(n_bytes):
        return NA
    assert n_bytes is not None
    value = n_bytes / MIB
    return f"{value:,.0f} MiB" if value >= 10 else f"{value:.2g} MiB"


def ms(value: float | None) -> str:
    if missing(value):
        return NA
    assert value is not None
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.2g} ms"


def seconds(value: float | None) -> str:
    """A short measured time: `0.842 s`, `12.3 s`."""
    return NA if missing(value) else f"{sig(value)} s"


def duration(value: float | None) -> str:
    """A long (predicted) time: `41 min 12 s`, `2 h 03 min`, `8.4 s`."""
    if missing(value):
        return NA
    assert value is not None
    if value < 60:
        return f"{sig(value)} s"
    total = round(value)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s"


def signed_duration(value: float | None) -> str:
    """A difference of long times: `+35 min 02 s`, `−4.2 s`."""
    if missing(value):
        return NA
    assert value is not None
    return f"{_sign(value)}{duration(abs(value))}"


def concurrency(n: int | None) -> str:
    if n is None:
        return NA
    return "unbounded" if n == 0 else str(n)


def config(model: str | None, n: int | None) -> str:
    """`threads×16`, `asyncio×unbounded`, `sequential` (its N is always 1)."""
    if not model:
        return NA
    return model if n is None or model == "sequential" else f"{model}×{concurrency(n)}"


def plain(value: float | None, digits: int = 3) -> str:
    """A dimensionless number (σ, κ, r²)."""
    if missing(value):
        return NA
    assert value is not None
    if value != 0 and abs(value) < 10 ** -(digits - 1):
        return f"{value:.{digits - 1}e}"
    return sig(value, digits)


def sort_key(value: float | int | str | None) -> str:
    """What a sortable table cell carries in `data-sort`: raw number, or "" when missing."""
    if missing(value):
        return ""
    return repr(value) if isinstance(value, float) else str(value)


READING_WORDS = {"io-bound": "I/O-bound", "mixed": "mixed", "cpu-bound": "CPU-bound"}


def verdict_title(label: str, refinements: list[str] | tuple[str, ...] = (),
                  readings: list[str] | tuple[str, ...] = ()) -> str:
    """`I/O-bound (serialized on a shared resource)`; `Borderline (between I/O-bound and
    mixed)` when the label is borderline and its readings are given."""
    title = LABEL_TITLES.get(label, label)
    if label == "borderline" and len(readings) > 1:
        title += " (between " + " and ".join(READING_WORDS.get(r, r) for r in readings) + ")"
    if refinements:
        title += " (" + ", ".join(REFINEMENT_TITLES.get(r, r) for r in refinements) + ")"
    return title


def plural(n: float, word: str) -> str:
    """`1 repeat`, `3 repeats`."""
    return f"{count(n)} {word}{'' if n == 1 else 's'}"


def clock(value: float | None) -> str:
    """Elapsed time as a stopwatch shows it: `0:07`, `12:34`, `1:02:05`."""
    if missing(value):
        return NA
    assert value is not None
    minutes, secs = divmod(max(0, int(value)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def rate_spread(mean: float | None, sd: float | None) -> str:
    """Records per second as `mean ± standard deviation` (hyperfine's and pyperf's form), the
    deviation to the mean's precision (`366 ± 13`, `2.47 ± 0.05`); the mean alone without one."""
    if missing(mean):
        return NA
    assert mean is not None
    if missing(sd):
        return rate(mean)
    assert sd is not None
    return f"{rate(mean)} ± {sd:,.0f}" if abs(mean) >= 10 else f"{rate(mean)} ± {sd:.2g}"
