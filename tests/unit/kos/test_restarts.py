"""The one restart policy of `kos run` and of the queries inside KOS's Spark application."""

from __future__ import annotations

import doctest

from kos import restarts
from kos.restarts import Restarts


def test_the_back_off_grows_while_it_fails_soon_after_starting_and_gives_up_past_the_limit():
    policy = Restarts(max_restarts=5, window=600)
    delays = [policy.failed(now=t, ran=1) for t in (0, 10, 30, 70, 110)]
    assert delays == [5.0, 10.0, 20.0, 40.0, 60.0]
    assert policy.failed(now=250, ran=1) is None  # a sixth failure within ten minutes
    calmer = Restarts(max_restarts=5, window=600)
    assert [calmer.failed(now=t, ran=1) for t in (0, 200, 400)] == [5.0, 5.0, 5.0]  # each alone in two minutes
    assert (policy.restarts, policy.failures) == (5, 6)


def test_a_long_run_starts_again_at_once_and_old_failures_leave_the_window():
    policy = Restarts(max_restarts=1, window=600)
    assert policy.failed(now=0, ran=1) == 5.0
    assert policy.failed(now=700, ran=300) == 0.0  # the first failure is out of the window, the run was long
    assert policy.failed(now=710, ran=1) is None


def test_the_examples_run():
    assert doctest.testmod(restarts).failed == 0
