"""What the streaming jobs share at their edges: reading a topic, writing records to topics, starting a query under
a trigger and a checkpoint, and waiting for it (stopping it cleanly on SIGTERM).

The checkpoint (one folder per query) records which Kafka offsets were processed, so a restart replays at most
the batch that did not finish, and the sinks are idempotent (the MySQL ledgers and origin keys) or allow repeats
(Kafka records carrying the line's origin).
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

from jobs import messages
from kos import others
from kos.config import Config
from kos.errors import KosError
from kos.kafka_client import spark_options

__all__ = ["QueryFailed", "Trigger", "await_query", "cause", "input_rows", "read_topic", "records_per_task", "send",
           "start"]

log = logging.getLogger(__name__)


class QueryFailed(KosError):
    """The query stopped on an error; the message is its first line that says what happened."""


@dataclass(frozen=True)
class Trigger:
    """``available-now`` (everything there, in as many batches as limits allow, then stop), a processing-time
    interval (a batch every ``interval``, until stopped) or real-time mode (long-running tasks that process each
    record as it arrives, progress checkpointed every ``real_time``)."""

    interval: str | None = None
    real_time: str | None = None

    def options(self) -> dict[str, Any]:
        if self.real_time is not None:
            return {"realTime": self.real_time}
        return {"availableNow": True} if self.interval is None else {"processingTime": self.interval}

    @property
    def continuous(self) -> bool:
        """Whether the query runs until stopped."""
        return self.interval is not None or self.real_time is not None

    def __str__(self) -> str:
        if self.real_time is not None:
            return f"real-time {self.real_time}"
        return "available-now" if self.interval is None else f"processing-time {self.interval}"

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser, real_time: bool = False) -> None:
        """``--available-now`` (the default), ``--processing-time INTERVAL`` or, for a query that may run in
        real-time mode, ``--real-time DURATION`` on a job's command line."""
        when = parser.add_mutually_exclusive_group()
        when.add_argument("--available-now", action="store_true", help="process what is there, then stop (default)")
        when.add_argument("--processing-time", metavar="INTERVAL", help="a batch every INTERVAL ('10 seconds') until "
                                                                        "SIGTERM")
        if real_time:
            when.add_argument("--real-time", metavar="DURATION", help="Spark's real-time mode until SIGTERM: each "
                                                                      "record as it arrives, progress checkpointed "
                                                                      "every DURATION ('1 minute', at least 5 s)")

    @classmethod
    def from_arguments(cls, args: argparse.Namespace) -> Trigger:
        return cls(args.processing_time, getattr(args, "real_time", None))


# A batch's tasks per core of the session, unless a job asks for more (read_topic).
_TASKS_PER_CORE = 2


def read_topic(spark: SparkSession, cfg: Config, topic: str, trigger: Trigger = Trigger(),
               tasks_per_core: int | None = None) -> DataFrame:
    """``topic`` as a stream: from its earliest records on first start, then from the checkpoint; headers included.

    A micro-batch takes ``[spark] max_offsets_per_trigger`` records at most. Available-now (a backlog, the DAG's
    runs) reads each batch in at least twice as many tasks as the session has cores: Spark splits a Kafka
    partition's range by offsets, and one file's records share a key, so one partition, whose lines would otherwise
    be read, parsed and encoded on one core. Every processing-time batch (a live pipeline's few records a trigger)
    is one task per partition that has records, not a task's fixed cost paid many times over a handful of
    records; only a partition's share of a large batch (a backlog after an outage) is split, into tasks of at most
    ``records_per_task`` records (a full batch in two tasks per core). ``tasks_per_core`` splits a full batch
    into that many tasks per core under either trigger, a small batch staying as it is (the load: its first rows
    reach MySQL sooner). In real-time mode each Kafka partition is one long-running task.
    """
    slots = spark.sparkContext.defaultParallelism
    if trigger.real_time is not None and slots < cfg.kafka.partitions:
        raise KosError(f"real-time mode holds one task slot per partition of {topic} ([kafka] partitions: "
                       f"{cfg.kafka.partitions}) and this master gives {slots}: run it with more (`kos job` and `kos "
                       f"run` give a local master {cfg.kafka.partitions + 2})")
    reader = (spark.readStream.format("kafka").options(**spark_options(cfg))
              .option("subscribe", topic).option("startingOffsets", "earliest").option("includeHeaders", "true"))
    if trigger.real_time is None:
        if trigger.interval is None:
            reader = reader.option("minPartitions", _TASKS_PER_CORE * slots)
        if trigger.interval is not None or tasks_per_core:
            reader = reader.option("maxRecordsPerPartition",
                                   records_per_task(cfg, (tasks_per_core or _TASKS_PER_CORE) * slots))
        if cfg.spark.max_offsets_per_trigger:
            reader = reader.option("maxOffsetsPerTrigger", cfg.spark.max_offsets_per_trigger)
    return reader.load()


