"""A gate side at a git revision: `concur gate --baseline-rev origin/main --candidate job.py:handle`.

The revision is checked out into a temporary worktree (`git worktree add --detach`) for
the gate's duration and removed after, however the gate ends (an error, Ctrl-C, SIGTERM,
which the CLI turns into Ctrl-C). The side's target is the same target as given, found
at the revision: a file path relative to the repository root, or a module resolved from
the current folder as `profiler.workload` resolves it (`job:handle` beside job.py,
`pkg.job:handle` in a package), taken at the same place in the checkout. The other side,
without a revision, is the working tree as it is: with uncommitted changes, if any, which
the gate says.

Errors are one line (`ConfigError`, exit 2): not a git repository, an unknown revision, the
target missing at that revision, a results file given a revision.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profiler.errors import ConfigError
from profiler.files import make_owned, owned_tempdir_name, stale_tempdirs
from profiler.workload import split_target

FOLDER_PREFIX = "concur-rev-"
LABELS = ("baseline", "candidate")


@dataclass
class Checkout:
    """The two sides' targets as the gate runs them, and what each side is."""

    sides: dict[str, str]  # label -> target to import (in a worktree for a side at a revision)
    shown: dict[str, str] = field(default_factory=dict)  # label -> the target as the user reads it
    notes: list[str] = field(default_factory=list)
    trees: dict[str, Path] = field(default_factory=dict)  # label -> its worktree, for a side at a revision


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)


def repo_root(start: Path) -> Path:
    """The repository holding `start` (its top level), or one line saying there is none."""
    if shutil.which("git") is None:
        raise ConfigError("--baseline-rev/--candidate-rev need git, which is not on the PATH")
    proc = git(start, "rev-parse", "--show-toplevel")
    if proc.returncode != 0:
        raise ConfigError(f"not a git repository: {start} (--baseline-rev/--candidate-rev check a "
                          "revision out of the repository the target is in; run concur inside it)")
    return Path(proc.stdout.strip()).resolve()


def resolve(repo: Path, rev: str) -> str:
    """The commit `rev` names, or one line saying it names none."""
    proc = git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
    if proc.returncode != 0 or not proc.stdout.strip():
        raise ConfigError(f"unknown revision {rev!r} in {repo} (in CI, fetch the history: "
                          "actions/checkout with fetch-depth: 0)")
    return proc.stdout.strip()


def dirty(repo: Path) -> list[str]:
    """Tracked files with uncommitted changes."""
    proc = git(repo, "status", "--porcelain", "--untracked-files=no")
    return [line[3:] for line in proc.stdout.splitlines() if line.strip()]


@contextlib.contextmanager
def worktree(repo: Path, commit: str) -> Iterator[Path]:
    """`commit` checked out in a temporary folder, removed (and unregistered) on exit. The
    checkout is `tree` inside a folder that names its owner: one a SIGKILLed gate left
    behind is removed by the next revision gate (`remove_stale`)."""
    remove_stale(repo)
    folder = owned_tempdir_name(FOLDER_PREFIX)
    tree = folder / "tree"
    try:
        make_owned(folder)
        proc = git(repo, "worktree", "add", "--detach", "--quiet", str(tree), commit)
        if proc.returncode != 0:
            raise ConfigError(f"git worktree add failed for {commit[:12]}: "
                              f"{(proc.stderr.strip().splitlines() or ['no message'])[-1]}")
        yield tree
    finally:
        git(repo, "worktree", "remove", "--force", str(tree))
        shutil.rmtree(folder, ignore_errors=True)
        git(repo, "worktree", "prune")


def remove_stale(repo: Path, tmp: Path | None = None) -> list[Path]:
    """Checkouts of gates that died without removing them (SIGKILL): removed, and their
    registration in `repo` pruned. A checkout whose gate is alive is left alone."""
    stale = stale_tempdirs(FOLDER_PREFIX, tmp)
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    if stale:
        git(repo, "worktree", "prune")
    return stale


