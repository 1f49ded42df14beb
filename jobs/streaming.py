"""What the streaming jobs share at their edges: reading a topic, writing records, running a query with
``foreachBatch`` under a trigger and a checkpoint, and stopping it cleanly on SIGTERM.

Each micro-batch is handed to a function of the batch and its id; the checkpoint (one folder per
query) records which Kafka offsets were processed, so a restart replays at most the batch that
did not finish, and the sinks are idempotent (the MySQL merge) or allow repeats (Kafka records
carrying the line's origin).
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.errors import StreamingQueryException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from kos.config import Config
from kos.errors import KosError, raised_in
from kos.kafka_client import spark_options

__all__ = ["QueryFailed", "Trigger", "batch_times", "cause", "input_rows", "kafka_sink", "read_topic", "run",
           "write_records"]

log = logging.getLogger(__name__)


class QueryFailed(KosError):
    """The query stopped on an error; the message is its first line that says what happened."""


@dataclass(frozen=True)
class Trigger:
    """``available-now`` (everything there, in as many batches as limits allow, then stop) or a processing-time
    interval (a batch every ``interval``, until stopped)."""

    interval: str | None = None  # None: available-now

    def options(self) -> dict[str, Any]:
        return {"availableNow": True} if self.interval is None else {"processingTime": self.interval}

    def __str__(self) -> str:
        return "available-now" if self.interval is None else f"processing-time {self.interval}"

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        """``--available-now`` (the default) or ``--processing-time INTERVAL`` on a job's command line."""
        when = parser.add_mutually_exclusive_group()
        when.add_argument("--available-now", action="store_true", help="process what is there, then stop (default)")
        when.add_argument("--processing-time", metavar="INTERVAL", help="a batch every INTERVAL ('10 seconds') until "
                                                                        "SIGTERM")

    @classmethod
    def from_arguments(cls, args: argparse.Namespace) -> Trigger:
        return cls(args.processing_time)


def read_topic(spark: SparkSession, cfg: Config, topic: str) -> DataFrame:
    """``topic`` as a stream: from its earliest records on first start, then from the checkpoint; headers included.

    Each batch is read in at least twice as many tasks as the session has cores (Spark splits large
    partitions by offsets when asked for more tasks than the topic has partitions): one file's
    records share a key, so one Kafka partition, and would otherwise be read, parsed and encoded
    on one core.
    """
    reader = (spark.readStream.format("kafka").options(**spark_options(cfg))
              .option("subscribe", topic).option("startingOffsets", "earliest").option("includeHeaders", "true")
              .option("minPartitions", 2 * spark.sparkContext.defaultParallelism))
    if cfg.spark.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", cfg.spark.max_offsets_per_trigger)
    return reader.load()


def write_records(records: DataFrame, cfg: Config) -> None:
    """Write Kafka records (``key``, ``value``, ``headers``, ``topic`` columns) with the config's brokers and
    security."""
    records.write.format("kafka").options(**spark_options(cfg)).save()


def kafka_sink(cfg: Config) -> dict[str, str]:
    """Options of Spark's Kafka sink for records with a ``topic`` column."""
    return spark_options(cfg)


