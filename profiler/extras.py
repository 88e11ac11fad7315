"""Optional features and the pip extra that installs each.

The core install is what `concur run` needs on its own (the README's main command);
heavier or rarer features are extras, and asking for one that is not installed is one
line naming the extra to install, never an ImportError:

    pip install 'concurrency-profiler[parquet]'      # --input FILE.parquet
    pip install 'concurrency-profiler[dask]'         # --models dask
    pip install 'concurrency-profiler[attribution]'  # --attribution, concur attribute
    pip install 'concurrency-profiler[celery]'       # --models celery
    pip install 'concurrency-profiler[all]'          # all of the above
"""

from __future__ import annotations

import importlib.util

from profiler.errors import ConfigError

DISTRIBUTION = "concurrency-profiler"

# extra -> the modules it provides (py-spy, a program rather than a module, comes with
# `attribution` too; a missing py-spy is a warning of its own, see attribution.pyspy).
EXTRAS: dict[str, tuple[str, ...]] = {
    "parquet": ("pyarrow",),
    "dask": ("dask", "distributed"),
    "attribution": ("yappi",),
    "celery": ("celery",),
}


class MissingExtra(ConfigError):
    """A feature was asked for whose extra is not installed (one line, exit 2)."""


def install_hint(extra: str) -> str:
    return f"pip install '{DISTRIBUTION}[{extra}]'"


def missing(extra: str) -> list[str]:
    """The modules of `extra` this Python cannot import."""
    return [m for m in EXTRAS[extra] if importlib.util.find_spec(m) is None]


def not_installed(extra: str, purpose: str) -> str | None:
    """None when `extra` is installed, else the one line that says what to install."""
    absent = missing(extra)
    if not absent:
        return None
    return f"{purpose} needs {', '.join(absent)}, which is not installed: {install_hint(extra)}"


def require(extra: str, purpose: str) -> None:
    """Raise `MissingExtra` (one line naming the extra) unless `extra` is installed."""
    message = not_installed(extra, purpose)
    if message:
        raise MissingExtra(message)
