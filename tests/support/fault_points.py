"""A fault point for the load's sink, given to the job as ``--conf spark.kos.load.onStep=tests.fault_points:kill_at``:
at the step named by ``KOS_TEST_KILL_AT`` (storage.events_sink.STEPS) it kills the job's whole process group with
SIGKILL (the JVM and the Python driver), and the Python daemon and its workers too, so that nothing of the job
runs on after that step.

The sink's steps run in a Python worker on the executor; a local master's workers descend from the job's JVM,
whose process group is the job's (spark-submit runs in a session of its own in the fault tests)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

KILL_AT = "KOS_TEST_KILL_AT"
HOOK = "tests.fault_points:kill_at"


def _job_group() -> int:
    """The process group of the nearest ancestor that is a JVM (the job), else this process's own."""
    pid = os.getpid()
    while pid > 1:
        stat = Path(f"/proc/{pid}/stat").read_text()
        name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        if name == "java":
            return os.getpgid(pid)
        pid = int(rest[1])  # the parent
    return os.getpgid(0)


def kill_at(step: str) -> None:
    if os.environ.get(KILL_AT) == step:
        os.killpg(_job_group(), signal.SIGKILL)
        # The daemon and its workers keep a group of their own: without this the worker would go on to commit.
        os.killpg(os.getpgid(0), signal.SIGKILL)
