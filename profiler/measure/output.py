"""What a trial's processes print: captured, kept short, never mixed into concur's output.

A handler that prints (progress, a debug line, a library's warnings) must not reach
concur's stdout, which may be `--json -`, nor scroll the progress line away. So each
trial's stdout and stderr go to one pipe, read by a thread in concur that keeps only the
last OUTPUT_LINES lines (each cut at MAX_LINE characters): memory stays bounded however
much the handler prints, and the lines are kept in the trial (`Trial.output_tail`,
redacted) to be shown when the trial or its records fail.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
from collections import deque
from typing import IO

from profiler.redact import redact

OUTPUT_LINES = 20
MAX_LINE = 300
READ_BYTES = 65536
STOP_POLL_S = 0.2  # how soon the reader notices it was asked to stop


class OutputTail:
    """Reads `pipe` on a thread until it closes or `close()` is called; keeps the last lines."""

    def __init__(self, pipe: IO[bytes], lines: int = OUTPUT_LINES) -> None:
        self._pipe = pipe
        self._lines: deque[bytes] = deque(maxlen=lines)
        self._partial = b""
        self._lock = threading.Lock()  # close() may read while a stuck reader still appends
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="concur-trial-output", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        fd = self._pipe.fileno()
        while True:
            try:
                ready, _, _ = select.select([fd], [], [], STOP_POLL_S)
                if not ready:
                    if self._stop.is_set():
                        return
                    continue
                data = os.read(fd, READ_BYTES)
            except (OSError, ValueError):
                return
            if not data:
                return
            with self._lock:
                *complete, self._partial = (self._partial + data).split(b"\n")
                self._partial = self._partial[-MAX_LINE * 4:]
                for line in complete:
                    if line.strip():
                        self._lines.append(line[:MAX_LINE * 4])

    def close(self, wait_s: float = 1.0) -> list[str]:
        """Stop reading (after what is already in the pipe) and return the last lines."""
        self._stop.set()
        self._thread.join(wait_s)
        if not self._thread.is_alive():
            with contextlib.suppress(OSError):
                self._pipe.close()
        with self._lock:
            lines = [*self._lines, *([self._partial] if self._partial.strip() else [])]
        return [redact(line.decode("utf-8", "replace").rstrip())[:MAX_LINE] for line in lines]
