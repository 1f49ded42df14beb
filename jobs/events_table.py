"""The ``process_events`` table as the load job's sink: its columns, their widths, and the exactly-once batch write.

Each batch's rows and its row in the ledger ``load_batches`` (query, batch id) are committed in
one transaction. A batch found in the ledger was committed before (and is run again because the
job died before Spark recorded it): it adds nothing. Any other batch goes straight into
``process_events`` with one ``LOAD DATA LOCAL INFILE`` from the driver, where the origin key skips
lines stored already (a line the shipper sent twice). A server that refuses LOCAL files gets the
batch through a staging table and ``INSERT ... WHERE NOT EXISTS`` instead (jobs/database.py).
"""

from __future__ import annotations

import logging
import os
import signal
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from mysql.connector import errors as mysql_errors
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.database import Database, DatabaseError, create_stage, merge_staged, stage_name

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


def fit_event_columns(events: DataFrame, keep: Sequence[str] = ()) -> DataFrame:
    """The parser's event rows as the table's columns, text cut to the column widths (``cut`` says where); the
    columns named in ``keep`` come along as they are.

    Times travel as microseconds since the epoch: mysql-connector-j takes MariaDB for a 5.5
    server and would drop the fraction of a timestamp. ``raw_timestamp`` (the Kafka timestamp of
    the raw record, the year rule's reference) is optional.
    """
    raw = F.unix_micros("raw_timestamp") if "raw_timestamp" in events.columns else F.lit(None).cast("bigint")
    renamed = events.select(
        F.unix_micros("event_time").alias("event_time_us"), "host", "process", "pid", "service", "action",
        F.col("source").alias("origin_source"), F.col("file").alias("origin_file"),
        F.col("line_offset").alias("origin_offset"), "kafka_topic", "kafka_partition", "kafka_offset",
        raw.alias("raw_timestamp_us"), *keep,
    )
    too_long = [F.coalesce(F.length(c) > width, F.lit(False)) for c, width in EVENT_WIDTHS.items()]
    cut = reduce(lambda a, b: a | b, too_long).cast("int").alias("cut")
    return renamed.select(*(F.substring(c, 1, EVENT_WIDTHS[c]).alias(c) if c in EVENT_WIDTHS else F.col(c)
                            for c in renamed.columns if c not in keep), cut, *keep)


def _from_micros(column: str) -> str:
    """SQL for a DATETIME(6) of microseconds since the epoch (before 1970 too; NULL stays NULL)."""
    return f"TIMESTAMPADD(MICROSECOND, {column}, TIMESTAMP'1970-01-01 00:00:00')"


_PLAIN = EVENT_COLUMNS[1:-1]  # staged as they are; the two times as microseconds
FITTED = ("event_time_us", *_PLAIN, "raw_timestamp_us", "cut")  # fit_event_columns' columns


@dataclass(frozen=True)
class Written:
    added: int  # rows new in process_events
    cut: int    # events with a value longer than its column, stored cut to fit
    present: int = 0  # distinct events of the batch that were in process_events already (a replay)


LEDGER = "load_batches"
# MySQL's answers when LOAD DATA LOCAL is not allowed: by the server (local_infile off) or the client library.
_LOCAL_REFUSED = {1148, 2068, 3948, 3950, 4166}  # 4166: MariaDB's own code
_DUPLICATE = 1062


def write_events(events: DataFrame, batch_id: int, db: Database, query: str, spool: Path | None = None) -> Written:
    """Write one micro-batch of events exactly once into ``process_events``.

    ``query`` names the writer (with ``batch_id``, the ledger's key); ``spool`` is the folder for the
    batch's file (default: the system's temporary folder).
    """
    done = committed(db, query, batch_id)
    if done is not None:
        return Written(0, 0, done)
    return write_rows(fit_event_columns(events).toArrow(), batch_id, db, query, spool)


def committed(db: Database, query: str, batch_id: int) -> int | None:
    """The rows of the batch if the ledger has it (it was committed before, and is said so), else None."""
    with db.connect() as conn:
        cur = conn.cursor()
        try:
            cur.execute(f"SELECT `rows` FROM `{LEDGER}` WHERE query = %s AND batch_id = %s", (query, batch_id))
        except mysql_errors.Error as exc:
            raise DatabaseError(f"reading {LEDGER} as {db.user} failed: {exc.msg}") from None
        found = cur.fetchone()
    if found is None:
        return None
    log.info("batch %d of %s was committed before (%d rows): nothing to add", batch_id, query, found[0])
    return int(found[0])


