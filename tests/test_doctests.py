"""The examples in the public functions' docstrings run and show what they say, as pyspark's own do."""

from __future__ import annotations

import doctest
import importlib
from datetime import datetime

import pytest

from tests.events import RECORD_SCHEMA, event, event_records
from tests.submit import CHECKED_IN


def run_examples(module: str, **names: object) -> None:
    found = doctest.testmod(importlib.import_module(module), extraglobs=names, optionflags=doctest.ELLIPSIS,
                            report=True)
    assert found.attempted > 0, f"{module} has no examples"
    assert found.failed == 0, f"{found.failed} of {found.attempted} examples of {module} failed (see the output)"


@pytest.mark.parametrize("module", ["jobs.parsing", "kosproto.functions"])
def test_examples_run(spark, module, tmp_path):
    from tests.test_protobuf_conformance import descriptor_set

    simple_message = descriptor_set(tmp_path / "suite.desc", "conformance/suite.proto").read_bytes()
    run_examples(module, spark=spark, descriptor_set=CHECKED_IN.read_bytes(), simple_message=simple_message)


@pytest.mark.integration
def test_the_sinks_examples_run(spark, loader):
    rows = [event(datetime(2026, 3, 1, 10, m), "web", "systemd", "Locale Service", m) for m in range(2)]
    garbage = spark.createDataFrame([(b"\xffnot an event", [("kos.type", b"kos.v1.ProcessEvent")],
                                      "kos-parsed-os-log", 0, 2, datetime(2026, 3, 1))], RECORD_SCHEMA)
    run_examples("jobs.events_sink", spark=spark, db=loader, descriptor_set=CHECKED_IN.read_bytes(),
                 records=event_records(spark, rows).unionByName(garbage))


@pytest.mark.integration
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