def run(stream: DataFrame, name: str, checkpoint: Path, trigger: Trigger,
        process: Callable[[DataFrame, int], None] | None = None, output_mode: str = "append",
        sink: dict[str, str] | None = None) -> StreamingQuery:
    """Run ``process`` on each micro-batch of ``stream`` (or write the stream's Kafka records with ``sink``'s
    options) until the trigger is done or SIGTERM/SIGINT arrives.

    A query that fails raises QueryFailed with one line: a KOS error raised in a batch (on the driver, or in a
    task, found in Spark's text by the error's class), a checkpoint whose Kafka offsets the topic no longer has,
    else Spark's first line."""
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    raised: list[KosError] = []

    def guarded(batch: DataFrame, batch_id: int) -> None:
        assert process is not None
        try:
            process(batch, batch_id)
        except KosError as exc:
            raised.append(exc)
            raise

    writer = stream.writeStream.queryName(name).outputMode(output_mode).option("checkpointLocation", str(checkpoint))
    if process is not None:
        writer = writer.foreachBatch(guarded)
    else:
        writer = writer.format("kafka").options(**(sink or {}))
        if trigger.interval is not None:
            # Offsets and commits logged in the background, not between batches (Kafka sink only), and for every
            # batch: a log with gaps (Spark's default logs a batch a second) cannot be restarted with another
            # trigger, such as the DAG's --available-now after `kos run`.
            writer = (writer.option("asyncProgressTrackingEnabled", "true")
                      .option("asyncProgressTrackingCheckpointIntervalMs", "0"))
    query = writer.trigger(**trigger.options()).start()

    def stop(signum: int, _frame: object) -> None:
        log.info("%s received: stopping %s; the unfinished batch is run again at the next start",
                 signal.Signals(signum).name, name)
        query.stop()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        query.awaitTermination()
    except StreamingQueryException as exc:
        raise QueryFailed(f"{name} stopped: {cause(str(exc), raised, checkpoint)}") from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return query


def cause(error: str, raised: list[KosError] = (), checkpoint: Path | None = None) -> str:  # type: ignore[assignment]
    """What made a query fail, in one line."""
    if raised:
        return str(raised[-1])
    if _DATA_LOSS.search(error):
        return (f"its checkpoint {checkpoint} holds Kafka offsets that the topic no longer has (the topic was "
                "deleted and made again, or the stack's state changed): move that folder away to read the topic from "
                "its beginning again (the sinks skip what they stored already)")
    gap = _OFFSET_LOG_GAP.search(error)
    if gap is not None:
        return (f"its checkpoint {checkpoint} has no offsets for batch {gap.group(1)} (written by a query that "
                "logged only some batches, as KOS did before with --processing-time): run the job with "
                "--processing-time until it has run two micro-batches, then with any trigger")
    found = raised_in(error)
    if found is not None:
        return found
    task = _TASK_FAILURE.search(error)
    if task is not None:
        return f"a task failed: {task.group(1).strip()}"
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    return lines[0] if lines else "unknown error"


# How Spark's Kafka source says that a checkpoint's offsets are gone from the topic (failOnDataLoss).
_DATA_LOSS = re.compile(r"KAFKA_DATA_LOSS|some data may have been lost", re.IGNORECASE)

# How Spark says that the offset log lacks the batch before its last one (a restart without asynchronous progress
# tracking needs both).
_OFFSET_LOG_GAP = re.compile(r"Previous batch (\d+) not found in offset log")

# How Spark names the error of the task that failed a job ("... most recent failure: Lost task 1.0 in stage 2.0
# (TID 9) (localhost executor driver): <class>: <message>"): a more useful line than the query's own first line,
# which for a batch function's failure ends in "Traceback (most recent call last):".
_TASK_FAILURE = re.compile(r"most recent failure: Lost task [^\n]*?\(TID \d+\) \([^)\n]*\): ([^\n]+)")


def input_rows(query: StreamingQuery) -> int:
    """Rows the query read in the batches it still reports (the last hundred by default)."""
    return sum(int(p.get("numInputRows", 0)) for p in query.recentProgress)


def batch_times(query: StreamingQuery) -> dict[str, Any]:
    """When the first reported batch started and the last one ended (epoch seconds), and each batch's
    ``durationMs``: what a benchmark compares with another program's first read and last write."""
    from datetime import datetime

    progress = [p for p in query.recentProgress if p.get("numInputRows")]
    if not progress:
        return {"first_batch_start": None, "last_batch_end": None, "batches_ms": []}

    def start(p: dict[str, Any]) -> float:
        return datetime.fromisoformat(p["timestamp"].replace("Z", "+00:00")).timestamp()

    last = progress[-1]
    return {"first_batch_start": start(progress[0]),
            "last_batch_end": start(last) + last["durationMs"]["triggerExecution"] / 1000,
            "batches_ms": [dict(p["durationMs"], rows=p["numInputRows"]) for p in progress]}
