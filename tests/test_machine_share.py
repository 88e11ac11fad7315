"""Which tests hold the machine alone (tests/machine_share.py), read from real test items."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.machine_share import runs_alone, wait_until_quiet


@pytest.mark.slow
def test_a_slow_test_outside_the_shared_modules_is_alone(request):
    assert runs_alone(request.node)


@pytest.mark.slow
@pytest.mark.shared
def test_a_slow_test_marked_shared_shares_the_machine(request):
    assert not runs_alone(request.node)


@pytest.mark.alone
@pytest.mark.shared
def test_alone_wins_over_shared(request):
    assert runs_alone(request.node)


def test_a_fast_test_shares_the_machine(request):
    assert not runs_alone(request.node)


@pytest.mark.alone  # reads the whole machine's CPU
def test_a_test_alone_waits_for_what_earlier_tests_left_running_and_names_it(tmp_path):
    spin = "import time\nend = time.monotonic() + 1.5\nwhile time.monotonic() < end:\n    pass\n"
    left_running = subprocess.Popen([sys.executable, "-c", spin])
    try:
        time.sleep(0.3)
        started = time.monotonic()
        wait_until_quiet(tmp_path / "quiet.log", "the next test", limit_s=10)
        waited = time.monotonic() - started
        assert left_running.poll() is not None, "returned while the spinner still ran"
    finally:
        left_running.kill()
        left_running.wait()
    line = (tmp_path / "quiet.log").read_text()
    assert line.startswith("the next test: ") and f", {left_running.pid}, " in line, line
    assert waited < 10, line
