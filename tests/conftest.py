"""Shared fixtures: the real local stack, started once per test session, and Kafka read-back helpers."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kos import config as kos_config
from kosctl.stack.kafka import KafkaStack
from kosctl.stack.mariadb import MariaDBStack
from kosctl.stack.process import running_pid


@pytest.fixture(scope="session")
def cfg() -> kos_config.Config:
    return kos_config.load()


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
def spark(cfg: kos_config.Config):
    """One local SparkSession for the whole run: local[2], UI off, UTC, the JDBC driver and Kafka connector
    from ~/.m2, Python workers in this virtualenv."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (SparkSession.builder.master("local[2]").appName("kos-tests")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.jars.packages", ",".join(cfg.spark.job_packages("load")))
               .getOrCreate())
    session.sparkContext.setLogLevel("WARN")
    yield session
    session.stop()


@pytest.fixture
def topic(cfg: kos_config.Config, kafka: KafkaStack) -> str:
    """A fresh topic for one test, so tests never see each other's records."""
    from kosctl.stack.topics import ensure_topics

    name = f"kos-test-{uuid.uuid4().hex[:12]}"
    ensure_topics(cfg, [name])
    return name


@dataclass(frozen=True)
class ShippedLine:
    source: str
    path: str
    file: str
    offset: int
    line: bytes


def read_topic(bootstrap: tuple[str, ...], topic: str, security: dict | None = None) -> list:
    """Every record of ``topic`` from the beginning to its current end, partition by partition, in order.

    ``security``: kafka-python settings (kos.kafka_client.python_settings) for a TLS or SASL listener.
    """
    from kos.kafka_client import read_to_end

    return list(read_to_end({"bootstrap_servers": list(bootstrap), **(security or {})}, topic))


def shipped_lines(records: list) -> list[ShippedLine]:
    """Expand records (one line or a newline-joined run) into lines with their origins."""
    out = []
    for rec in records:
        headers = {k: os.fsdecode(v) for k, v in rec.headers}  # a path need not be UTF-8
        offset = int(headers["kos.offset"])
        for line in rec.value.split(b"\n"):
            out.append(ShippedLine(headers["kos.source"], headers["kos.path"], headers["kos.file"], offset, line))
            offset += len(line) + 1
    return out


@pytest.fixture
def db(cfg: kos_config.Config, mariadb: MariaDBStack):
    """The kos database with the KOS schema, emptied for one test."""
    from jobs.database import Database
    from kosctl.stack.mariadb import apply_schema

    database = Database.from_config(cfg)
    apply_schema(database)
    with database.connect() as conn:
        cur = conn.cursor()
        for table in ("process_events", "load_ledger", "metrics_runs", "metrics_top_services",
                      "metrics_top_processes", "metrics_starts_per_bucket", "live_starts", "live_late",
                      "process_alerts", "live_batches"):
            cur.execute(f"DELETE FROM {table}")
        conn.commit()
    return database


@pytest.fixture
def loader(cfg: kos_config.Config, db):
    """The load job's account (adds events, nothing else), on the emptied database of ``db``."""
    from jobs.database import Database

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
def airflow_env(cfg: kos_config.Config, tmp_path: Path) -> dict[str, str]:
    """The environment `make airflow` gives Airflow, with its home and the reports in a fresh folder."""
    from kosctl.airflow import environment

    env = environment(cfg)
    env.update(AIRFLOW_HOME=str(tmp_path / "airflow"), KOS_AIRFLOW_REPORTS_DIR=str(tmp_path / "reports"))
    return env
