"""How the `concur` process ends: an exit code and at most one line on stderr, always.

`run_app` is `concur`'s main loop around typer: a `ConcurError` becomes its one-line
message and exit code (2 unless the error says otherwise); a usage error one line with
where to look; Ctrl-C, SIGTERM and SIGHUP (`run.signals`) stop the run as Ctrl-C does
and exit 128 + the signal (130, 143, 129); a stdout closed by its reader (`| head -1`)
no longer ends the run (the report is still written). Every line concur writes to stdout
and stderr is redacted (`profiler.redact`), whoever prints it.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import typer

from profiler.errors import ConcurError
from profiler.redact import redact
from profiler.run.signals import Received, interrupt_on_signals, signal_name

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_USAGE = 2
EXIT_ALL_FAILED = 3
EXIT_SERVICE_LOST = 4  # a service the run needs stopped under it (errors.ServiceLost)
EXIT_INCONCLUSIVE = 5  # the gate could not tell: a side's climb stopped while still gaining
EXIT_INTERRUPTED = 130


class _Interrupted(Exception):
    """A KeyboardInterrupt (Ctrl-C, or SIGTERM/SIGHUP as `Stopped`) that left a command,
    carried past typer, which would turn it into a silent exit 130."""

    def __init__(self, interrupt: KeyboardInterrupt) -> None:
        super().__init__(str(interrupt))
        self.interrupt = interrupt


def _interruptible(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)  # typer reads the signature through __wrapped__
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt as exc:
            raise _Interrupted(exc) from exc
    call.concur_interruptible = True  # type: ignore[attr-defined]
    return call


def run_app(app: typer.Typer, argv: list[str] | None = None) -> int:
    """Run the typer `app` as `concur`; see the module docstring for every way out."""
    for info in app.registered_commands:  # before typer turns a KeyboardInterrupt into a silent 130
        if info.callback is not None and not getattr(info.callback, "concur_interruptible", False):
            info.callback = _interruptible(info.callback)
    # Once a signal stopped the run, a further one has nothing left to stop (it would only
    # turn the exit into a death by signal): ignored, not restored, on the way out.
    received = Received()
    try:
        with interrupt_on_signals(ignore_once_stopping=True) as received, _guarded_streams():
            code = _main(app, argv, received)
    except KeyboardInterrupt:  # one more signal while the streams were being put back
        code = EXIT_INTERRUPTED
    if code == EXIT_INTERRUPTED:
        code = received.exit_code(EXIT_INTERRUPTED)
    return code


def _main(app: typer.Typer, argv: list[str] | None, received: Received) -> int:
    try:
        code = app(args=argv, prog_name="concur", standalone_mode=False)
    except ConcurError as exc:
        return error_line(str(exc), exc.exit_code)
    except _Interrupted as exc:
        return _interrupted(received, exc.interrupt)
    except typer.Exit as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # typer's own wrapping of Ctrl-C
            return _interrupted(received, exc.__cause__)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        return _interrupted(received, exc)
    except Exception as exc:
        # Usage errors from typer's click (vendored in recent typer, a dependency in older):
        # matched by shape, so either layout prints its one-line message.
        if type(exc).__name__ == "NoArgsIsHelpError" and callable(getattr(exc, "show", None)):
            exc.show()  # bare `concur`: the help is the answer
            return EXIT_USAGE
        if callable(getattr(exc, "format_message", None)) and isinstance(getattr(exc, "exit_code", None), int):
            ctx = getattr(exc, "ctx", None)
            hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            return error_line(f"{exc.format_message()}{hint}", EXIT_USAGE)
        if type(exc).__name__ == "Abort":  # click's wrapping of a KeyboardInterrupt
            cause = exc.__cause__ if isinstance(exc.__cause__, KeyboardInterrupt) else KeyboardInterrupt()
            return _interrupted(received, cause)
        if isinstance(exc, OSError) and exc.filename:  # a file concur writes: unwritable, disk full
            return error_line(f"cannot write {exc.filename}: {exc.strerror or exc}", EXIT_USAGE)
        raise
    return code if isinstance(code, int) else EXIT_OK


def _interrupted(received: Received, exc: KeyboardInterrupt) -> int:
    """Interrupted outside the trials (the trials' own interruption is kept and reported
    by the run): one line; what was already written stays."""
    return error_line(f"interrupted ({received.name or signal_name(exc)})", EXIT_INTERRUPTED, prefix="")


def error_line(message: str, code: int, prefix: str = "error: ") -> int:
    """One line on stderr, never wrapped or styled (drivers put SQL context on further
    lines), credentials redacted; returns `code`."""
    line = " ".join(part.strip() for part in redact(message).splitlines() if part.strip())
    with contextlib.suppress(OSError):
        print(prefix + line, file=sys.stderr, flush=True)
    return code


class _GuardedStream(io.TextIOBase):
    """stdout or stderr as concur writes them: every text redacted on its way out (a
    password given to `--dsn` never reaches a terminal or a CI log, whoever prints), and
    a stream that outlives its reader: after `| head -1` leaves, output goes to /dev/null
    (the report and results are still written) instead of a BrokenPipeError."""

    def __init__(self, inner: io.TextIOBase) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def isatty(self) -> bool:
        return self._inner.isatty()

    def fileno(self) -> int:
        return self._inner.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._inner, "encoding", "utf-8")

    def write(self, text: str) -> int:
        try:
            self._inner.write(redact(text))
            return len(text)
        except BrokenPipeError:
            self._to_devnull()
            return len(text)

    def flush(self) -> None:
        try:
            self._inner.flush()
        except BrokenPipeError:
            self._to_devnull()

    def _to_devnull(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._inner.fileno())
        except (OSError, ValueError):  # no real descriptor (captured): nothing to redirect
            pass
        finally:
            os.close(devnull)


@contextlib.contextmanager
def _guarded_streams() -> Iterator[None]:
    """sys.stdout and sys.stderr as `_GuardedStream`s while the command runs."""
    real = {name: getattr(sys, name) for name in ("stdout", "stderr")}
    for name, stream in real.items():
        if stream is not None and hasattr(stream, "fileno"):
            setattr(sys, name, _GuardedStream(stream))
    try:
        yield
    finally:
        for name, stream in real.items():
            setattr(sys, name, stream)
            with contextlib.suppress(BrokenPipeError, OSError, ValueError, AttributeError):
                stream.flush()
