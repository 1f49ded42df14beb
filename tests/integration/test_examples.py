"""The examples of the public functions that need the stack (the sinks, the job skeleton) run and show what they
say, as pyspark's own do."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.support.events import event, event_records
from tests.support.submit import CHECKED_IN
from tests.unit.jobs.test_doctests import run_examples

pytestmark = pytest.mark.integration


def test_the_sinks_examples_run(spark, loader):
    import pyarrow.compute as pc

    from jobs import messages

    events = [event(datetime(2026, 3, 1, 10, m), "web", "systemd", "Locale Service", m) for m in range(2)]
    table = messages.load_rows(event_records(spark, events), CHECKED_IN.read_bytes()).toArrow()
    run_examples("storage.events_sink", db=loader, rows=table.filter(pc.is_null(table["reason"])))


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
