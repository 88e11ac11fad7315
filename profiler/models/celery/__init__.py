"""celery: records as tasks through a real broker to N worker processes (see `model`);
`worker` runs in the worker processes, `plumbing` is the trial's side of workers and
broker, `metrics` turns what they report into numbers, `options` holds its flags."""

from profiler.models.celery.model import CeleryModel

__all__ = ["CeleryModel"]
