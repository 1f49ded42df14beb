"""``process_events`` as the load's exactly-once sink: one object owns the whole protocol of a micro-batch.

    records of kos-parsed-os-log ──decode, sort out──▶ dead letters ──▶ kos-dead-letter (first)
                                                    └─▶ rows + ledger row ──▶ process_events, one transaction

A batch whose ledger row ``(query, batch id)`` is in ``load_batches`` was committed before (the job died
before Spark recorded it): it adds nothing. Any other batch sends its dead letters first (they may repeat,
never vanish), then goes straight into ``process_events`` with one ``LOAD DATA LOCAL INFILE`` from the
driver, its ledger row in the same transaction; the origin key skips lines stored already (a line the
shipper sent twice). A server that refuses LOCAL files gets the batch through a staging table and
``INSERT ... WHERE NOT EXISTS`` instead (jobs/database.py).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from mysql.connector import errors as mysql_errors
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import messages
from jobs.database import Database, DatabaseError, create_stage, failing_as, merge_staged, stage_name
from kos import event

__all__ = ["STEPS", "EventsSink", "Written", "load_data_file"]

log = logging.getLogger(__name__)

LEDGER = "load_batches"
# The steps of a batch's write, in order, as the sink's ``on_step`` hook hears them (tracing, fault injection):
# the rows and the ledger row are written but not committed ("written"), or committed ("committed", Spark has
# not recorded the batch yet); "staged": the staging table holds the rows, nothing is merged.
STEPS = ("dead-letters-sent", "staged", "written", "committed")
# Times travel as microseconds since the epoch: mysql-connector-j takes MariaDB for a 5.5 server and would drop
# the fraction of a timestamp.
_TIMES = tuple(c.name for c in event.EVENT_COLUMNS if c.kind == "timestamp")
FITTED = tuple(f"{c}_us" if c in _TIMES else c for c in event.NAMES) + ("cut",)  # the rows as the sink writes them
# MySQL's answers when LOAD DATA LOCAL is not allowed: by the server (local_infile off) or the client library.
_LOCAL_REFUSED = {1148, 2068, 3948, 3950, 4166}  # 4166: MariaDB's own code
_DUPLICATE = 1062


@dataclass(frozen=True)
class Written:
    added: int  # rows new in process_events
    cut: int    # events with a value longer than its column, stored cut to fit
    present: int = 0  # distinct events of the batch that were in process_events already (a replay)
    dead_letters: int = 0  # records of the batch that are not loadable events, sent to the dead-letter topic


def _no_step(step: str) -> None:
    pass


class EventsSink:
    """Writes micro-batches of ``kos-parsed-os-log`` records into ``process_events`` exactly once.

    Parameters
    ----------
    db : Database
        The load account (it may add rows, never change one).
    descriptor_set : bytes
        The ``FileDescriptorSet`` the records are decoded with.
    send_dead_letters : callable
        Takes a DataFrame of ``reason`` and ``record`` (the record's value, topic, partition, offset and
        timestamp) and writes them to the dead-letter topic; called before the batch's rows are committed.
    spool : pathlib.Path, optional
        The folder for the batch's LOAD DATA file (default: the system's temporary folder).
    on_step : callable, optional
        Called with each step's name as the write reaches it (``STEPS``); the default does nothing.

    Examples
    --------
    >>> sink = EventsSink(db, descriptor_set, send_dead_letters=lambda letters: None)
    >>> sink.write(records, "query-1", 0)
    Written(added=2, cut=0, present=0, dead_letters=1)
    >>> sink.write(records, "query-1", 0)  # the same batch again: found in the ledger
    Written(added=0, cut=0, present=2, dead_letters=0)
    """

    def __init__(self, db: Database, descriptor_set: bytes, send_dead_letters: Callable[[DataFrame], None],
                 spool: Path | None = None, on_step: Callable[[str], None] = _no_step) -> None:
        self.db = db
        self.descriptor_set = descriptor_set
        self.send_dead_letters = send_dead_letters
        self.spool = Path(spool or tempfile.gettempdir())
        self.on_step = on_step

    def write(self, records: DataFrame, query: str, batch_id: int) -> Written:
        """Write one micro-batch of Kafka records (``value``, ``headers``, ``topic``, ``partition``, ``offset``,
        ``timestamp``) as the writer ``query``'s batch ``batch_id``.

        Returns
        -------
        Written
            Rows added, rows cut to fit, events already stored, and dead letters sent.

        Raises
        ------
        DatabaseError
            MySQL is unreachable or refused the batch; nothing of it was committed.
        """
        done = self.committed(query, batch_id)
        if done is not None:
            return Written(0, 0, done)
        # One pass over the batch: every record decoded, checked and brought to the driver as Arrow, a loadable
        # event as its row, any other record as it came.
        sorted_out = messages.sort_out(messages.decode_events(records, self.descriptor_set))
        table = fit_event_columns(sorted_out, keep=("reason", "record")).toArrow()
        problems = pc.is_valid(table["reason"])
        dead = table.filter(problems).select(["reason", "record"])
        if dead.num_rows:
            self.send_dead_letters(SparkSession.active().createDataFrame(dead))
            log.warning("batch %d: %d records that are not loadable process events went to the dead letters",
                        batch_id, dead.num_rows)
        self.on_step("dead-letters-sent")
        written = self.write_rows(table.filter(pc.invert(problems)), query, batch_id)
        return Written(written.added, written.cut, written.present, dead.num_rows)

    def committed(self, query: str, batch_id: int) -> int | None:
        """The rows of the batch if the ledger has it (it was committed before, and is said so), else None."""
        with self.db.connect() as conn, failing_as(f"reading {LEDGER} as {self.db.user}"):
            cur = conn.cursor()
            cur.execute(f"SELECT `rows` FROM `{LEDGER}` WHERE query = %s AND batch_id = %s", (query, batch_id))
            found = cur.fetchone()
        if found is None:
            return None
        log.info("batch %d of %s was committed before (%d rows): nothing to add", batch_id, query, found[0])
        return int(found[0])

    def write_rows(self, table: pa.Table, query: str, batch_id: int) -> Written:
        """Write a batch's rows (``fit_event_columns``' columns, on the driver) and its ledger row in one
        transaction.

        A line twice in the batch (re-shipped after a crash) or stored already is skipped by the
        origin key: LOAD DATA LOCAL ignores duplicate keys, the staged merge inserts only what is new.
        """
        table = table.select(list(FITTED))
        cut = int(pc.sum(table["cut"]).as_py() or 0)
        record = (f"INSERT INTO `{LEDGER}` (query, batch_id, `rows`) VALUES (%s, %s, %s)",
                  [query, batch_id, table.num_rows])
        try:
            added = self._load_data(table, batch_id, record)
        except _LocalRefused as exc:
            log.warning("the server refuses LOAD DATA LOCAL (%s): batch %d goes through a staging table", exc,
                        batch_id)
            added = self._stage_and_merge(table, query, batch_id, record)
        self.on_step("committed")
        if cut:
            log.warning("batch %d: %d events had a value longer than its column; stored cut to fit", batch_id, cut)
        log.info("batch %d: %d new rows in process_events, %d there already", batch_id, added, table.num_rows - added)
        return Written(added, cut, table.num_rows - added)

    def _load_data(self, table: pa.Table, batch_id: int, record: tuple[str, list[object]]) -> int:
        """The batch's rows (by ``LOAD DATA LOCAL INFILE``) and its ledger row in one transaction; the rows added."""
        self.spool.mkdir(parents=True, exist_ok=True)
        spool = self.spool / f"kos-load-{batch_id}.tsv"
        spool.write_bytes(load_data_file(table))
        columns = ", ".join("@" + c if c.endswith("_us") else f"`{c}`" for c in table.column_names if c != "cut")
        times = ", ".join(f"{c} = {_from_micros('@' + c + '_us')}" for c in _TIMES)
        db = self.db
        try:
            with db.connect(local_files=self.spool) as conn:
                cur = conn.cursor()
                try:
                    cur.execute(f"LOAD DATA LOCAL INFILE '{spool}' INTO TABLE process_events CHARACTER SET utf8mb4 "
                                f"({columns}) SET {times}")
                    added = max(cur.rowcount, 0)
                    cur.execute("SHOW WARNINGS")
                    other = [w for w in cur.fetchall() if w[1] != _DUPLICATE]
                    if other:
                        conn.rollback()
                        raise DatabaseError(f"batch {batch_id} did not load as it is: {other[0][2]} (and "
                                            f"{len(other) - 1} more warnings); nothing of it was stored")
                    cur.execute(*record)
                    self.on_step("written")
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

    def _stage_and_merge(self, table: pa.Table, query: str, batch_id: int, record: tuple[str, list[object]]) -> int:
        """The batch through a staging table (JDBC), merged with its ledger row in one transaction."""
        db = self.db
        rows = SparkSession.active().createDataFrame(table).dropDuplicates(list(event.ORIGIN))
        stage = stage_name(query, batch_id)
        plain = [c for c in event.NAMES if c not in _TIMES]
        create_stage(db, stage, f"SELECT {', '.join(plain)} FROM process_events WHERE FALSE",
                     alter=", ".join([f"ADD COLUMN {c}_us BIGINT NULL" for c in _TIMES]
                                     + ["ADD COLUMN cut TINYINT NOT NULL DEFAULT 0"]))
        rows.write.jdbc(db.jdbc_url, f"{db.stage_database}.{stage}", mode="append", properties=db.jdbc_properties)
        self.on_step("staged")
        values = [_from_micros(f"{c}_us") if c in _TIMES else c for c in event.NAMES]
        return merge_staged(db, stage, "process_events", event.NAMES, values, key=event.ORIGIN, also=[record],
                            on_merged=lambda: self.on_step("written"))