def records_per_task(cfg: Config, tasks: int) -> int:
    """The most records a micro-batch task reads: a full batch (``[spark] max_offsets_per_trigger``, or its default
    where it is 0, no cap) in ``tasks`` tasks.

    >>> from kos.config import Config
    >>> records_per_task(Config(), 4)
    62500
    """
    return -(-(cfg.spark.max_offsets_per_trigger or Config().spark.max_offsets_per_trigger) // tasks)


def send(frame: DataFrame, message: str, topic: str, cfg: Config, descriptor_set: bytes) -> None:
    """Write ``frame``'s ``key`` and ``message`` (a struct of ``message``) as records of ``topic``: dead letters,
    alerts. Batch writes from a batch function, with the config's brokers and security."""
    records = messages.kafka_records(frame, message, topic, descriptor_set)
    records.write.format("kafka").options(**spark_options(cfg)).save()


def start(stream: DataFrame, name: str, checkpoint: Path, trigger: Trigger,
          process: Callable[[DataFrame, int], None] | None = None, output_mode: str = "append",
          sink: dict[str, str] | None = None) -> StreamingQuery:
    """Start ``stream``'s query called ``name``: ``process`` run on each micro-batch (``foreachBatch``), or the
    stream's Kafka records written with ``sink``'s options (Spark's Kafka sink; real-time mode needs it, in
    update mode)."""
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    mode = "update" if trigger.real_time is not None else output_mode
    writer = stream.writeStream.queryName(name).outputMode(mode).option("checkpointLocation", str(checkpoint))
    if process is not None:
        writer = writer.foreachBatch(process)
    else:
        writer = writer.format("kafka").options(**(sink or {}))
        if trigger.interval is not None:
            # Offsets and commits logged in the background, not between batches (Kafka sink only), and for every
            # batch: a log with gaps (Spark's default logs a batch a second) cannot be restarted with another
            # trigger, such as the DAG's --available-now after `kos run`. Real-time mode does this by itself.
            writer = (writer.option("asyncProgressTrackingEnabled", "true")
                      .option("asyncProgressTrackingCheckpointIntervalMs", "0"))
    return writer.trigger(**trigger.options()).start()


def await_query(query: StreamingQuery, checkpoint: Path, raised: list[KosError]) -> None:
    """Wait until ``query`` ends as its trigger says, or SIGTERM/SIGINT stops it (between batches where it can);
    QueryFailed with one line when it fails (``raised``: KOS errors its batch function raised on the driver)."""
    def stop(signum: int, _frame: object) -> None:
        log.info("%s received: stopping %s; the unfinished batch is run again at the next start",
                 signal.Signals(signum).name, query.name)
        query.stop()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        query.awaitTermination()
    except StreamingQueryException as exc:
        raise QueryFailed(f"{query.name} stopped: {cause(str(exc), raised, checkpoint)}") from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def cause(error: str, raised: list[KosError] = (), checkpoint: Path | None = None) -> str:  # type: ignore[assignment]
    """What made a query fail, in one line: a KOS error its batch function raised, else what kos.others reads in
    Spark's text."""
    if raised:
        return str(raised[-1])
    return others.query_failure(error, str(checkpoint))


def input_rows(query: StreamingQuery) -> int:
    """Rows the query read in the batches it still reports (the last hundred by default)."""
    return sum(int(p.get("numInputRows", 0)) for p in query.recentProgress)
