"""Counting a process's TCP connections through netlink matches psutil's count."""

from __future__ import annotations

import socket
import time

import psutil

from profiler.measure.netstat import TcpCounter
from tests.conftest import HoldServer


def psutil_count(proc: psutil.Process) -> int:
    return sum(1 for c in proc.net_connections(kind="tcp") if c.status != psutil.CONN_LISTEN)


def test_counts_established_connections_like_psutil_and_ignores_listeners():
    me = psutil.Process()
    counter = TcpCounter()
    with HoldServer():
        baseline = counter.count([me])
        assert baseline == psutil_count(me)
    with HoldServer() as server:
        clients = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(5)]
        try:
            deadline = time.monotonic() + 5
            while psutil_count(me) < baseline + 10 and time.monotonic() < deadline:
                time.sleep(0.01)  # the server side is accepted on its own thread
            # both ends live in this process: 5 client + 5 server sockets
            assert counter.count([me]) == psutil_count(me) == baseline + 10
        finally:
            for c in clients:
                c.close()
