"""Which tests hold the machine alone (tests/machine_share.py), read from real test items."""

from __future__ import annotations

import pytest

from tests.machine_share import runs_alone


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
