"""Optional features and the pip extra that installs each.

The core install is what `concur run` needs on its own (the README's main command);
heavier or rarer features are extras, and asking for one that is not installed is one
line saying what to install, never an ImportError:

    [parquet]      --input FILE.parquet          pyarrow
    [dask]         --models dask                 dask.distributed
    [attribution]  --attribution, concur attribute   py-spy, yappi
    [celery]       --models celery               celery, redis
    [all]          all of the above

concur is not on PyPI: it is installed from a clone (`pip install '.[dask]'`), a git URL
or a wheel, so `pip install 'concurrency-profiler[dask]'` would fail. The hint names the
extra's own requirements instead (`pip install 'dask[distributed]>=2024.1'`), read from
the installed distribution's metadata: it works however concur was installed, and
pyproject.toml stays the one list of them.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from importlib import metadata

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
    """The pip command that installs `extra`'s requirements into this environment."""
    needs = requirements(extra)
    if not needs:  # concur runs from a source tree it was never installed from
        return f"pip install '.[{extra}]' in concur's source folder"
    return "pip install " + " ".join(shlex.quote(r) for r in needs) + f" (concur's [{extra}] extra)"


def requirements(extra: str) -> list[str]:
    """`extra`'s requirements as the installed metadata lists them (an extra that names
    others, like [all], is expanded); empty when concur's metadata is not installed."""
    try:
        listed = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return []
    out: list[str] = []
    for line in listed:
        spec, _, marker = line.partition(";")
        if re.search(rf"""extra\s*==\s*["']{re.escape(extra)}["']""", marker):
            nested = re.fullmatch(rf"{re.escape(DISTRIBUTION)}\[([\w,\s-]+)\]\s*", spec.strip())
            if nested:
                for name in nested.group(1).split(","):
                    out += [r for r in requirements(name.strip()) if r not in out]
            elif spec.strip() not in out:
                out.append(spec.strip())
    return out


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
