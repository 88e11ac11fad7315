"""The concurrency models: one module each, one base (`profiler.models.base.Model`).

Adding a model means writing its module and adding one line to the tuple below; every
fact the sweep, the verdict and the report need is on the model. `register()` adds one
at run time (a plugin, a test): trial children re-import it from its module, by name.
"""

from __future__ import annotations

import importlib
from typing import Any

from profiler.errors import ConfigError
from profiler.models.asyncio_ import AsyncioModel
from profiler.models.asyncio_threads import AsyncioThreadsModel
from profiler.models.base import Model
from profiler.models.celery import CeleryModel
from profiler.models.dask import DaskModel
from profiler.models.processes import ProcessesModel
from profiler.models.sequential import SequentialModel
from profiler.models.threads import ThreadsModel
from profiler.models.uvloop_ import UvloopModel

MODELS: dict[str, Model] = {
    m.name: m
    for m in (
        SequentialModel(),
        ThreadsModel(),
        ProcessesModel(),
        AsyncioThreadsModel(),
        AsyncioModel(),
        UvloopModel(),
        DaskModel(),
        CeleryModel(),
    )
}


def get_model(name: str) -> Model:
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r} (known: {', '.join(MODELS)})") from None


def register(model: Model) -> Model:
    """Add a model (its class must be importable by module and name, for trial children)."""
    MODELS[model.name] = model
    return model


def model_ref(name: str) -> str:
    """`module:Class` of a registered model, so a fresh process can find it again."""
    cls = type(get_model(name))
    return f"{cls.__module__}:{cls.__qualname__}"


def resolve(name: str, ref: str = "") -> Model:
    """The model called `name`, importing `ref` first when this process has not seen it."""
    if name not in MODELS and ref:
        module, _, attr = ref.partition(":")
        register(getattr(importlib.import_module(module), attr)())
    return get_model(name)


def default_models() -> list[str]:
    """Every registered model but the opt-in ones (dask starts a cluster: only when named)."""
    return [name for name, model in MODELS.items() if not model.opt_in]


def simplicity_rank(model: str, handle_kind: str = "sync") -> int:
    """How simple `model` is to own for this handler form; unknown models rank last."""
    found = MODELS.get(model)
    return found.rank(handle_kind) if found is not None else len(MODELS) + 1


def simplicity_order(handle_kind: str = "sync") -> list[str]:
    """Registered model names, simplest first, for this handler form."""
    return sorted(MODELS, key=lambda name: simplicity_rank(name, handle_kind))


def model_options_from_flags(models: list[str] | None, **flags: Any) -> tuple[tuple[str, Any], ...]:
    """Model flags (--scheduler, --chunk, --broker, …) as `RunOptions.model_options`, validated
    now by every named model that reads them (`Model.option_flags`, `Model.check_options`):
    a bad value, or a flag no named model reads, is exit 2 before any trial runs."""
    given = {k: v for k, v in flags.items() if v is not None}
    named = [get_model(m) for m in models or []]
    for key in given:
        if not any(key in m.option_flags for m in named):
            readers = [name for name, m in MODELS.items() if key in m.option_flags]
            flag = "--" + key.replace("_", "-")
            raise ConfigError(f"{flag} only applies to the {' or '.join(readers)} model: add it, "
                              f"e.g. --models threads,{readers[0] if readers else '?'}")
    for m in named:
        mine = {k: v for k, v in given.items() if k in m.option_flags}
        if mine:
            m.check_options(mine)
    return tuple(given.items())
