"""A target that talks in concur's own process: at import, in records() and in its service."""

import contextlib
import time

from profiler import Workload

print("chatty: imported")


def _records(n):
    print("chatty: making records")
    return range(n)


@contextlib.contextmanager
def _service():
    print("chatty: service up")
    yield {}


def _handle(record):
    print("chatty: handling", record)
    time.sleep(0.001)


job = Workload("chatty", handle=_handle, records=_records, service=_service)
