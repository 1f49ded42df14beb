"""A fault point for the load's sink (tests/support/scripts/faulty_load.py builds the job with it): at the step named
by ``KOS_TEST_KILL_AT`` (storage.events_sink.STEPS) it kills the job's whole process group with SIGKILL (the JVM
and the Python driver), so that nothing of the job runs on after that step.

The sink's steps run in the Python driver, a child of the job's JVM, whose process group is the job's
(spark-submit runs in a session of its own in the fault tests)."""

from __future__ import annotations

import os
import signal

KILL_AT = "KOS_TEST_KILL_AT"


def kill_at(step: str) -> None:
    if os.environ.get(KILL_AT) == step:
        os.killpg(os.getpgid(0), signal.SIGKILL)
