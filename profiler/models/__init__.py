"""The concurrency models: one module each, one interface (`profiler.models.base.Model`).

Adding a model means writing its module and adding one line to `MODELS`.
"""

from __future__ import annotations

from profiler.models.asyncio_ import AsyncioModel
from profiler.models.asyncio_threads import AsyncioThreadsModel
from profiler.models.base import Model
from profiler.models.dask_ import DaskModel
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
    )
}

# Simplest first: the order the recommendation prefers within the noise margin.
MODEL_NAMES = tuple(MODELS)


def get_model(name: str) -> Model:
    from profiler.errors import ConfigError

    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r} (known: {', '.join(MODELS)})") from None