def write_rows(table: pa.Table, batch_id: int, db: Database, query: str, spool: Path | None = None) -> Written:
    """Write a batch not in the ledger (``fit_event_columns``' rows, on the driver) and its ledger row in one
    transaction.

    A line twice in the batch (re-shipped after a crash) or stored already is skipped by the
    origin key: LOAD DATA LOCAL ignores duplicate keys, the staged merge inserts only what is new.
    """
    table = table.select(list(FITTED))
    cut = int(pc.sum(table["cut"]).as_py() or 0)
    record = (f"INSERT INTO `{LEDGER}` (query, batch_id, `rows`) VALUES (%s, %s, %s)",
              [query, batch_id, table.num_rows])
    folder = Path(spool or tempfile.gettempdir())
    try:
        added = _load_data(db, table, folder, batch_id, record)
    except _LocalRefused as exc:
        log.warning("the server refuses LOAD DATA LOCAL (%s): batch %d goes through a staging table", exc, batch_id)
        added = _stage_and_merge(table, db, query, batch_id, record)
    crash_point("after-merge")
    if cut:
        log.warning("batch %d: %d events had a value longer than its column; stored cut to fit", batch_id, cut)
    log.info("batch %d: %d new rows in process_events, %d there already", batch_id, added, table.num_rows - added)
    return Written(added, cut, table.num_rows - added)


class _LocalRefused(Exception):
    pass


def _load_data(db: Database, table: pa.Table, folder: Path, batch_id: int, record: tuple[str, list[object]]) -> int:
    """The batch's rows (by ``LOAD DATA LOCAL INFILE``) and its ledger row in one transaction; the rows added."""
    folder.mkdir(parents=True, exist_ok=True)
    spool = folder / f"kos-load-{batch_id}.tsv"
    spool.write_bytes(load_data_file(table))
    columns = ", ".join("@" + c if c.endswith("_us") else f"`{c}`" for c in table.column_names if c != "cut")
    try:
        with db.connect(local_files=folder) as conn:
            cur = conn.cursor()
            try:
                cur.execute(f"LOAD DATA LOCAL INFILE '{spool}' INTO TABLE process_events CHARACTER SET utf8mb4 "
                            f"({columns}) SET event_time = {_from_micros('@event_time_us')}, "
                            f"raw_timestamp = {_from_micros('@raw_timestamp_us')}")
                added = max(cur.rowcount, 0)
                cur.execute("SHOW WARNINGS")
                other = [w for w in cur.fetchall() if w[1] != _DUPLICATE]
                if other:
                    conn.rollback()
                    raise DatabaseError(f"batch {batch_id} did not load as it is: {other[0][2]} (and "
                                        f"{len(other) - 1} more warnings); nothing of it was stored")
                cur.execute(*record)
                crash_point("after-stage")
                conn.commit()
            except mysql_errors.Error as exc:
                conn.rollback()
                if exc.errno in _LOCAL_REFUSED:
                    raise _LocalRefused(exc.msg) from None
                raise DatabaseError(f"loading batch {batch_id} into process_events as {db.user} failed: "
                                    f"{exc.msg}") from None
    finally:
        spool.unlink(missing_ok=True)
    return added


_SPECIAL = "[\\\\\t\n\r\x00]"  # what LOAD DATA's text format escapes


def load_data_file(table: pa.Table) -> pa.Buffer:
    """The rows of ``table`` (but ``cut``) in LOAD DATA's default text format: tab-separated, one line each,
    ``\\N`` for null; backslash, tab, newline, carriage return and NUL escaped. Made column by column in Arrow,
    the lines joined in Arrow's own buffer."""
    fields = []
    for name in table.column_names:
        if name == "cut":
            continue
        column = table[name].combine_chunks()
        if pa.types.is_string(column.type) and pc.any(pc.match_substring_regex(column, _SPECIAL)).as_py():
            for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"),
                                 ("\x00", "\\0")):
                column = pc.replace_substring(column, raw, escaped)
        elif not pa.types.is_string(column.type):
            column = pc.cast(column, pa.string())
        fields.append(pc.cast(pc.fill_null(column, "\\N"), pa.large_string()))
    if not fields or not table.num_rows:
        return pa.py_buffer(b"")
    # Each line with its newline: the separator between the line and an empty string. No value is null, so the
    # array's data buffer holds the lines one after the other, from its first offset to its last.
    text = [pa.scalar(t, pa.large_string()) for t in ("\t", "", "\n")]
    lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*fields, text[0]), *text[1:])
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
    first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
    return lines.buffers()[2].slice(int(first), int(last - first))


def _stage_and_merge(table: pa.Table, db: Database, query: str, batch_id: int,
                     record: tuple[str, list[object]]) -> int:
    """The batch through a staging table (JDBC), merged with its ledger row in one transaction."""
    rows = SparkSession.active().createDataFrame(table).dropDuplicates(list(ORIGIN))
    stage = stage_name(query, batch_id)
    create_stage(db, stage, f"SELECT {', '.join(_PLAIN)} FROM process_events WHERE FALSE",
                 alter="ADD COLUMN event_time_us BIGINT NOT NULL FIRST, ADD COLUMN raw_timestamp_us BIGINT NULL, "
                       "ADD COLUMN cut TINYINT NOT NULL DEFAULT 0")
    rows.write.jdbc(db.jdbc_url, f"{db.stage_database}.{stage}", mode="append", properties=db.jdbc_properties)
    crash_point("after-stage")
    return merge_staged(db, stage, "process_events", EVENT_COLUMNS,
                        [_from_micros("event_time_us"), *_PLAIN, _from_micros("raw_timestamp_us")], key=ORIGIN,
                        also=[record])
