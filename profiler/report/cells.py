"""The view models' building blocks: cells, rows, tables, key figures, plots.

As in coverage.py's html.py, the templates do no arithmetic: they only place the strings
of these frozen dataclasses, which the view modules (`views`, `why`, `compare`) fill.
"""

from __future__ import annotations

from dataclasses import dataclass

from profiler import format as fmt


@dataclass(frozen=True)
class Cell:
    text: str
    sort: str = ""  # raw value for the sortable table; "" = text sort / missing
    numeric: bool = False
    css: str = ""  # "better", "worse"

    @property
    def classes(self) -> str:
        return " ".join(c for c in ("num" if self.numeric else "", self.css) if c)


def num(text: str, raw: float | int | None) -> Cell:
    """A numeric cell: right-aligned, sorted by its raw value."""
    return Cell(text, fmt.sort_key(raw), True)


@dataclass(frozen=True)
class Row:
    cells: tuple[Cell, ...]
    css: str = ""  # "recommended", "failed"
    title: str = ""  # tooltip, e.g. why a row is highlighted


@dataclass(frozen=True)
class Table:
    id: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    numeric: tuple[bool, ...] = ()
    sortable: bool = False
    empty: str = "nothing to show"
    caption: str = ""


@dataclass(frozen=True)
class KeyFigure:
    """A key number under the verdict sentence."""

    label: str
    value: str
    detail: str = ""


@dataclass(frozen=True)
class Plot:
    key: str
    title: str
    src: str | None  # relative PNG path; None = omitted
    alt: str
    caption: str
    note: str = ""  # why it was omitted


@dataclass(frozen=True)
class Pair:
    label: str
    value: str
