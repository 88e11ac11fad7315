"""Writing files so that no reader ever sees half of one, nor a credential; temporary
folders that a later run removes when the process that made them was killed."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import threading
from pathlib import Path

from profiler.redact import redact


def write_atomic(path: str | os.PathLike[str], text: str | bytes) -> Path:
    """Write a file so a reader never sees half of it: temp file in the folder, then rename.

    Text is redacted on the way (`profiler.redact`): whatever a report or a results file
    quotes (a command line, a driver's error), no password reaches the disk.

    A failure to write (a full disk, a read-only folder) is an OSError naming the file
    (`filename`); the earlier version of the file, if any, is left as it was.

    The temp file's name is chosen before it exists (pid and thread make it unique), so
    an interrupt landing anywhere, even between the file's creation and the return of
    the call that created it, still finds and removes it: no `.name.tmp` is left behind.
    """
    p = Path(path)
    data = redact(text).encode("utf-8") if isinstance(text, str) else text
    tmp = p.parent / f".{p.name}.{os.getpid()}-{threading.get_ident()}.tmp"
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        # 0o666 less the umask: a report is for others to read, as any file the user writes
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, 0o666)
        with open(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, p)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not exc.filename:
            # A full disk, a folder gone read-only: the error names the file concur was
            # writing (the CLI prints it as one line), not the temp file or nothing.
            raise OSError(exc.errno, exc.strerror or type(exc).__name__, str(p)) from None
        raise
    return p


OWNER_FILE = "owner.pid"  # in a temporary folder: the pid of the process it belongs to


def owned_tempdir_name(prefix: str) -> Path:
    """A folder name in the temp dir, `prefix` + random, not created yet: named before it
    exists, so that the caller's `finally` knows what to remove whenever an interrupt lands,
    even between the folder's creation and the return of the call that created it."""
    return Path(tempfile.gettempdir()).resolve() / f"{prefix}{secrets.token_hex(4)}"


def make_owned(folder: Path) -> None:
    """Create `folder` (private to this user) with this process's pid in OWNER_FILE: if the
    process is killed before it removes the folder (SIGKILL runs no cleanup), a later run
    finds it with `stale_tempdirs` and removes it."""
    folder.mkdir(mode=0o700)
    (folder / OWNER_FILE).write_text(str(os.getpid()))


def stale_tempdirs(prefix: str, tmp: Path | None = None) -> list[Path]:
    """Folders named `prefix`… whose OWNER_FILE names a process that is gone. A folder
    without one (being made right now, or not concur's) or whose owner lives is left alone."""
    import psutil

    stale = []
    for folder in Path(tmp or tempfile.gettempdir()).resolve().glob(f"{prefix}*"):
        try:
            owner = int((folder / OWNER_FILE).read_text().strip())
        except (OSError, ValueError):
            continue
        if not psutil.pid_exists(owner):
            stale.append(folder)
    return stale
