"""dask: records as tasks on a dask.distributed cluster (see `model`); `worker` runs on the
workers, `metrics` turns what they report into numbers, `options` holds its flags."""

from profiler.models.dask.model import DaskModel

__all__ = ["DaskModel"]
