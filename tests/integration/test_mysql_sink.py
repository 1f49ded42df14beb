"""Writing events into MariaDB through the load's sink: exact rows, and a replayed batch adds nothing."""

from __future__ import annotations

from datetime import datetime

import pyarrow.compute as pc
import pytest

from jobs import messages
from kos import config as kos_config
from storage.database import Database, DatabaseError, KeptConnection
from storage.events_sink import LEDGER, EventsSink, Written
from tests.support.events import event_records

pytestmark = pytest.mark.integration


def write_events(spark, rows: list[tuple], batch_id: int, db: Database, query: str) -> Written:
    """``rows`` as one batch of parsed records, decoded and fitted as the load does, through its sink."""
    cfg = kos_config.load()
    table = messages.load_rows(event_records(spark, rows), cfg.path(cfg.kafka.descriptor_set).read_bytes()).toArrow()
    assert table["reason"].null_count == table.num_rows, "no dead letter expected"
    return EventsSink(db).write(table.filter(pc.is_null(table["reason"])), query, batch_id)


def rows(db: Database) -> list[tuple]:
    with db.connect() as conn:
        cur = conn.cursor()
        cur.execute("SELECT event_time, host, process, pid, service, action, origin_source, origin_file, "
                    "origin_offset FROM process_events ORDER BY origin_file, origin_offset")
        return cur.fetchall()


def test_batch_is_written_once_even_when_replayed(spark, db, loader):
    data = [
        (datetime(2026, 2, 24, 20, 29, 42), "dell", "systemd", 1, "Locale Service", "STARTED", "h", "f1", 0,
         "kos-parsed-os-log", 0, 10),
        (datetime(2020, 5, 30, 22, 0, 46, 599903), "localhost", "systemd", None, "ssh.service", "STARTED", "h",
         "f1", 77, "kos-parsed-os-log", 0, 11),
        (datetime(2026, 9, 28, 12, 27, 14), "vm", "dbus-daemon", 838, "org.freedesktop.hostname1", "ACTIVATED",
         "h", "f2", 5, "kos-parsed-os-log", 1, 3),
    ]
    assert write_events(spark, data, 0, loader, "test") == Written(added=3, cut=0, present=0)
    assert write_events(spark, data, 0, loader, "test") == Written(added=0, cut=0, present=3)  # the replay of batch 0
    overlapping = data[1:] + [
        (datetime(2026, 9, 28, 12, 28, 5), "vm", "dbus-daemon", 1526, "org.gtk.vfs.Metadata", "ACTIVATED", "h",
         "f2", 90, "kos-parsed-os-log", 1, 4)]
    assert write_events(spark, overlapping, 1, loader, "test").added == 1
    assert rows(db) == [
        (datetime(2026, 2, 24, 20, 29, 42), "dell", "systemd", 1, "Locale Service", "STARTED", "h", "f1", 0),
        (datetime(2020, 5, 30, 22, 0, 46, 599903), "localhost", "systemd", None, "ssh.service", "STARTED", "h",
         "f1", 77),
        (datetime(2026, 9, 28, 12, 27, 14), "vm", "dbus-daemon", 838, "org.freedesktop.hostname1", "ACTIVATED",
         "h", "f2", 5),
        (datetime(2026, 9, 28, 12, 28, 5), "vm", "dbus-daemon", 1526, "org.gtk.vfs.Metadata", "ACTIVATED", "h",
         "f2", 90),
    ]
    with db.connect() as conn:
        cur = conn.cursor()
        cur.execute("SELECT query, batch_id, SUM(`rows`) FROM load_ledger GROUP BY query, batch_id ORDER BY batch_id")
        assert cur.fetchall() == [("test", 0, 3), ("test", 1, 3)]  # the replay of batch 0 added no ledger row


def test_values_longer_than_their_column_are_cut_not_fatal(spark, db, loader):
    hostile = "x'; DROP TABLE process_events; -- \\ \u202e\u200b" + "s" * 10_000
    batch = [
        (datetime(2026, 1, 1), "h" * 300, "p", 1, hostile, "STARTED", "h", "f", 1, "t", 0, 0),
        (datetime(2026, 1, 1), "h", "p", 1, hostile[:1024], "STARTED", "h", "f", 2, "t", 0, 1),  # fits exactly
        (datetime(2026, 1, 1), "h", "p", 1, "<b>\x1b[2J</b>", "STARTED", "h", "f", 3, "t", 0, 2),
    ]
    assert write_events(spark, batch, 7, loader, "test") == Written(added=3, cut=1)
    stored = rows(db)
    assert [(r[1], r[4]) for r in stored] == [("h" * 255, hostile[:1024]), ("h", hostile[:1024]),
                                             ("h", "<b>\x1b[2J</b>")]


def test_unreachable_database_is_one_clear_error():
    db = Database("127.0.0.1", 1, "kos", "kos", "nope")
    with pytest.raises(DatabaseError, match="cannot connect to MySQL at 127.0.0.1:1 as kos"):
        with db.connect():
            pass


def refused(db: Database, statement: str) -> str:
    """The error MySQL gives ``db``'s account for ``statement`` ('' if it was allowed)."""
    from mysql.connector import errors as mysql_errors

    with db.connect() as conn:
        try:
            conn.cursor().execute(statement)
            conn.rollback()
            return ""
        except mysql_errors.Error as exc:
            return exc.msg or str(exc)


