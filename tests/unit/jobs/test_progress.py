"""The streaming progress line: pure formatting, and the listener on a real streaming query."""

from __future__ import annotations

import logging
import time

from jobs.progress import ProgressLogger, describe

KAFKA_PROGRESS = {
    "id": "7d1c", "name": "kos-transform", "batchId": 12, "numInputRows": 2560,
    "inputRowsPerSecond": 2011.3, "processedRowsPerSecond": 1391.3, "durationMs": {"triggerExecution": 1840},
    "sources": [{"description": "KafkaV2[Subscribe[kos-raw-os-log]]",
                 "endOffset": {"kos-raw-os-log": {"2": 1190, "0": 1200, "10": 7, "1": 1180}}}],
}


def test_describe_a_kafka_batch():
    assert describe(KAFKA_PROGRESS) == (
        "kos-transform batch 12: 2,560 rows in 1.84 s (1,391 rows/s processed, 2,011 rows/s arriving); "
        "offsets kos-raw-os-log[0=1200,1=1180,2=1190,10=7]")


def test_describe_an_idle_batch_without_sources():
    assert describe({"id": "q", "batchId": 0, "numInputRows": 0, "inputRowsPerSecond": None,
                     "processedRowsPerSecond": None, "durationMs": {}, "sources": []}) == (
        "q batch 0: 0 rows in 0.00 s (0 rows/s processed, 0 rows/s arriving); offsets -")


def test_listener_logs_each_batch_of_a_real_query(spark, tmp_path, caplog):
    source = tmp_path / "in"
    source.mkdir()
    for i in range(3):
        (source / f"part-{i}.txt").write_text("".join(f"line {i}.{n}\n" for n in range(10 * (i + 1))))
    listener = ProgressLogger()
    spark.streams.addListener(listener)
    try:
        with caplog.at_level(logging.INFO, logger="jobs.progress"):
            query = (spark.readStream.option("maxFilesPerTrigger", 1).text(str(source))
                     .writeStream.queryName("kos_progress_test").format("memory")
                     .option("checkpointLocation", str(tmp_path / "checkpoint"))
                     .trigger(availableNow=True).start())
            query.awaitTermination(120)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not any("ended" in r.message for r in caplog.records):
                time.sleep(0.2)
    finally:
        spark.streams.removeListener(listener)
    lines = [r.getMessage() for r in caplog.records]
    batches = [line for line in lines if line.startswith("kos_progress_test batch")]
    # One file per batch, in an order of Spark's choosing.
    assert sorted(int(line.split(": ")[1].split(" rows")[0]) for line in batches) == [10, 20, 30]
    assert [line.split(":")[0] for line in batches] == [f"kos_progress_test batch {i}" for i in range(3)]
    assert lines[0].startswith("kos_progress_test started")
    assert lines[-1] == f"query {query.id} ended"


def test_listener_logs_a_failed_query_with_its_errors_first_line(spark, tmp_path, caplog):
    source = tmp_path / "in"
    source.mkdir()
    (source / "part-0.txt").write_text("a line\n")

    def fail(batch, batch_id):
        raise RuntimeError("kos-progress-test: the batch function failed\nsecond line")

    listener = ProgressLogger()
    spark.streams.addListener(listener)
    try:
        with caplog.at_level(logging.INFO, logger="jobs.progress"):
            query = (spark.readStream.text(str(source)).writeStream.foreachBatch(fail)
                     .option("checkpointLocation", str(tmp_path / "checkpoint")).trigger(availableNow=True).start())
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not any("failed" in r.message for r in caplog.records):
                time.sleep(0.2)
    finally:
        spark.streams.removeListener(listener)
    failed = [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"query {query.id} failed: ")]
    # The error's first line only: here Py4J's words for an exception raised in the Python batch function.
    assert failed == [f"query {query.id} failed: py4j.Py4JException: An exception was raised by the Python Proxy. "
                      "Return Message: Traceback (most recent call last):"]
