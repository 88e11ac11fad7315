"""Dataclasses to JSON and back, checked against their type hints.

results.json is a public contract that users' CI scripts parse, and `concur report`
reads files people hand it. So reading is strict: every field is checked against the
dataclass's type hints, recursively (nested dataclasses, lists, dicts, `X | None`), and
the first mismatch is one `ResultsError` naming the field's path, e.g.
`trials[3].wall_s: expected a number, got 'abc'`. Unknown keys are ignored (newer
files stay readable by older code), a missing field takes its default.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from profiler.errors import ResultsError

T = TypeVar("T")
_HINTS: dict[type, dict[str, Any]] = {}


def to_data(obj: Any) -> Any:
    """A dataclass (or list/dict of them) as plain JSON-ready values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_data(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, list | tuple):
        return [to_data(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_data(v) for k, v in obj.items()}
    return obj


def from_data(cls: type[T], data: Any, where: str) -> T:
    """Build `cls` from parsed JSON, checking every field; `where` names it in errors."""
    if not isinstance(data, dict):
        raise ResultsError(f"{where}: expected an object, got {_kind(data)}")
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in data:
            kwargs[f.name] = convert(hints[f.name], data[f.name], f"{where}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ResultsError(f"{where}: missing field {f.name!r}")
    return cls(**kwargs)


def convert(tp: Any, value: Any, where: str) -> Any:
    """`value` as type `tp`, or a ResultsError saying what was expected at `where`."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        for option in options[:-1]:
            try:
                return convert(option, value, where)
            except ResultsError:
                continue
        return convert(options[-1], value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ResultsError(f"{where}: expected a list, got {_kind(value)}")
        return [convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ResultsError(f"{where}: expected an object, got {_kind(value)}")
        return {str(k): convert(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return from_data(tp, value, where)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ResultsError(f"{where}: expected a number, got {_kind(value)}")
        if not math.isfinite(value):
            raise ResultsError(f"{where}: expected a finite number, got {value}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ResultsError(f"{where}: expected a whole number, got {_kind(value)}")
        return value
    if tp in (str, bool):
        if not isinstance(value, tp):
            raise ResultsError(f"{where}: expected {'text' if tp is str else 'true/false'}, "
                               f"got {_kind(value)}")
        return value
    raise TypeError(f"{where}: no converter for {tp!r}")  # a bug in a dataclass, not in the file


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value[:40])
    if isinstance(value, bool | int | float):
        return repr(value)
    return {"list": "a list", "dict": "an object"}.get(type(value).__name__, type(value).__name__)