def test_each_account_holds_only_its_rights(cfg, spark, db, loader):
    metrics = Database.from_config(cfg, "metrics")
    batch = [(datetime(2026, 1, 1), "h", "p", 1, "s", "STARTED", "h", "f", 1, "t", 0, 0)]
    assert write_events(spark, batch, 0, loader, "rights").added == 1
    # The metrics account reads events and replaces its own rows; it cannot change an event or the schema.
    assert refused(metrics, "SELECT COUNT(*) FROM process_events") == ""
    assert refused(metrics, "DELETE FROM metrics_top_services WHERE FALSE") == ""
    for statement in ("DELETE FROM process_events", "UPDATE process_events SET host = 'x'",
                      "INSERT INTO process_events (event_time, host, process, service, action, origin_source, "
                      "origin_file, origin_offset, kafka_topic, kafka_partition, kafka_offset) "
                      "VALUES (NOW(), 'h', 'p', 's', 'STARTED', 'x', 'y', 1, 't', 0, 0)",
                      "DROP TABLE process_events", "TRUNCATE TABLE process_events",
                      "ALTER TABLE process_events ADD COLUMN x INT"):
        assert refused(metrics, statement).endswith("denied to user 'kos_metrics'@'127.0.0.1' for table "
                                                    "`kos`.`process_events`"), statement
    # The load account adds events; it cannot delete or rewrite them, nor touch the metrics.
    for statement in ("DELETE FROM process_events", "UPDATE process_events SET host = 'x'",
                      "DROP TABLE process_events", "DELETE FROM metrics_top_services",
                      "SELECT * FROM metrics_runs"):
        assert "denied to user 'kos_load'" in refused(loader, statement), statement
    with db.connect() as conn:
        cur = conn.cursor()
        cur.execute("SELECT host FROM process_events")
        assert cur.fetchall() == [("h",)]


def test_a_line_twice_in_one_batch_is_one_row(spark, db, loader):
    """A shipper restarted after kill -9 may send a line again; both copies can land in one batch."""
    line = (datetime(2026, 1, 1), "h", "p", 1, "s", "STARTED", "h", "f", 1, "kos-parsed-os-log", 0)
    assert write_events(spark, [(*line, 10), (*line, 11)], 0, loader, "twice").added == 1
    assert rows(db) == [(datetime(2026, 1, 1), "h", "p", 1, "s", "STARTED", "h", "f", 1)]


def test_a_server_that_refuses_local_files_gets_the_batch_by_insert(spark, db, loader, mariadb):
    line = (datetime(2026, 1, 1), "h", "p", 1, "s", "STARTED", "h", "f", 1, "kos-parsed-os-log", 0, 10)
    mariadb.root_sql("SET GLOBAL local_infile = 0;")
    try:
        batch = [line, (*line[:8], 2, *line[9:])]
        assert write_events(spark, batch, 0, loader, "refused") == Written(added=2, cut=0, present=0)
        assert write_events(spark, batch, 1, loader, "refused") == Written(added=0, cut=0, present=2)  # another
        assert write_events(spark, batch, 1, loader, "refused") == Written(added=0, cut=0, present=2)  # its replay
    finally:
        mariadb.root_sql("SET GLOBAL local_infile = 1;")
    with db.connect() as conn:
        cur = conn.cursor()
        cur.execute("SELECT query, batch_id, SUM(`rows`) FROM load_ledger GROUP BY query, batch_id ORDER BY batch_id")
        assert cur.fetchall() == [("refused", 0, 2), ("refused", 1, 2)]
    assert [r[8] for r in rows(db)] == [1, 2]


def test_the_load_data_file_escapes_text_and_writes_null_as_backslash_n_for_a_slice_too():
    import pyarrow as pa

    from storage.events_sink import load_data_file

    table = pa.table({"event_time_us": pa.array([1, -2, 3], pa.int64()),
                      "host": pa.array(["skip", "a\tb\\c", "n\nr\rz\x00"]),
                      "pid": pa.array([0, None, 7], pa.int64()), "cut": pa.array([0, 0, 1], pa.int32())})
    assert load_data_file(table.slice(1)).to_pybytes() == b"-2\ta\\tb\\\\c\t\\N\n3\tn\\nr\\rz\\0\t7\n"
    assert load_data_file(table.slice(0, 0)).to_pybytes() == b""


def connection_id(conn) -> int:  # noqa: ANN001
    cur = conn.cursor()
    cur.execute("SELECT CONNECTION_ID()")
    return int(cur.fetchone()[0])


def test_a_kept_connection_is_reused_ends_its_transactions_and_is_made_again_when_gone(db, loader):
    kept = KeptConnection(loader)
    with kept() as conn:
        first = connection_id(conn)
        conn.start_transaction()
        conn.cursor().execute(f"INSERT INTO {LEDGER} (query, batch_id, slice, `rows`) VALUES ('kept', 1, 'b', 0)")
    # The use left its transaction open: it was rolled back, not committed by a later use.
    with kept() as conn:
        assert connection_id(conn) == first
        assert not conn.in_transaction
        conn.commit()
    with db.connect() as owner:
        cur = owner.cursor()
        cur.execute(f"SELECT COUNT(*) FROM {LEDGER} WHERE query = 'kept'")
        assert cur.fetchone() == (0,)
    with loader.connect() as other:  # the server ends it (a restart, a timeout): an account may end its own
        other.cursor().execute(f"KILL CONNECTION {first}")
    with kept() as conn:
        again = connection_id(conn)
        assert again != first
    with pytest.raises(RuntimeError), kept():
        raise RuntimeError("a batch failed")  # an error inside a use drops the connection
    with kept() as conn:
        assert connection_id(conn) not in (first, again)
    kept.close()
