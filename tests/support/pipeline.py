"""The pipeline's stages as the integration tests run them: generated logs shipped, jobs submitted as `kos job`
submits them (each in its own process group, so that `kill -9` reaches the JVM and Python alike), the long-running
stages kept running as a supervisor would, and the rows they leave."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kosctl.commands import spark_submit
from tests.support.submit import PROJECT

FAULTY_LOAD = PROJECT / "tests" / "support" / "scripts" / "faulty_load.py"


def write_log(path: Path, lines: int, seed: int) -> int:
    """A generated syslog of ``lines`` lines with RFC 3339 stamps; returns its number of start events."""
    subprocess.run([sys.executable, "-m", "kosctl.synthetic", str(path), "--lines", str(lines), "--events", "0.1",
                    "--seed", str(seed), "--rfc3339"], check=True, cwd=PROJECT)
    return sum(1 for line in path.read_bytes().split(b"\n") if b"]: Started " in line or
               b"Successfully activated" in line)


def ship(env: dict[str, str], path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "shipper", "--once", "--no-progress", "--path", str(path)],
                          env=env, cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def job(name: str, env: dict[str, str], *args: str, output: Path | None = None, master: str | None = None,
        **extra: str) -> subprocess.Popen:
    """spark-submit of a job as `kos job` submits it, in its own process group, as `kill -9` of it has to reach
    the JVM and Python alike; the load with the fault point of tests/support/fault_points.py (``KOS_TEST_KILL_AT``).

    Its output comes through a pipe, or goes to ``output`` for a job that runs long unread (a full pipe would
    block its logging, and with it the job)."""
    from kos import config as kos_config

    argv = spark_submit(kos_config.load(environ=env), name, *args)
    if master is not None:
        argv[argv.index("--master") + 1] = master
    if name == "load":
        argv[argv.index(str(PROJECT / "jobs" / "load.py"))] = str(FAULTY_LOAD)
    extra = {"PYTHONPATH": str(PROJECT), **extra}
    sink = subprocess.PIPE if output is None else open(output, "w")  # noqa: SIM115 (the child holds it)
    return subprocess.Popen(argv, cwd=PROJECT, env={**env, **extra}, stdout=sink, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


@contextmanager
def running(proc: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """``proc``, its process group killed if the test ends while it still runs (a failed assertion)."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def finish(proc: subprocess.Popen, timeout: float = 600) -> str:
    out, _ = proc.communicate(timeout=timeout)
    return out


def rows(db) -> tuple[int, int]:
    """(rows, distinct origins) of process_events."""
    with db.connect() as conn:
        cur = conn.cursor()
        cur.execute("SELECT COUNT(*), COUNT(DISTINCT origin_source, origin_file, origin_offset) FROM process_events")
        return cur.fetchone()


def table(db, sql: str) -> list[tuple]:
    with db.connect() as conn:
        cur = conn.cursor()
        cur.execute(sql)
        return cur.fetchall()


def records_in(settings: dict, topic: str) -> int:
    """The records a topic holds (its end offsets, summed)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**settings, group_id=None, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(parts).values())
    finally:
        consumer.close()


class RunningJobs:
    """The pipeline's long-running stages, each in its own process group with its output in a file: transform and
    load with 1-second processing-time triggers and small batches (so that a fault lands mid-stream), and, given a
    file to follow, the shipper. A stage that ends on its own must say why in one line; it is started again, as
    Airflow or a supervisor would. ``kill`` sends SIGKILL to a stage and starts it again. All are stopped with
    SIGTERM at the end."""

    def __init__(self, env: dict[str, str], folder: Path, follow: Path | None = None,
                 max_offsets_per_trigger: int = 1000) -> None:
        self.env, self.folder, self.follow = env, folder, follow
        self.small = {"KOS_SPARK_MAX_OFFSETS_PER_TRIGGER": str(max_offsets_per_trigger)}
        self.procs: dict[str, subprocess.Popen] = {}
        self.outputs: dict[str, Path] = {}
        names = (["shipper"] if follow else []) + ["transform", "load"]
        self.restarts: dict[str, list[str]] = {name: [] for name in names}  # why each ended on its own
        self.kills: dict[str, int] = dict.fromkeys(names, 0)

    def _start(self, name: str) -> None:
        output = self.outputs[name] = self.folder / f"{name}-{len(self.restarts[name]) + self.kills[name]}.log"
        if name == "shipper":
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "shipper", "--no-progress", "--path", str(self.follow)], cwd=PROJECT,
                env=self.env, stdout=open(output, "w"), stderr=subprocess.STDOUT,  # noqa: SIM115 (the child holds it)
                start_new_session=True)
        else:
            self.procs[name] = job(name, self.env, "--processing-time", "1 second", output=output, **self.small)

    def __enter__(self) -> RunningJobs:
        for name in self.restarts:
            self._start(name)
        return self

    def kill(self, name: str) -> None:
        self.restart_ended()
        proc = self.procs[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        self.kills[name] += 1
        self._start(name)

    def wait_until_working(self, name: str, timeout: float = 300) -> None:
        """Until the stage's current run works: the shipper once started, a job once it finished a micro-batch."""
        deadline = time.monotonic() + timeout
        while name != "shipper" and not re.search(rf"kos-{name} batch \d+:", self.outputs[name].read_text()):
            assert time.monotonic() < deadline, (name, self.outputs[name].read_text()[-3000:])
            self.restart_ended()
            time.sleep(0.2)

    def restart_ended(self) -> None:
        """Start again each stage that ended on its own, after checking that it said why."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                said = [line for line in self.outputs[name].read_text().splitlines()
                        if line.startswith(f"kos-{name}:")]
                assert said and "stopped:" in said[-1], (name, said)
                self.restarts[name].append(said[-1])
                self._start(name)

    def wait_for_rows(self, db, count: int, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while rows(db)[0] < count:
            assert time.monotonic() < deadline, (rows(db), self.restarts, self.kills)
            self.restart_ended()
            time.sleep(1)

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=120)
