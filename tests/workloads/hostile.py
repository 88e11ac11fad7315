"""Handlers that misbehave the way real batch jobs do, for the bad-input battery.

Each is what its name says; none is meant to be measured, only survived.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from profiler import Workload

LEAK_MIB_PER_RECORD = 20


def quick(record):
    time.sleep(0.002)


def hangs(record):
    time.sleep(3600)


def hangs_with_a_child(record):
    """A handler that starts a process of its own and waits on it: it must die too."""
    subprocess.run([sys.executable, "-c", "import time; time.sleep(3600)"], check=False)


_kept: list[bytearray] = []


def leaks(record):
    """Holds LEAK_MIB_PER_RECORD MiB more after every record, never letting go."""
    block = bytearray(LEAK_MIB_PER_RECORD * 2**20)
    block[:: 4096] = b"x" * len(block[:: 4096])  # touch every page: resident, not just mapped
    _kept.append(block)
    time.sleep(0.005)


def exits_in_handler(record):
    """sys.exit() from deep inside a job: records 2, 3, 4, … exit, 0 and 1 (warm-up) do not."""
    if record >= 2:
        sys.exit(3)
    time.sleep(0.001)


def interrupts_in_handler(record):
    if record >= 2:
        raise KeyboardInterrupt("raised by the handler, not by a terminal")
    time.sleep(0.001)


def fails_with_its_dsn(record):
    """Half the records fail with the driver-style message that quotes the whole URL."""
    if record % 2:
        raise ConnectionError(f"could not connect to {os.environ.get('CONCUR_DSN', '?')}")
    time.sleep(0.001)


def always_fails(record):
    raise RuntimeError("the service is down")


def _teardown_fails(ctx):
    raise ValueError("teardown: connection already closed")


teardown_fails = Workload("teardown_fails", handle=quick, teardown=_teardown_fails)

markup_name = Workload("<script>alert(1)</script> *bold* [link](http://x)", handle=quick)


# ---------------------------------------------------------------- issue 24's hostile cases

def _parse(record):
    raise ValueError(f"bad record {record}: <b>*not*</b> [parsed]")


def prints_then_fails(record):
    """Talks on stdout and stderr, then fails every record in a helper of its own."""
    print(f"handling record {record}")
    print(f"warning from record {record}", file=sys.stderr)
    return _parse(record)


def connects_with_its_dsn(record):
    """A database job: says where it connects, and every other record fails with the
    driver's own error (which quotes the DSN, or a fragment of it)."""
    dsn = os.environ.get("CONCUR_DSN", "")
    if record == 0:
        print(f"connecting to {dsn}")
    if record % 2 == 0:
        import psycopg

        psycopg.connect(dsn, connect_timeout=1).close()
    time.sleep(0.001)


def _records_unpicklable_after_60(n):
    return [i if i < 60 else (lambda i=i: i) for i in range(n)]


unpicklable_after_the_sample = Workload("unpicklable_after_the_sample", handle=quick,
                                        records=_records_unpicklable_after_60)


def leaves_a_thread_and_a_process(record):
    """Record 0 starts a non-daemon thread and a child process, and returns."""
    if record == 0:
        import threading

        threading.Thread(target=time.sleep, args=(3600,), name="left-behind").start()
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    time.sleep(0.001)


def _hang(ctx):
    time.sleep(3600)


hangs_in_teardown = Workload("hangs_in_teardown", handle=quick, teardown=_hang)
slow_setup = Workload("slow_setup", handle=quick, setup=lambda: time.sleep(3600))
few_records = Workload("few_records", handle=quick, records=lambda n: range(min(n, 10)))


def _model(info):
    return info.model


def _junk_into_sockets(record, model):
    """Under threads only: writes garbage into every socket it inherited (concur's pipe)."""
    if model == "threads" and record == 5:
        import stat

        for fd in map(int, os.listdir("/proc/self/fd")):
            try:
                if stat.S_ISSOCK(os.fstat(fd).st_mode):
                    os.write(fd, b"\x00\x00\x00\x05junk!")
            except OSError:
                continue
    time.sleep(0.001)


writes_into_its_pipe = Workload("writes_into_its_pipe", handle=_junk_into_sockets, setup=_model)


def _unreadable_config():
    raise RuntimeError("config [/etc/app.toml] unreadable")


bracketed = Workload("etl [/nightly]", handle=quick, setup=_unreadable_config)
