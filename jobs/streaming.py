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
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.errors import StreamingQueryException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming import StreamingQuery

from kos.config import Config
from kos.kafka_client import spark_options

log = logging.getLogger(__name__)


class QueryFailed(RuntimeError):
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


def run(stream: DataFrame, name: str, checkpoint: Path, trigger: Trigger,
        process: Callable[[DataFrame, int], None]) -> StreamingQuery:
    """Run ``process`` on each micro-batch of ``stream`` until the trigger is done or SIGTERM/SIGINT arrives; the
    query's own error, if any, is raised."""
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    query = (stream.writeStream.queryName(name).foreachBatch(process)
             .option("checkpointLocation", str(checkpoint)).trigger(**trigger.options()).start())

    def stop(signum: int, _frame: object) -> None:
        log.info("%s received: stopping %s; the unfinished batch is run again at the next start",
                 signal.Signals(signum).name, name)
        query.stop()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        query.awaitTermination()
    except StreamingQueryException as exc:
        raise QueryFailed(f"{name} stopped: {cause(str(exc))}") from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return query


def cause(error: str) -> str:
    """The line of a query's error that says what went wrong: a KOS error raised in a batch, else the first line."""
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    for line in reversed(lines):
        for kind in KOS_ERRORS:
            if line.startswith(kind):
                return line[len(kind):].lstrip(": ")
    return lines[0] if lines else "unknown error"


# Errors raised by KOS code inside a micro-batch, as Python prints them in the traceback Spark carries along.
KOS_ERRORS = ("jobs.database.DatabaseError", "jobs.protobuf.descriptors.ProtobufError")


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


def write_summary(path: str | None, summary: dict[str, Any]) -> None:
    """The job's summary as JSON into ``path`` (``--summary``), for programs that run it."""
    if path:
        import json

        Path(path).write_text(json.dumps(summary, indent=1))
