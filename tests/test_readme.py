"""Every `concur` command in the README is one the program accepts, and the quick ones run as
written (issue 25: "every command in the README runs as written on a fresh clone").

The commands come from the README itself: fenced `bash` blocks, indented code blocks, and
inline code that starts with `concur `. Each is parsed by the real command line (its
command, its flags and their values, without running it); the quick ones are run as a
user would, with the console script, in a folder of their own holding the README's
`job.py`: `--help`, `concur scenarios` and the pinned run of the quick start. The long
runs (the 60 s sweep, the seed story, the gate) are parsed, not run: other tests measure
what they do.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer

from profiler.cli import app

README = Path(__file__).parent.parent / "README.md"
CONCUR = Path(sys.executable).with_name("concur")
PLACEHOLDER = re.compile(r"…|\.\.\.|<[a-z]")  # `concur run … --attribution`, `<host>`


def readme_blocks(text: str) -> tuple[list[str], list[str]]:
    """(the shell commands of fenced bash blocks and indented blocks, the python blocks)."""
    shell, python = [], []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"```(\w*)", lines[i])
        if fence:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            body = lines[i + 1:end]
            if fence.group(1) == "bash":
                shell += body
            elif fence.group(1) == "python":
                python.append("\n".join(body))
            i = end + 1
            continue
        if lines[i].startswith("    ") and (i == 0 or not lines[i - 1].strip()):
            while i < len(lines) and lines[i].startswith("    "):
                shell.append(lines[i][4:])
                i += 1
            continue
        i += 1
    joined = "\n".join(shell).replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip()], python


def concur_commands() -> list[list[str]]:
    text = README.read_text(encoding="utf-8")
    shell, _ = readme_blocks(text)
    found = [shlex.split(line, comments=True) for line in shell if line.startswith("concur ")]
    # Inline code: a command with its arguments (`concur run` alone names the command).
    found += [args for span in re.findall(r"`(concur [^`]+)`", text)
              if len(args := shlex.split(span)) > 2 or args[1:] == ["scenarios"]]
    unique = {tuple(args): None for args in found if not PLACEHOLDER.search(" ".join(args))}
    return [list(args) for args in unique]


def is_quick(args: list[str]) -> bool:
    """Run for real: help, the scenario list, and a run on the README's job.py with its
    grid pinned (seconds, not the minute of a sweep)."""
    return (args[1:] == ["scenarios"] or "--help" in args or "-h" in args
            or (args[1] == "run" and args[2] == "job:handle" and "--concurrency" in args))


def test_the_readme_shows_the_quick_start_and_its_job():
    commands = concur_commands()
    assert any(is_quick(c) and c[1] == "run" for c in commands), "no pinned quick run in the README"
    assert ["concur", "--help"] in commands and ["concur", "scenarios"] in commands
    _, python = readme_blocks(README.read_text(encoding="utf-8"))
    assert any(block.startswith("# job.py") for block in python)


@pytest.mark.parametrize("args", [c for c in concur_commands() if not is_quick(c)],
                         ids=lambda args: " ".join(args[1:4]))
def test_every_readme_command_is_one_concur_accepts(args):
    group = typer.main.get_command(app)
    assert args[1] in group.commands, f"no command {args[1]!r}"  # type: ignore[attr-defined]
    command = group.commands[args[1]]  # type: ignore[attr-defined]
    try:
        command.make_context(args[1], args[2:])
    except click.UsageError as exc:
        pytest.fail(f"`{shlex.join(args)}`: {exc.format_message()}")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A folder of the user's own, outside the repository, holding the README's job.py."""
    folder = tmp_path_factory.mktemp("project")
    _, python = readme_blocks(README.read_text(encoding="utf-8"))
    job = next(block for block in python if block.startswith("# job.py"))
    (folder / "job.py").write_text(job + "\n")
    return folder


@pytest.mark.parametrize("args", [
    pytest.param(c, marks=[pytest.mark.slow] if c[1] == "run" and "--help" not in c else [],
                 id=" ".join(c[1:]))
    for c in concur_commands() if is_quick(c)])
def test_the_quick_readme_commands_run_as_written(args, project):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([str(CONCUR), *args[1:]], cwd=project, env=env, capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0, (args, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr
    if args[1] == "run" and "--help" not in args:
        out = args[args.index("-o") + 1] if "-o" in args else None
        assert "← recommended" in proc.stdout
        if out:
            assert (project / out / "index.html").is_file()
