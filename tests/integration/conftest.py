"""Integration tests: the real local stack (Kafka, MariaDB) started once per session unless it runs already (one
stack per pytest-xdist worker: tests/support/workers.py), a SparkSession with the connectors the jobs need, fresh
topics and checkpoints per test, and a runner that runs a job's query in this session's JVM (what a test not about
a process's start-up uses instead of spark-submit)."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobs.recipes import KAFKA, MYSQL
from kos import config as kos_config
from kosctl.stack.kafka import KafkaStack
from kosctl.stack.mariadb import MariaDBStack
from storage.database import TABLES
from tests.support import workers
from tests.support.spark import local_session

_STARTED: list = []


def pytest_configure(config: pytest.Config) -> None:
    """A worker gets its own stack's settings before any fixture reads them; the controller (or a run without
    workers) starts the project's stack first, which makes the files every worker's stack shares."""
    worker = getattr(config, "workerinput", {}).get("workerid")
    if worker is None:
        if not config.option.collectonly:
            _STARTED.extend(workers.prepare(kos_config.load()))
        return
    project = kos_config.load()
    os.environ.update(workers.stack_env(project, worker))
    workers.share_state(project, kos_config.load())


def pytest_unconfigure(config: pytest.Config) -> None:
    workers.stop(_STARTED)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with slow tests before the others, each module's tests together and in their order, so that a
    module's fixture is made once (xdist's loadfile then hands out the modules with most tests first; this order
    decides among those with as many)."""
    def module(item: pytest.Item) -> str:
        return item.nodeid.split("::")[0]

    slow = {module(item) for item in items if item.get_closest_marker("slow")}
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        first.setdefault(module(item), index)
    items.sort(key=lambda item: (module(item) not in slow, first[module(item)]))


def _for_the_session(stack: KafkaStack | MariaDBStack) -> Iterator:
    """Start a local service unless it runs already; stop it at the end only if it was started here."""
    started = workers.start(stack)
    yield stack
    workers.stop([stack] if started else [])


@pytest.fixture(scope="session")
def kafka(cfg: kos_config.Config) -> Iterator[KafkaStack]:
    """The project's local broker (`kos stack`)."""
    yield from _for_the_session(KafkaStack(cfg))


@pytest.fixture(scope="session")
def mariadb(cfg: kos_config.Config) -> Iterator[MariaDBStack]:
    """The project's local MariaDB (`kos stack`)."""
    yield from _for_the_session(MariaDBStack(cfg))


@pytest.fixture(scope="session")
def spark():
    """The session's one SparkSession, with the Kafka connector and the JDBC driver from ~/.m2."""
    yield from local_session("kos-integration-tests", (KAFKA, MYSQL))


@pytest.fixture
def topic(cfg: kos_config.Config, kafka: KafkaStack) -> str:
    """A fresh topic for one test, so tests never see each other's records."""
    from kosctl.stack.topics import ensure_topics

    name = f"kos-test-{uuid.uuid4().hex[:12]}"
    ensure_topics(cfg, [name])
    return name


@pytest.fixture
def db(cfg: kos_config.Config, mariadb: MariaDBStack):
    """The kos database with the KOS schema, emptied for one test."""
    from kosctl.stack.mariadb import apply_schema
    from storage.database import Database

    database = Database.from_config(cfg)
    apply_schema(database)
    with database.connect() as conn:
        cur = conn.cursor()
        for table in TABLES:
            cur.execute(f"DELETE FROM {table}")
        conn.commit()
    return database


@pytest.fixture
def loader(cfg: kos_config.Config, db):
    """The load job's account (adds events, nothing else), on the emptied database of ``db``."""
    from storage.database import Database

    return Database.from_config(cfg, "load")


@pytest.fixture
def pipeline_env(cfg: kos_config.Config, kafka, db, tmp_path: Path) -> dict[str, str]:
    """Fresh topics, checkpoints and a fixed source id, for a pipeline of its own on the shared stack."""
    from kosctl.stack.topics import ensure_topics

    run = uuid.uuid4().hex[:10]
    topics = {"RAW": f"kos-test-raw-{run}", "PARSED": f"kos-test-parsed-{run}", "DEAD_LETTER": f"kos-test-dl-{run}",
              "ALERTS": f"kos-test-alerts-{run}"}
    ensure_topics(cfg, list(topics.values()))
    return dict(os.environ, **{f"KOS_KAFKA_{k}_TOPIC": v for k, v in topics.items()}, PYSPARK_PYTHON=sys.executable,
                KOS_SHIPPER_SOURCE_ID="e2e-host", KOS_SHIPPER_CHECKPOINT_DIR=str(tmp_path / "shipper"),
                KOS_SPARK_CHECKPOINT_DIR=str(tmp_path / "checkpoints"))


class InSession:
    """Runs a job's query in the test session's JVM (``run_job`` with argv), with the test's pipeline settings in the
    environment and ``env`` added for that run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.monkeypatch, self.folder, self.capsys = monkeypatch, folder, capsys
        self.runs = 0

    def _run(self, job: Any, args: tuple[str, ...], env: dict[str, str]) -> tuple[int, Path]:
        from jobs.job import run_job

        self.runs += 1
        summary = self.folder / f"summary-{job.name}-{self.runs}.json"
        with self.monkeypatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            return run_job(job, [*args, "--summary", str(summary)]), summary

    def __call__(self, job: Any, *args: str, **env: str) -> dict[str, Any]:
        """The run's summary (``--summary``); the test fails unless it exits 0."""
        from kos.summary import read_summary

        status, summary = self._run(job, args, env)
        assert status == 0, f"{job.app} exited with {status}: {self.capsys.readouterr().err[-3000:]}"
        return read_summary(summary) or {}

    def failing(self, job: Any, *args: str, **env: str) -> list[str]:
        """The lines the run said about itself on stderr (``kos-<job>: ...``); the test fails unless it exits 1."""
        self.capsys.readouterr()
        status, _ = self._run(job, args, env)
        err = self.capsys.readouterr().err
        assert status == 1, f"{job.app} exited with {status}: {err[-3000:]}"
        return [line for line in err.splitlines() if line.startswith(f"{job.app}:")]


@pytest.fixture
def in_session(spark, pipeline_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
               capsys: pytest.CaptureFixture[str]) -> InSession:
    """Run jobs' queries in this session's JVM with ``pipeline_env``'s topics and checkpoints (what a test that is
    not about a process's start-up uses instead of spark-submit)."""
    for key, value in pipeline_env.items():
        if key.startswith("KOS_"):
            monkeypatch.setenv(key, value)
    return InSession(monkeypatch, tmp_path, capsys)
