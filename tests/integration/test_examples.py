"""The examples of the public functions that need the stack (the sinks, the job skeleton) run and show what they
say, as pyspark's own do."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.support.events import RECORD_SCHEMA, event, event_records
from tests.support.submit import CHECKED_IN
from tests.unit.jobs.test_doctests import run_examples

pytestmark = pytest.mark.integration


def test_the_sinks_examples_run(spark, loader):
    rows = [event(datetime(2026, 3, 1, 10, m), "web", "systemd", "Locale Service", m) for m in range(2)]
    garbage = spark.createDataFrame([(b"\xffnot an event", [("kos.type", b"kos.v1.ProcessEvent")],
                                      "kos-parsed-os-log", 0, 2, datetime(2026, 3, 1))], RECORD_SCHEMA)
    run_examples("storage.events_sink", spark=spark, db=loader, descriptor_set=CHECKED_IN.read_bytes(),
                 records=event_records(spark, rows).unionByName(garbage))


def test_the_job_skeletons_examples_run(cfg, spark, topic, tmp_path, monkeypatch):
    from kafka import KafkaProducer

    from kos.kafka_client import python_settings

    producer = KafkaProducer(**python_settings(cfg))
    for n in range(3):
        producer.send(topic, f"record {n}".encode())
    producer.flush()
    producer.close()
    monkeypatch.setenv("KOS_SPARK_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    run_examples("jobs.job", topic=topic)
