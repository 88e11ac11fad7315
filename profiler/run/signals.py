"""SIGTERM and SIGHUP stop a run the way Ctrl-C does.

A CI job that times out, `timeout 60 concur run …`, a closed terminal or `kill` must
not orphan the trial (its own process group: a terminal's Ctrl-C reaches only concur)
nor lose what was measured. Ctrl-C already takes one path: a KeyboardInterrupt in the
main thread unwinds through every `finally` (the trial's tree is killed, the `--input`
pickle removed, servers entered as context managers stopped), the session keeps the
trials with `interrupted=true`, and the report is written. `interrupt_on_signals`
makes SIGTERM and SIGHUP raise `Stopped`, a KeyboardInterrupt, so they take the same
path, and remembers which signal came first so the command exits 128 + its number
(130 Ctrl-C, 143 SIGTERM, 129 SIGHUP), as a shell reports a process killed by it.

A second signal while the run is winding down raises again: whatever was still being
written (the report) is abandoned, results.json is already on disk, nothing is left
running (the trial child also watches its parent: `profiler.measure.child`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import FrameType

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopped(KeyboardInterrupt):
    """Raised in the main thread by SIGTERM or SIGHUP; caught wherever Ctrl-C is."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass
class Received:
    """The signals that arrived while `interrupt_on_signals` was active, first one first."""

    signals: list[int] = field(default_factory=list)

    @property
    def first(self) -> int | None:
        return self.signals[0] if self.signals else None

    @property
    def name(self) -> str | None:
        """The first signal in the user's words ("Ctrl-C", "SIGTERM"), None if none came."""
        if not self.signals:
            return None
        return "Ctrl-C" if self.signals[0] == signal.SIGINT else signal.Signals(self.signals[0]).name

    def exit_code(self, default: int) -> int:
        """128 + the first signal's number, the shell's convention; `default` if none came."""
        return 128 + self.signals[0] if self.signals else default


def signal_name(exc: BaseException) -> str:
    """How to say which interruption `exc` is: "Ctrl-C", "SIGTERM", "SIGHUP"."""
    if isinstance(exc, Stopped):
        return signal.Signals(exc.signum).name
    return "Ctrl-C"


@contextlib.contextmanager
def interrupt_on_signals(ignore_once_stopping: bool = False) -> Iterator[Received]:
    """While active (main thread only), SIGINT, SIGTERM and SIGHUP raise in the main thread
    (KeyboardInterrupt, or `Stopped` for the last two) and are recorded in order.

    `ignore_once_stopping`: when a signal did arrive, leave them ignored on the way out
    instead of restoring the previous handlers: the process is stopping, and restoring
    Python's own SIGINT handler left a window where a second Ctrl-C raised a
    KeyboardInterrupt nobody caught (the process died by SIGINT, exit −2, instead of
    exiting 130 with its report written). Without a signal the handlers are restored: a
    caller in the same process (a test calling `concur` in-process) keeps its own, and the
    programs it starts later are not started with SIGTERM ignored."""
    received = Received()
    if threading.current_thread() is not threading.main_thread():
        yield received  # signal handlers can only be set from the main thread
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        received.signals.append(signum)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Stopped(signum)

    # A signal the caller ignores stays ignored: `nohup concur …` must survive the hang-up,
    # a background job of a non-interactive shell its Ctrl-C.
    previous = {sig: signal.signal(sig, handler) for sig in HANDLED
                if signal.getsignal(sig) is not signal.SIG_IGN}
    try:
        yield received
    finally:
        stopping = ignore_once_stopping and bool(received.signals)
        for sig, old in previous.items():
            signal.signal(sig, signal.SIG_IGN if stopping else old)
