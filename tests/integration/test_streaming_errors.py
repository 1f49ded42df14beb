"""A streaming job's failures come out as one line a person can act on."""

from __future__ import annotations

import time
import uuid

import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient

from jobs import streaming, transform
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


def test_a_failed_task_is_named_by_its_own_error_not_by_the_batch_functions_traceback():
    # Spark's text when a foreachBatch function's Kafka write failed (kos-live, its alerts topic missing), cut short.
    error = (
        "[STREAM_FAILED] Query [id = ef91931f, runId = 72169046] terminated with exception: "
        "[FOREACH_BATCH_USER_FUNCTION_ERROR] An error occurred in the user provided function in foreach batch sink. "
        "Reason: An exception was raised by the Python Proxy. Return Message: Traceback (most recent call last):\n"
        '  File "py4j/protocol.py", line 327, in get_return_value\n'
        "    raise Py4JJavaError(\n"
        "py4j.protocol.Py4JJavaError: An error occurred while calling o500.save.\n"
        ": org.apache.spark.SparkException: Job aborted due to stage failure: Task 1 in stage 2.0 failed 1 times, "
        "most recent failure: Lost task 1.0 in stage 2.0 (TID 9) (localhost executor driver): "
        "org.apache.kafka.common.errors.TimeoutException: Topic kos-alerts not present in metadata after 60000 ms.\n"
        "Caused by: org.apache.kafka.common.errors.UnknownTopicOrPartitionException: This server does not host "
        "this topic-partition.\n")
    assert streaming.cause(error) == ("a task failed: org.apache.kafka.common.errors.TimeoutException: Topic "
                                      "kos-alerts not present in metadata after 60000 ms.")
    assert streaming.cause("[STREAM_FAILED] something else\n  at x\n") == "[STREAM_FAILED] something else"


def test_a_checkpoint_with_a_gap_in_its_offset_log_is_one_line(tmp_path):
    # What Spark 4.2 said when a checkpoint written with Spark's default asynchronous progress tracking (a batch
    # logged a second) was restarted with --available-now.
    error = ("[STREAM_FAILED] Query [id = 66401e81, runId = c0ade454] terminated with exception: requirement "
             "failed: Previous batch 11 not found in offset log SQLSTATE: XXKST\n  at scala.Predef$.require\n")
    assert streaming.cause(error, checkpoint=tmp_path / "transform") == (
        f"its checkpoint {tmp_path / 'transform'} has no offsets for batch 11 (written by a query that logged only "
        "some batches, as KOS did before with --processing-time): run the job with --processing-time until it has "
        "run two micro-batches, then with any trigger")
