"""The gate's thresholds: defaults < `[tool.concur.gate]` in pyproject.toml < flags."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any

from profiler.errors import ConfigError
from profiler.review.decision import THRESHOLD_KEYS, Thresholds


def _check_value(key: str, value: Any, source: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{source}: {key} must be a number, not {value!r}")
    if value < 0:
        raise ConfigError(f"{source}: {key} must be ≥ 0, not {value}")
    if key == "max_connections" and int(value) != value:
        raise ConfigError(f"{source}: max_connections must be a whole number, not {value}")
    return int(value) if key == "max_connections" else float(value)


def find_pyproject(start: Path) -> Path | None:
    for folder in [start, *start.parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def read_gate_config(path: Path) -> dict[str, Any]:
    """`[tool.concur.gate]` of a pyproject.toml, validated (unknown key: ConfigError)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    section = data.get("tool", {}).get("concur", {}).get("gate", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [tool.concur.gate] must be a table")
    out = {}
    for key, value in section.items():
        if key not in THRESHOLD_KEYS:
            raise ConfigError(f"{path}: unknown key {key!r} in [tool.concur.gate] "
                              f"(known: {', '.join(sorted(THRESHOLD_KEYS))})")
        out[key] = _check_value(key, value, f"{path} [tool.concur.gate]")
    return out


def load_thresholds(flags: dict[str, Any], config: Path | None = None,
                    search_from: Path | None = None) -> tuple[Thresholds, str]:
    """Defaults < [tool.concur.gate] < flags. Returns the thresholds and where they came from."""
    path = config if config is not None else find_pyproject(search_from or Path.cwd())
    values: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        values.update(read_gate_config(path))
        if values:
            source = f"{path} [tool.concur.gate]"
    given = {k: _check_value(k, v, f"--{k.replace('_', '-')}") for k, v in flags.items() if v is not None}
    if given:
        source += " + flags"
    values.update(given)
    return Thresholds(**values), source
