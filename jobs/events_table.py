"""The ``process_events`` table as the load job's sink: its columns, their widths, and the exactly-once batch write.

A batch is staged through JDBC and merged on the line's origin (jobs/database.py): a replayed
batch, or a line shipped twice, adds nothing.
"""

from __future__ import annotations

import logging
import os
import signal
from dataclasses import dataclass
from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.database import Database, create_stage, merge_staged, stage_name, staged

log = logging.getLogger(__name__)

# Test-only: the crash windows of the fault tests (tests/test_faults.py). Set, the named point kills the
# whole process group with SIGKILL, as `kill -9` of the job would: the JVM, this driver and its workers.
CRASH_AT = "KOS_TEST_CRASH_AT"


def crash_point(name: str) -> None:
    if os.environ.get(CRASH_AT) == name:
        log.warning("%s=%s: killing the job's process group", CRASH_AT, name)
        os.killpg(os.getpgid(0), signal.SIGKILL)

EVENT_COLUMNS = ("event_time", "host", "process", "pid", "service", "action", "origin_source", "origin_file",
                 "origin_offset", "kafka_topic", "kafka_partition", "kafka_offset", "raw_timestamp")
# The unique key of process_events: where the line was read.
ORIGIN = ("origin_source", "origin_file", "origin_offset")
# Column widths in schema.sql; longer values are cut to fit rather than failing the batch.
EVENT_WIDTHS = {"host": 255, "process": 255, "service": 1024, "origin_source": 255, "origin_file": 255,
                "kafka_topic": 255}


def fit_event_columns(events: DataFrame) -> DataFrame:
    """The parser's event rows as staging columns, text cut to the column widths (``cut`` says where).

    Times travel as microseconds since the epoch: mysql-connector-j takes MariaDB for a 5.5
    server and would drop the fraction of a timestamp. ``raw_timestamp`` (the Kafka timestamp of
    the raw record, the year rule's reference) is optional.
    """
    raw = F.unix_micros("raw_timestamp") if "raw_timestamp" in events.columns else F.lit(None).cast("bigint")
    renamed = events.select(
        F.unix_micros("event_time").alias("event_time_us"), "host", "process", "pid", "service", "action",
        F.col("source").alias("origin_source"), F.col("file").alias("origin_file"),
        F.col("line_offset").alias("origin_offset"), "kafka_topic", "kafka_partition", "kafka_offset",
        raw.alias("raw_timestamp_us"),
    )
    too_long = [F.coalesce(F.length(c) > width, F.lit(False)) for c, width in EVENT_WIDTHS.items()]
    cut = reduce(lambda a, b: a | b, too_long).cast("int").alias("cut")
    return renamed.select(*(F.substring(c, 1, EVENT_WIDTHS[c]).alias(c) if c in EVENT_WIDTHS else F.col(c)
                            for c in renamed.columns), cut)


def _from_micros(column: str) -> str:
    """SQL for a DATETIME(6) of microseconds since the epoch (before 1970 too; NULL stays NULL)."""
    return f"TIMESTAMPADD(MICROSECOND, {column}, TIMESTAMP'1970-01-01 00:00:00')"


_PLAIN = EVENT_COLUMNS[1:-1]  # staged as they are; the two times as microseconds


@dataclass(frozen=True)
class Written:
    added: int  # rows new in process_events
    cut: int    # staged events with a value longer than its column, stored cut to fit
    present: int = 0  # distinct events of the batch that were in process_events already (a replay)


def write_events(events: DataFrame, batch_id: int, db: Database, stage_prefix: str) -> Written:
    """Write one micro-batch of events exactly once into ``process_events``."""
    stage = stage_name(stage_prefix, batch_id)
    create_stage(db, stage, f"SELECT {', '.join(_PLAIN)} FROM process_events WHERE FALSE",
                 alter="ADD COLUMN event_time_us BIGINT NOT NULL FIRST, ADD COLUMN raw_timestamp_us BIGINT NULL, "
                       "ADD COLUMN cut TINYINT NOT NULL DEFAULT 0")
    # A batch may hold a line twice (re-shipped after a crash): the stage keeps one per origin.
    rows = fit_event_columns(events).dropDuplicates(list(ORIGIN))
    rows.write.jdbc(db.jdbc_url, f"{db.stage_database}.{stage}", mode="append", properties=db.jdbc_properties)
    crash_point("after-stage")
    with db.connect() as conn:
        cur = conn.cursor()
        cur.execute(f"SELECT COUNT(*), COALESCE(SUM(cut), 0) FROM {staged(db, stage)}")
        distinct, cut = (int(v) for v in cur.fetchone())
    added = merge_staged(db, stage, "process_events", EVENT_COLUMNS,
                         [_from_micros("event_time_us"), *_PLAIN, _from_micros("raw_timestamp_us")], key=ORIGIN)
    crash_point("after-merge")
    if cut:
        log.warning("batch %d: %d events had a value longer than its column; stored cut to fit", batch_id, cut)
    log.info("batch %d: %d new rows in process_events, %d there already", batch_id, added, distinct - added)
    return Written(added, cut, distinct - added)