def at_revision(target: str, repo: Path, tree: Path, rev: str, cwd: Path) -> str:
    """`target` as found in the checkout `tree` of `rev` (see the module docstring)."""
    base, attr = split_target(target)
    if base.endswith(".py") or os.sep in base:
        path = (cwd / base).resolve()
        where = _inside(path, repo, target)
    else:
        found = _module_file(base, cwd)
        if found is None:
            raise ConfigError(f"{base} is not a module in {cwd}: --baseline-rev/--candidate-rev "
                              "need a target inside the repository (job.py:handle, pkg.job:handle)")
        where = _inside(found, repo, target)
    there = tree / where
    if not there.is_file():
        raise ConfigError(f"{where} does not exist at revision {rev}: nothing to measure there")
    return f"{there}:{attr}" if attr else str(there)


def _inside(path: Path, repo: Path, target: str) -> Path:
    try:
        return path.relative_to(repo)
    except ValueError:
        raise ConfigError(f"{target} is outside the git repository {repo}: a revision of it "
                          "cannot be checked out") from None


def _module_file(name: str, cwd: Path) -> Path | None:
    """The file `name` imports from in `cwd` (as `python -m` would find it there), if any."""
    parts = name.split(".")
    for candidate in (cwd.joinpath(*parts).with_suffix(".py"), cwd.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate.resolve()
    return None


def forget_modules(tree: Path) -> None:
    """Drop from sys.modules what was imported from the checkout `tree`, so the working
    tree's module of the same name (`pkg.job`) imports as itself afterwards; the objects
    already loaded (the side's handle, setup, service) stay alive through their references."""
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve().is_relative_to(tree):
            del sys.modules[name]


@contextlib.contextmanager
def checkouts(spec: Any, progress: Any = None) -> Iterator[Checkout]:
    """The gate's two sides, with any side at a revision checked out for the duration.

    `spec` is a `review.measure.GateSpec` (baseline, candidate, baseline_rev, candidate_rev)."""
    revs = {"baseline": spec.baseline_rev, "candidate": spec.candidate_rev}
    given = {"baseline": spec.baseline, "candidate": spec.candidate}
    if not any(revs.values()):
        missing = [k for k in LABELS if not given[k]]
        if missing:
            raise ConfigError(f"--{missing[0]} is required (a target or a results.json), unless "
                              f"--{missing[0]}-rev takes the other side's target at a revision")
        yield Checkout(dict(given), dict(given))
        return
    targets = {k: given[k] or given[_other(k)] for k in LABELS}
    for k in LABELS:
        if not targets[k]:
            raise ConfigError("give the target: --candidate job.py:handle (with --baseline-rev, "
                              "the baseline is the same target at that revision)")
        if revs[k] and str(targets[k]).endswith(".json"):
            raise ConfigError(f"--{k}-rev takes a target (file.py:func), not a results file: "
                              f"{targets[k]}")
    cwd = Path.cwd().resolve()
    repo = repo_root(cwd)
    commits = {k: resolve(repo, rev) for k, rev in revs.items() if rev}
    shown = {k: f"{targets[k]} at {revs[k]} ({commits[k][:12]})" if revs[k] else targets[k]
             for k in LABELS}
    notes = []
    changed = dirty(repo)
    for k in LABELS:
        if not revs[k] and not str(targets[k]).endswith(".json"):
            state = (f"with its uncommitted changes ({len(changed)} file"
                     f"{'s' if len(changed) != 1 else ''}: {', '.join(changed[:3])}"
                     f"{', …' if len(changed) > 3 else ''})" if changed else "clean")
            notes.append(f"{k}: {targets[k]} as it is in the working tree, {state}")
            shown[k] = f"{targets[k]} (working tree{', uncommitted changes' if changed else ''})"
    with contextlib.ExitStack() as stack:
        sides, trees = {}, {}
        for k in LABELS:
            if revs[k]:
                tree = trees[k] = stack.enter_context(worktree(repo, commits[k]))
                sides[k] = at_revision(str(targets[k]), repo, tree, revs[k], cwd)
                notes.insert(0, f"{k}: {targets[k]} at {revs[k]} ({commits[k][:12]}), checked out "
                             "in a temporary worktree")
            else:
                sides[k] = str(targets[k])
        for line in notes:
            if progress is not None:
                progress.note(line)
        yield Checkout(sides, shown, notes, trees)


def _other(label: str) -> str:
    return LABELS[1 - LABELS.index(label)]
