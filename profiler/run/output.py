"""Where a run writes, checked and claimed before anything is measured.

A folder that cannot be written (`--out` naming a file, a path under a file, /proc) or a
`--json` that names a folder would otherwise be found after the first trial, a minute
into the run, as a traceback. And two runs given the same `--out` would rewrite each
other's results.json after every trial, silently losing one run. So before measuring:
every output path is checked (one `ConfigError` naming the flag), and the folder is
locked (`flock` on the folder itself, dropped by the kernel however concur ends), so a
second run into it is refused in one line.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from profiler.errors import ConfigError


def check_folder(path: Path, flag: str) -> Path:
    """Create `path` (and its parents) and prove a file can be written in it."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {path} is a file, not a folder")
    _writable(path, flag, path)
    return path


def check_file(path: Path, flag: str) -> Path:
    """A file concur will write: not a folder, and its folder writable."""
    if path.is_dir():
        raise ConfigError(f"{flag} {path} is a folder; name a file, e.g. {path / 'results.json'}")
    if path.exists() and not path.is_file():
        raise ConfigError(f"{flag} {path} is not a regular file")
    _writable(path.parent, flag, path)
    return path


def _writable(folder: Path, flag: str, named: Path) -> None:
    why = _unwritable(folder)
    if why:
        raise ConfigError(f"{flag} {named}: cannot write there ({why})")


def _unwritable(folder: Path) -> str | None:
    """Why no file can be written in `folder` (created if missing), or None."""
    probe = folder / f".concur-probe-{os.getpid()}"  # named first: an interrupt cannot strand it
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600))
    except OSError as exc:
        return _why(exc, folder)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(probe)
    return None


def _why(exc: OSError, path: Path) -> str:
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        blocker = next((p for p in [path, *path.parents] if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            return f"{blocker} is a file"
    return exc.strerror or type(exc).__name__


@contextlib.contextmanager
def claim_folder(path: Path, flag: str = "--out") -> Iterator[Path]:
    """Check `path` and hold an exclusive lock on it while the block runs.

    The lock is a `flock` on the folder itself: no lock file to leave behind, and the
    kernel drops it when concur exits, however it exits. A second claim of the same
    folder, by this or another process, fails with one line naming the holder's pid. A
    folder this call created and nothing was written into is removed again (a bad target
    leaves no empty report folder)."""
    created = not path.exists()
    check_folder(path, flag)
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = lock_holder(fd)
        os.close(fd)
        raise ConfigError(f"{flag} {path} is in use by another concur run"
                          f"{f' (pid {holder})' if holder else ''}; choose another {flag} or "
                          "wait for it to finish") from None
    try:
        yield path
    finally:
        os.close(fd)  # releases the lock
        if created:
            with contextlib.suppress(OSError):
                path.rmdir()  # only succeeds when empty


def lock_holder(fd: int) -> int | None:
    """The pid holding a flock on `fd`'s file, from /proc/locks (Linux); None if unknown."""
    st = os.fstat(fd)
    me = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) > 5 and parts[1] == "FLOCK" and parts[5] == me and parts[4].isdigit():
                    return int(parts[4])
    except OSError:
        pass
    return None
