"""Integration tests: the real local stack (Kafka, MariaDB) started once per session unless it runs already, a
SparkSession with the connectors the jobs need, fresh topics and checkpoints per test, and a runner that runs a
job's query in this session's JVM (what a test not about a process's start-up uses instead of spark-submit)."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jobs.recipes import KAFKA, MYSQL
from kos import config as kos_config
from kosctl.stack.kafka import KafkaStack
from kosctl.stack.mariadb import MariaDBStack
from kosctl.stack.process import running_pid
from storage.database import TABLES
from tests.support.spark import local_session


def _for_the_session(stack: KafkaStack | MariaDBStack) -> Iterator:
    """Start a local service unless it runs already; stop it at the end only if it was started here."""
    started_here = running_pid(stack.pid_file) is None
    stack.start()
    yield stack
    if started_here and not os.environ.get("KOS_TEST_KEEP_STACK"):
        stack.stop()


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


@pytest.fixture
def in_session(spark, pipeline_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
               tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """Run a job's query in this session's JVM, with ``pipeline_env``'s topics and checkpoints: ``in_session(job,
    *args)`` returns its summary (``--summary``) and fails the test on its exit status."""
    from jobs.job import run_job
    from kos.summary import read_summary

    for key, value in pipeline_env.items():
        if key.startswith("KOS_"):
            monkeypatch.setenv(key, value)
    runs = iter(range(1_000_000))

    def run(job: Any, *args: str) -> dict[str, Any]:
        summary = tmp_path / f"summary-{job.name}-{next(runs)}.json"
        status = run_job(job, [*args, "--summary", str(summary)])
        assert status == 0, f"{job.app} exited with {status}"
        return read_summary(summary) or {}

    return run
