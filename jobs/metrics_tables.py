"""The results of one metrics run, and their MySQL tables: written in one transaction, read back for reports.

No Spark here: the report step reads the tables with plain Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from mysql.connector import errors as mysql_errors

from jobs.database import Database, DatabaseError

UNBOUNDED_FROM = datetime(1970, 1, 1, tzinfo=UTC)
UNBOUNDED_TO = datetime(9999, 12, 31, tzinfo=UTC)


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant; without an offset it is taken as UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Period:
    """The half-open interval [start, end) of event times a run covers."""

    start: datetime
    end: datetime

    def sql(self) -> str:
        return (f"event_time >= '{self.start:%Y-%m-%d %H:%M:%S.%f}' "
                f"AND event_time < '{self.end:%Y-%m-%d %H:%M:%S.%f}'")

    @property
    def naive(self) -> tuple[datetime, datetime]:
        """Start and end as naive UTC, the way the DATETIME columns hold them."""
        return self.start.astimezone(UTC).replace(tzinfo=None), self.end.astimezone(UTC).replace(tzinfo=None)

    @property
    def unbounded(self) -> bool:
        return self.start == UNBOUNDED_FROM and self.end == UNBOUNDED_TO


@dataclass(frozen=True)
class Results:
    period: Period
    bucket: str
    top: int
    events: int
    first: datetime | None
    last: datetime | None
    services: list[tuple[int, str, int]]
    processes: list[tuple[int, str, int]]
    buckets: list[tuple[datetime, str, int]]
    made_at: datetime


def store(db: Database, results: Results, chunk: int = 10_000) -> None:
    """Replace the period's rows of the metrics tables, all in one transaction."""
    start, end = results.period.naive
    inserts: list[tuple[str, list[tuple[object, ...]]]] = [
        ("INSERT INTO metrics_runs VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
         [(start, end, results.bucket, results.top, results.events, results.first, results.last,
           results.made_at.astimezone(UTC).replace(tzinfo=None))]),
        ("INSERT INTO metrics_top_services VALUES (%s, %s, %s, %s, %s)",
         [(start, end, *row) for row in results.services]),
        ("INSERT INTO metrics_top_processes VALUES (%s, %s, %s, %s, %s)",
         [(start, end, *row) for row in results.processes]),
        ("INSERT INTO metrics_starts_per_bucket VALUES (%s, %s, %s, %s, %s, %s)",
         [(start, end, results.bucket, *row) for row in results.buckets]),
    ]
    with db.connect() as conn:
        cur = conn.cursor()
        try:
            cur.execute("DELETE FROM metrics_runs WHERE period_start = %s AND period_end = %s AND bucket = %s",
                        (start, end, results.bucket))
            cur.execute("DELETE FROM metrics_top_services WHERE period_start = %s AND period_end = %s", (start, end))
            cur.execute("DELETE FROM metrics_top_processes WHERE period_start = %s AND period_end = %s", (start, end))
            cur.execute("DELETE FROM metrics_starts_per_bucket WHERE period_start = %s AND period_end = %s "
                        "AND bucket = %s", (start, end, results.bucket))
            # In chunks: one statement for a month of minute buckets would exceed max_allowed_packet.
            for statement, rows in inserts:
                for i in range(0, len(rows), chunk):
                    cur.executemany(statement, rows[i : i + chunk])
            conn.commit()
        except mysql_errors.Error as exc:
            conn.rollback()
            raise DatabaseError(f"writing the metrics tables failed: {exc.msg}") from None


def fetch(db: Database, period: Period, bucket: str) -> Results:
    """The stored results of the run over ``period`` with ``bucket``; DatabaseError when there was none."""
    start, end = period.naive
    key = (start, end)
    with db.connect() as conn:
        cur = conn.cursor()
        try:
            cur.execute("SELECT top_n, events, first_event, last_event, made_at FROM metrics_runs "
                        "WHERE period_start = %s AND period_end = %s AND bucket = %s", (*key, bucket))
            run = cur.fetchone()
            if run is None:
                raise DatabaseError(f"no metrics run for {period.start:%Y-%m-%dT%H:%M:%SZ} to "
                                    f"{period.end:%Y-%m-%dT%H:%M:%SZ} by {bucket}: run jobs/metrics.py first")
            cur.execute("SELECT `rank`, service, starts FROM metrics_top_services "
                        "WHERE period_start = %s AND period_end = %s ORDER BY `rank`", key)
            services = [tuple(r) for r in cur.fetchall()]
            cur.execute("SELECT `rank`, process, starts FROM metrics_top_processes "
                        "WHERE period_start = %s AND period_end = %s ORDER BY `rank`", key)
            processes = [tuple(r) for r in cur.fetchall()]
            cur.execute("SELECT bucket_start, host, starts FROM metrics_starts_per_bucket "
                        "WHERE period_start = %s AND period_end = %s AND bucket = %s "
                        "ORDER BY bucket_start, host", (*key, bucket))
            buckets = [tuple(r) for r in cur.fetchall()]
        except mysql_errors.Error as exc:
            raise DatabaseError(f"reading the metrics tables failed: {exc.msg}") from None
    top_n, events, first, last, made_at = run
    return Results(period, bucket, top_n, events, first, last, services, processes,  # type: ignore[arg-type]
                   buckets, made_at.replace(tzinfo=UTC))  # type: ignore[arg-type]
