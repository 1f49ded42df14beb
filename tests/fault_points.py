"""A fault point for the load's sink, given to the job as ``--conf spark.kos.load.onStep=tests.fault_points:kill_at``:
at the step named by ``KOS_TEST_KILL_AT`` (jobs.events_sink.STEPS) it kills the job's whole process group with
SIGKILL, as `kill -9` of the job would (the JVM, the Python driver and its workers)."""

from __future__ import annotations

import os
import signal

KILL_AT = "KOS_TEST_KILL_AT"
HOOK = "tests.fault_points:kill_at"


def kill_at(step: str) -> None:
    if os.environ.get(KILL_AT) == step:
        os.killpg(os.getpgid(0), signal.SIGKILL)
