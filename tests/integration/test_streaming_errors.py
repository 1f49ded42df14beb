"""A streaming job's failures come out as one line a person can act on."""

from __future__ import annotations

import time
import uuid

import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient

from jobs import transform
from kos.kafka_client import python_settings
from kosctl.stack.topics import delete_topics, ensure_topics

pytestmark = pytest.mark.integration


def produce(cfg, topic: str, values: list[bytes]) -> None:
    producer = KafkaProducer(**python_settings(cfg))
    for value in values:
        producer.send(topic, value, partition=0)
    producer.flush()
    producer.close()


def recreate(cfg, topic: str) -> None:
    """Delete ``topic`` and make it again, empty (deletion finishes in the background)."""
    delete_topics(cfg, [topic])
    admin = KafkaAdminClient(**python_settings(cfg))
    try:
        deadline = time.monotonic() + 60
        while topic in admin.list_topics():
            assert time.monotonic() < deadline, f"{topic} was not deleted"
            time.sleep(0.2)
    finally:
        admin.close()
    ensure_topics(cfg, [topic])


def test_a_checkpoint_whose_offsets_the_topic_lost_is_one_line(cfg, kafka, spark, tmp_path, monkeypatch, capsys):
    """The topic was deleted and made again: the checkpoint's offsets are gone, and the job says so, naming the
    checkpoint and what to do, instead of Spark's STREAM_FAILED trace."""
    run = uuid.uuid4().hex[:10]
    raw, parsed, dead = (f"kos-test-{kind}-{run}" for kind in ("raw", "parsed", "dl"))
    ensure_topics(cfg, [raw, parsed, dead])
    checkpoints = tmp_path / "checkpoints"
    for key, value in {"KOS_KAFKA_RAW_TOPIC": raw, "KOS_KAFKA_PARSED_TOPIC": parsed,
                       "KOS_KAFKA_DEAD_LETTER_TOPIC": dead, "KOS_SPARK_CHECKPOINT_DIR": str(checkpoints)}.items():
        monkeypatch.setenv(key, value)
    line = b"2026-05-01T08:00:00Z host systemd[1]: Started Offsets Probe."
    produce(cfg, raw, [line] * 5)
    assert transform.main(["--available-now"]) == 0
    assert "kos-transform: 5 records, 5 candidate lines, 5 events" in capsys.readouterr().out

    recreate(cfg, raw)
    produce(cfg, raw, [line])
    assert transform.main(["--available-now"]) == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert errors[-1] == (
        f"kos-transform: kos-transform stopped: its checkpoint {checkpoints / 'transform'} holds Kafka offsets that "
        "the topic no longer has (the topic was deleted and made again, or the stack's state changed): move that "
        "folder away to read the topic from its beginning again (the sinks skip what they stored already)")
    delete_topics(cfg, [raw, parsed, dead])
