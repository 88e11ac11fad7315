"""The command line as the README writes it (issue 25): help that names values in words
(`TARGET`, `--records N`, `-o DIR`), never `{TARGET}` or `<str>`; `-o` for `--out`; the
handler contract in `concur run --help`; and one line, exit 2, on a system that is not
Linux."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from profiler.cli import app, main

COMMANDS = ("run", "report", "compare", "gate", "attribute", "scenarios")


def help_of(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main([command, "--help"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", COMMANDS)
def test_help_names_every_value_in_words(command, capsys):
    text = help_of(command, capsys)
    assert not re.search(r"\{[A-Za-z_.]+\}|<(str|int|float|path|bool)>", text), text


def test_run_help_reads_like_the_readme_synopsis(capsys):
    text = help_of("run", capsys)
    assert "Usage: concur run [OPTIONS] TARGET" in text
    for option in ("--models M1,M2", "--concurrency N1,N2|auto", "--records N", "--total N",
                   "--repeat K", "--budget SECONDS", "--input FILE", "--max-rss MiB",
                   "--max-loop-lag-ms MS", "--json PATH|-", "-o, --out DIR", "--dsn URL"):
        assert option in text, option
    # the handler contract: what the function receives, sync or async, what its return is
    flat = " ".join(text.split())
    for words in ("a per-record function `handle(record)`", "sync or `async def`",
                  "range(n) integers unless a Workload or --input gives them",
                  "its return value is discarded"):
        assert words in flat, words


def test_compare_help_says_its_exit_codes_and_json(capsys):
    flat = " ".join(help_of("compare", capsys).split())
    assert "Usage: concur compare [OPTIONS] A.json B.json" in flat
    assert "Exit codes: 0 compared (whichever is faster" in flat
    assert "--json PATH|-" in flat


@pytest.mark.parametrize("command", ["run", "report", "compare", "attribute"])
def test_dash_o_is_out(command, tmp_path):
    group = typer.main.get_command(app)
    args = {"run": ["job:handle"], "report": ["r.json"], "compare": ["a.json", "b.json"],
            "attribute": ["job:handle", "--model", "threads", "--concurrency", "2"]}[command]
    ctx = group.commands[command].make_context(command, [*args, "-o", str(tmp_path / "x")])
    assert ctx.params["out"] == tmp_path / "x"


@pytest.mark.parametrize("args", [["run", "job:handle"],
                                  ["gate", "--baseline", "job:handle", "--candidate", "job:handle"]])
def test_measuring_on_another_system_is_one_line(tmp_path, args):
    """concur reads /proc and runs trials as process groups: elsewhere it says so and exits 2
    (sys.platform is set after the imports, as on a Mac they would have succeeded)."""
    (tmp_path / "job.py").write_text("def handle(record):\n    return record\n")
    code = ("import sys\nfrom profiler.cli import main\nsys.platform = 'darwin'\n"
            "sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: concur measures on Linux only"), lines
    assert "this is macOS" in lines[0]
    assert not list(Path(tmp_path).glob("reports/*"))  # nothing measured or written
