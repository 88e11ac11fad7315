"""Numbers as a reader sees them: units attached, "n/a" for what was not measured.

Every function takes a value that may be None (a measurement that could not be taken)
and returns a string; the templates only place these strings.
"""

from __future__ import annotations

import math

NA = "n/a"
MIB = 1024 * 1024


def _missing(value: object) -> bool:
    """None, NaN/inf, or not a number at all (verdict dicts are read defensively)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return True
    return isinstance(value, float) and not math.isfinite(value)


def sig(value: float | None, digits: int = 3) -> str:
    """`digits` significant figures, thousands separated, no scientific notation."""
    if _missing(value):
        return NA
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - magnitude)
    return f"{value:,.{decimals}f}"


def concurrency(n: int | None) -> str:
    if n is None:
        return NA
    return "unbounded" if n == 0 else str(n)


def config(model: str | None, n: int | None) -> str:
    """`threads × 8`, `asyncio × unbounded`, `sequential` (its N is always 1)."""
    if not model:
        return NA
    return model if n is None or model == "sequential" else f"{model} × {concurrency(n)}"


def rps(value: float | None) -> str:
    return NA if _missing(value) else f"{sig(value)} records/s"


def cores(value: float | None) -> str:
    if _missing(value):
        return NA
    return f"{value:.2f} cores"


def mib(n_bytes: float | None) -> str:
    if _missing(n_bytes):
        return NA
    return f"{sig(n_bytes / MIB)} MiB"


def ms(value: float | None) -> str:
    return NA if _missing(value) else f"{sig(value)} ms"


def seconds(value: float | None) -> str:
    """A short measured time: `0.842 s`, `12.3 s`."""
    return NA if _missing(value) else f"{sig(value)} s"


def duration(value: float | None) -> str:
    """A long (predicted) time: `41 min 12 s`, `2 h 03 min`, `8.4 s`."""
    if _missing(value):
        return NA
    if value < 60:
        return f"{sig(value)} s"
    total = round(value)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s"


def integer(value: int | float | None) -> str:
    return NA if _missing(value) else f"{int(value):,}"


def fraction_pct(value: float | None, digits: int = 0) -> str:
    """0.42 -> `42 %`."""
    return NA if _missing(value) else f"{value * 100:.{digits}f} %"


def signed_pct(value: float | None) -> str:
    """A relative change: +12.3 %, −4.0 %."""
    if _missing(value):
        return NA
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    return f"{sign}{abs(value) * 100:.1f} %"


def speedup(value: float | None) -> str:
    return NA if _missing(value) else f"{sig(value, 2)}×"


def plain(value: float | None, digits: int = 3) -> str:
    """A dimensionless number (σ, κ, r²)."""
    if _missing(value):
        return NA
    if value != 0 and abs(value) < 10 ** -(digits - 1):
        return f"{value:.{digits - 1}e}"
    return sig(value, digits)


def sort_key(value: float | int | str | None) -> str:
    """What a sortable table cell carries in `data-sort`: raw number, or "" when missing."""
    if _missing(value):
        return ""
    return repr(value) if isinstance(value, float) else str(value)
