"""The pieces behind the bad-input battery, in-process: signals as interrupts, the output
folder's lock, records no worker reported on, the flags' own checks (issue 14)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from profiler.errors import ConfigError
from profiler.measure.child import _child_summary, _ChildHooks
from profiler.models.workers import LOST, Tally
from profiler.run.options import positive
from profiler.run.output import check_file, claim_folder
from profiler.run.plan import parse_models
from profiler.run.signals import Stopped, interrupt_on_signals, signal_name
from tests.battery import default_signals


@pytest.fixture
def fresh_signals():
    """The dispositions a fresh terminal gives (Ctrl-C raises, SIGTERM/SIGHUP default), not
    those inherited under `nohup` or as a background job (ignored); put back after."""
    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    before = {s: signal.getsignal(s) for s in handled}
    for s in handled:
        signal.signal(s, signal.default_int_handler if s == signal.SIGINT else signal.SIG_DFL)
    yield
    for s, handler in before.items():
        signal.signal(s, handler)


@pytest.mark.parametrize(("sig", "exit_code", "name"), [(signal.SIGTERM, 143, "SIGTERM"),
                                                        (signal.SIGHUP, 129, "SIGHUP"),
                                                        (signal.SIGINT, 130, "Ctrl-C")])
def test_a_signal_becomes_a_keyboard_interrupt_and_an_exit_code(sig, exit_code, name, fresh_signals):
    with interrupt_on_signals() as received:
        with pytest.raises(KeyboardInterrupt) as caught:
            os.kill(os.getpid(), sig)
            for _ in range(100):  # the handler runs at the next bytecode boundary
                pass
    assert received.exit_code(130) == exit_code and received.name == name
    assert signal_name(caught.value) == name
    assert isinstance(caught.value, Stopped) == (sig != signal.SIGINT)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored after the block


def test_an_ignored_hangup_stays_ignored():
    """`nohup concur …`: SIGHUP was ignored before concur started, and must stay so."""
    script = textwrap.dedent("""
        import os, signal
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        from profiler.run.signals import interrupt_on_signals
        with interrupt_on_signals() as received:
            os.kill(os.getpid(), signal.SIGHUP)
            for _ in range(1000):
                pass
        print(received.signals)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr


def test_a_ctrl_c_while_concur_winds_down_still_exits_130():
    """A second Ctrl-C landing after the command returned, while `concur` puts its output
    streams back (here: during stdout's last flush), used to escape as an uncaught
    KeyboardInterrupt: the process died by SIGINT (-2) instead of exiting 130."""
    script = textwrap.dedent("""
        import io, os, signal, sys, time
        import typer
        from profiler.cli_exit import run_app

        class LateCtrlC(io.StringIO):
            armed = False
            def fileno(self):
                return 1
            def flush(self):  # the Ctrl-C lands in the last flush, as concur puts stdout back
                if self.armed and sys._getframe(1).f_code.co_name == "_guarded_streams":
                    self.armed = False
                    os.kill(os.getpid(), signal.SIGINT)
                    for _ in range(10000):  # the handler runs at the next bytecode boundary
                        pass

        stdout = LateCtrlC()
        sys.stdout = stdout
        app = typer.Typer()
        @app.command()
        def work() -> None:
            stdout.armed = True
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        @app.command()
        def other() -> None:
            pass
        code = run_app(app, ["work"])
        os.kill(os.getpid(), signal.SIGINT)  # and one more after the exit code is decided
        time.sleep(0.2)
        sys.exit(code)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          preexec_fn=default_signals)  # a suite run in the background ignores SIGINT
    assert done.returncode == 130, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr and "interrupted (Ctrl-C)" in done.stderr


def test_concur_called_in_process_gives_the_callers_signal_handlers_back(fresh_signals):
    """A run that no signal stopped restores what it found: a caller in the same process (a
    test worker) must not go on with SIGTERM ignored, nor start programs that inherit that
    (a revision gate started after an in-process `concur gate` ignored the test's SIGTERM)."""
    import typer

    from profiler.cli_exit import run_app

    app = typer.Typer()
    app.command(name="work")(lambda: None)
    app.command(name="other")(lambda: None)
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    assert run_app(app, ["work"]) == 0
    assert {sig: signal.getsignal(sig) for sig in before} == before


def test_a_claimed_folder_cannot_be_claimed_again_and_leaves_no_file(tmp_path):
    out = tmp_path / "report"
    with claim_folder(out):
        (out / "results.json").write_text('{"tool": {"name": "concur"}}')  # a report of its own
        with pytest.raises(ConfigError, match=f"in use by another concur run \\(pid {os.getpid()}\\)"):
            with claim_folder(out):
                pass
    assert [p.name for p in out.iterdir()] == ["results.json"]
    with claim_folder(out):  # released: free again
        pass


def test_a_claimed_folder_left_empty_is_removed(tmp_path):
    with claim_folder(tmp_path / "never-written"):
        pass
    assert not (tmp_path / "never-written").exists()


def test_a_file_path_is_checked_where_it_will_be_written(tmp_path):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ConfigError, match="a-file is a file"):
        check_file(tmp_path / "a-file" / "results.json", "--json")
    with pytest.raises(ConfigError, match="is a folder"):
        check_file(tmp_path, "--json")
    assert check_file(tmp_path / "new" / "results.json", "--json").parent.is_dir()


def test_records_no_worker_reported_on_are_errors():
    tally = Tally()
    for _ in range(15):
        tally.ok(0.001)
    hooks = _ChildHooks(conn=None)
    summary = _child_summary(20, tally, hooks)
    assert summary["errors"] == 5 and summary["errors_by_type"] == {LOST: 5}
    assert summary["records"] == 20


def test_a_teardown_error_reaches_the_trials_model_metrics():
    tally = Tally()
    tally.ok(0.001)
    tally.teardown_failed(ValueError("closed twice"))
    tally.teardown_failed(ValueError("closed twice"))  # the same failure in another worker
    merged = Tally.from_wire(tally.to_wire())  # as it crosses from a worker process
    summary = _child_summary(1, merged, hooks := _ChildHooks(conn=None))
    assert summary["errors"] == 0
    assert hooks.model_metrics["teardown_errors"] == ["ValueError: closed twice"]


def test_an_old_three_item_tally_wire_still_reads():
    assert Tally.from_wire(([0.1], {"E": 1}, {"E": ["m"]})).outcomes == 1


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -5.0, 0.0])
def test_a_limit_must_be_a_positive_finite_number(value):
    with pytest.raises(ConfigError, match="--max-rss must be a positive number of MiB"):
        positive("--max-rss", value, "MiB")
    positive("--max-rss", None, "MiB")  # not given: no limit


@pytest.mark.parametrize("text", [",", "", " , "])
def test_models_that_name_no_model_are_an_error(text):
    with pytest.raises(ConfigError, match="names no model"):
        parse_models(text)
    assert parse_models(None) is None


def test_a_grid_no_model_takes_fails_before_anything_starts(monkeypatch):
    """`--concurrency 100000` was refused only after the run had described its machine,
    which runs `uname -p` (platform.platform): a child process for a bad flag, which the
    battery's watcher caught once in seven suites. Now the grid is checked first."""
    import platform

    from profiler import profile
    from profiler.errors import ConfigError
    from tests.battery import hostile

    def no_child(*args, **kwargs):
        raise AssertionError("the environment was described (uname runs) before the grid check")

    monkeypatch.setattr(platform, "platform", no_child)
    with pytest.raises(ConfigError, match="not 100000"):
        profile(hostile("quick"), models=["threads", "processes"], concurrency=[100_000])
