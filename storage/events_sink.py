"""``process_events`` as the load's exactly-once sink: a batch's rows and its ledger row in one transaction.

    a batch's rows (Arrow, ``FITTED`` columns) ──▶ process_events and load_ledger, one transaction
                                                   (LOAD DATA LOCAL INFILE)

The rows and the batch's ledger row ``(query, batch id)`` in ``load_ledger`` are committed together; a batch found
in the ledger was committed before (the job died before Spark recorded it): it adds nothing. The origin key skips
lines stored already (a line the shipper sent twice). A server that refuses LOCAL files gets the same rows by
multi-row ``INSERT IGNORE`` instead, in the same transaction. The load (jobs/load.py) brings each micro-batch here
from Spark, decoded and fitted to the table, as Arrow.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from mysql.connector import errors as mysql_errors

from kos import event
from storage.database import Database, DatabaseError, KeptConnection, failing_as

__all__ = ["FITTED", "LEDGER", "STEPS", "TIMES", "EventsSink", "Written", "load_data_file", "store"]

log = logging.getLogger(__name__)

LEDGER = "load_ledger"
# The ledger's slice of a batch written whole (the table keeps room for batches written in slices).
WHOLE = "batch"
# The steps of a batch's write, in order, as the sink's ``on_step`` hook hears them (tracing, fault injection): its
# rows and ledger row are written, not committed ("written"), or committed ("committed"; Spark has not recorded the
# batch yet).
STEPS = ("written", "committed")
# Times travel as microseconds since the epoch: exact, and the same for any client's time zone handling.
TIMES = tuple(c.name for c in event.EVENT_COLUMNS if c.kind == "timestamp")
# The rows as the sink takes them: the event row's columns, times as ``<name>_us``, and ``cut`` (1 where a value
# was cut to fit its column).
FITTED = tuple(f"{c}_us" if c in TIMES else c for c in event.NAMES) + ("cut",)
# MySQL's answers when LOAD DATA LOCAL is not allowed: by the server (local_infile off) or the client library.
_LOCAL_REFUSED = {1148, 2068, 3948, 3950, 4166}  # 4166: MariaDB's own code
_DUPLICATE = 1062
_INSERT_ROWS = 2000  # rows per INSERT IGNORE statement when LOAD DATA LOCAL is refused


@dataclass(frozen=True)
class Written:
    added: int  # rows new in process_events
    cut: int    # events with a value longer than its column, stored cut to fit
    present: int = 0  # events of the batch that were in process_events already (a replay, a line sent twice)


def _no_step(step: str) -> None:
    pass


class EventsSink:
    """Writes batches of event rows into ``process_events`` exactly once.

    Parameters
    ----------
    db : Database
        The load account (it may add rows, never change one).
    on_step : callable, optional
        Called with each step's name as a batch's write reaches it (``STEPS``); the default does nothing.

    Examples
    --------
    >>> sink = EventsSink(db)
    >>> sink.write(rows, "query-1", 0)
    Written(added=2, cut=0, present=0)
    >>> sink.write(rows, "query-1", 0)  # the same batch again: it is in the ledger
    Written(added=0, cut=0, present=2)
    """

    def __init__(self, db: Database, on_step: Callable[[str], None] = _no_step) -> None:
        self.db = db
        self.on_step = on_step
        self.connection = KeptConnection(db, local_files=Path(tempfile.gettempdir()))

    def write(self, rows: pa.Table | Iterable[pa.Table], query: str, batch_id: int) -> Written:
        """Write one batch's rows (``FITTED`` columns; one table, or parts written as they come) as the writer
        ``query``'s batch ``batch_id``.

        Raises
        ------
        DatabaseError
            MySQL is unreachable or refused the batch; nothing of it was committed.
        """
        cut = 0

        def fitted() -> Iterator[pa.Table]:
            nonlocal cut
            for part in [rows] if isinstance(rows, pa.Table) else rows:
                cut += int(pc.sum(part["cut"]).as_py() or 0)
                yield part.select(list(FITTED))

        with self.connection() as conn:
            added, present = store(conn, self.db.user, fitted(), query, batch_id, self.on_step)
        if cut:
            log.warning("batch %d: %d events had a value longer than its column; stored cut to fit", batch_id, cut)
        log.info("batch %d: %d new rows in process_events, %d there already", batch_id, added, present)
        return Written(added, cut, present)


def store(conn: Any, user: str, parts: Iterable[pa.Table], query: str, batch_id: int,
          on_step: Callable[[str], None] = _no_step) -> tuple[int, int]:
    """A batch's rows (``FITTED`` columns), in parts, and its ledger row in one transaction on ``conn`` (a
    connection as the account ``user``, allowed to send LOCAL files from the temporary folder): (rows added, rows
    there already). Each part is written as it comes, so that the next can be made meanwhile; every part is
    taken, even of a batch committed before."""
    cur = conn.cursor()
    with failing_as(f"reading {LEDGER} as {user}"):
        cur.execute(f"SELECT `rows` FROM `{LEDGER}` WHERE query = %s AND batch_id = %s AND slice = %s",
                    (query, batch_id, WHOLE))
        committed = cur.fetchone() is not None
    if committed:
        log.info("batch %d was committed before: nothing to add", batch_id)
        return 0, sum(part.num_rows for part in parts)
    with failing_as(f"loading batch {batch_id} into process_events as {user}", conn):
        added = total = 0
        write = _load_data
        for part in parts:
            total += part.num_rows
            if not part.num_rows:
                continue
            try:
                added += write(cur, part, batch_id)
            except _LocalRefused:
                write = _insert_rows
                added += write(cur, part, batch_id)
        cur.execute(f"INSERT INTO `{LEDGER}` (query, batch_id, slice, `rows`) VALUES (%s, %s, %s, %s)",
                    (query, batch_id, WHOLE, total))
        on_step("written")
        conn.commit()
    on_step("committed")
    return added, total - added


class _LocalRefused(Exception):
    pass


def _refuse_warnings(cur: Any, batch_id: int) -> None:
    """Any warning but a duplicate key refuses the batch: a value MySQL changed is not stored as it came."""
    cur.execute("SHOW WARNINGS")
    other = [w for w in cur.fetchall() if w[1] != _DUPLICATE]
    if other:
        raise DatabaseError(f"batch {batch_id} did not load as it is: {other[0][2]} (and {len(other) - 1} more "
                            "warnings); nothing of it was stored")


def _load_data(cur: Any, rows: pa.Table, batch_id: int) -> int:
    """One ``LOAD DATA LOCAL INFILE`` of the rows (duplicates of the origin key skipped); the rows added."""
    handle, name = tempfile.mkstemp(prefix=f"kos-load-{batch_id}-", suffix=".tsv")
    try:
        with os.fdopen(handle, "wb") as spool:
            spool.write(load_data_file(rows))
        columns = ", ".join("@" + c if c.endswith("_us") else f"`{c}`" for c in rows.column_names if c != "cut")
        times = ", ".join(f"{c} = {_from_micros('@' + c + '_us')}" for c in TIMES)
        try:
            cur.execute(f"LOAD DATA LOCAL INFILE '{name}' INTO TABLE process_events CHARACTER SET utf8mb4 "
                        f"({columns}) SET {times}")
        except mysql_errors.Error as exc:
            if exc.errno in _LOCAL_REFUSED:
                log.warning("the server refuses LOAD DATA LOCAL (%s): batch %d goes in by INSERT", exc.msg, batch_id)
                raise _LocalRefused from None
            raise
        added = max(cur.rowcount, 0)
        _refuse_warnings(cur, batch_id)
        return added
    finally:
        Path(name).unlink(missing_ok=True)


def _insert_rows(cur: Any, rows: pa.Table, batch_id: int) -> int:
    """The rows by multi-row ``INSERT IGNORE`` (duplicates of the origin key skipped); the rows added."""
    names = [c for c in rows.column_names if c != "cut"]
    columns = ", ".join(f"`{c.removesuffix('_us')}`" for c in names)
    values = ", ".join(_from_micros("%s") if c.endswith("_us") else "%s" for c in names)
    added = 0
    with failing_as(f"inserting batch {batch_id} into process_events"):
        listed = rows.select(names).to_pylist()
        for start in range(0, len(listed), _INSERT_ROWS):
            chunk = [tuple(r.values()) for r in listed[start:start + _INSERT_ROWS]]
            cur.executemany(f"INSERT IGNORE INTO process_events ({columns}) VALUES ({values})", chunk)
            added += max(cur.rowcount, 0)
            _refuse_warnings(cur, batch_id)
    return added


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