class _LocalRefused(Exception):
    pass


def fit_event_columns(events: DataFrame, keep: tuple[str, ...] = ()) -> DataFrame:
    """Event rows (kos/event.py's columns) as the sink writes them: times as microseconds since the epoch
    (``event_time_us``, ``raw_timestamp_us``), text cut to its column's width and ``cut`` saying where; the
    columns named in ``keep`` come along as they are."""
    widths = {c.name: c.width for c in event.EVENT_COLUMNS if c.width}
    fitted = [F.unix_micros(c).alias(f"{c}_us") if c in _TIMES
              else F.substring(c, 1, widths[c]).alias(c) if c in widths else F.col(c) for c in event.NAMES]
    too_long = [F.coalesce(F.length(c) > width, F.lit(False)) for c, width in widths.items()]
    cut = reduce(lambda a, b: a | b, too_long).cast("int").alias("cut")
    return events.select(*fitted, cut, *keep)


def _from_micros(column: str) -> str:
    """SQL for a DATETIME(6) of microseconds since the epoch (before 1970 too; NULL stays NULL)."""
    return f"TIMESTAMPADD(MICROSECOND, {column}, TIMESTAMP'1970-01-01 00:00:00')"


_SPECIAL = "[\\\\\t\n\r\x00]"  # what LOAD DATA's text format escapes


def load_data_file(table: pa.Table) -> pa.Buffer:
    """The rows of ``table`` (but ``cut``) in LOAD DATA's default text format: tab-separated, one line each,
    ``\\N`` for null; backslash, tab, newline, carriage return and NUL escaped. Made column by column in Arrow,
    the lines joined in Arrow's own buffer.

    >>> import pyarrow as pa
    >>> load_data_file(pa.table({"n": [1, None], "text": ["a\\tb", "c"]})).to_pybytes()
    b'1\\ta\\\\tb\\n\\\\N\\tc\\n'
    """
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
