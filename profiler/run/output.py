"""Where a run writes, checked and claimed before anything is measured.

A folder that cannot be written (`--out` naming a file, a path under a file, /proc) or a
`--json` that names a folder would otherwise be found after the first trial, a minute
into the run, as a traceback. And two runs given the same `--out` would rewrite each
other's results.json after every trial, silently losing one run. So before measuring:
every output path is checked (one `ConfigError` naming the flag), and the folder is
locked (`flock` on the folder itself, dropped by the kernel however concur ends), so a
second run into it is refused in one line.

An output folder is concur's to write in only when it is new, empty, or holds a concur
report already (which is then replaced, and said): `--out ""` (an unset variable) names
the current folder, and a report written beside a user's own `index.html`, or into
an etc-like folder, would overwrite or litter it. A symbolic link is refused too: the
report would land wherever it points.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from profiler.errors import ConfigError

# Names concur writes into an output folder (a report, results, an attribution); a folder
# holding one of them, written by concur, is a report folder.
REPORT_FILES = ("index.html", "summary.md", "results.json", "attribution.json")
_MARK = b"concur"


def check_folder(path: Path, flag: str, contents: bool = True) -> Path:
    """Create `path` (and its parents) and prove a file can be written in it; refuse a
    symbolic link and (`contents`) a folder that holds something other than a concur report."""
    if path.is_symlink():
        raise ConfigError(f"{flag} {path} is a symbolic link (to {os.readlink(path)}): name a "
                          "real folder, so the report lands where you say")
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {path} is a file, not a folder")
    if contents:
        check_contents(path, flag)
    _writable(path, flag, path)
    return path


def check_contents(path: Path, flag: str) -> None:
    """Refuse a folder that holds something other than a concur report."""
    if path.is_dir() and not is_report_folder(path):
        shown = sorted(e.name for e in path.iterdir())
        more = f" and {len(shown) - 3} more" if len(shown) > 3 else ""
        empty = " (an empty --out, such as an unset variable, names the current folder)" \
            if str(path) == "." else ""
        raise ConfigError(f"{flag} {path}{empty} holds files that are not a concur report "
                          f"({', '.join(shown[:3])}{more}): name a new or empty folder")


def is_report_folder(path: Path) -> bool:
    """True when `path` is empty or holds a report concur wrote (one of REPORT_FILES that
    names concur in its first 4 KiB)."""
    entries = [e for e in path.iterdir() if not e.name.startswith(".concur-probe-")]
    if not entries:
        return True
    for name in REPORT_FILES:
        try:
            with open(path / name, "rb") as fh:
                if _MARK in fh.read(4096):
                    return True
        except OSError:
            continue
    return False


def holds_report(path: Path) -> bool:
    """True when `path` holds an earlier concur report (not merely exists, empty)."""
    return path.is_dir() and any((path / name).is_file() for name in REPORT_FILES)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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
def claim_folder(path: Path, flag: str = "--out", say: Callable[[str], None] = _say) -> Iterator[Path]:
    """Check `path` and hold an exclusive lock on it while the block runs.

    The lock is a `flock` on the folder itself: no lock file to leave behind, and the
    kernel drops it when concur exits, however it exits. A second claim of the same
    folder, by this or another process, fails with one line naming the holder's pid. A
    folder this call created and nothing was written into is removed again (a bad target
    leaves no empty report folder). An earlier report in it is replaced, and `say` says so."""
    created = not path.exists()
    check_folder(path, flag, contents=False)
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
        check_contents(path, flag)
    except BaseException:
        os.close(fd)
        if created:
            with contextlib.suppress(OSError):
                path.rmdir()
        raise
    if holds_report(path):
        say(f"{flag} {path} holds an earlier concur report: it will be replaced")
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
