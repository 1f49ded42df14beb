"""The results of one metrics run, and their MySQL tables: written in one transaction, read back for reports.

No Spark here: the report step reads the tables with plain Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from storage.database import Database, DatabaseError, failing_as

__all__ = ["UNBOUNDED_FROM", "UNBOUNDED_TO", "Period", "Results", "fetch", "fetch_live", "parse_instant", "store",
           "storms"]

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
    # Restart storms of the period (host, service, process, first start, last start, starts), from process_alerts.
    alerts: list[tuple[str, str, str, datetime, datetime, int]] = field(default_factory=list)
    # The live tables' answers: starts that arrived after the watermark, not counted in them.
    live: bool = False
    late: int = 0


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
    with db.connect() as conn, failing_as("writing the metrics tables", conn):
        cur = conn.cursor()
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


def fetch(db: Database, period: Period, bucket: str) -> Results:
    """The stored results of the run over ``period`` with ``bucket``; DatabaseError when there was none."""
    start, end = period.naive
    key = (start, end)
    with db.connect() as conn, failing_as("reading the metrics tables"):
        cur = conn.cursor()
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
    top_n, events, first, last, made_at = run
    return Results(period, bucket, top_n, events, first, last, services, processes,  # type: ignore[arg-type]
                   buckets, made_at.replace(tzinfo=UTC), storms(db, period))  # type: ignore[arg-type]


def storms(db: Database, period: Period) -> list[tuple[str, str, str, datetime, datetime, int]]:
    """The restart storms that touch ``period`` (process_alerts), the latest first."""
    start, end = period.naive
    with db.connect() as conn, failing_as(f"reading process_alerts as {db.user}"):
        cur = conn.cursor()
        cur.execute("SELECT host, service, process, first_start, last_start, starts FROM process_alerts "
                    "WHERE last_start >= %s AND first_start < %s ORDER BY last_start DESC, host, service",
                    (start, end))
        return [tuple(r) for r in cur.fetchall()]  # type: ignore[misc]


def fetch_live(db: Database, period: Period, bucket: str, top: int, made_at: datetime) -> Results:
    """The answers of the live tables for ``period``, as a metrics run gives them, without a batch run."""
    start, end = period.naive
    unit = {"minute": "%Y-%m-%d %H:%i:00", "hour": "%Y-%m-%d %H:00:00", "day": "%Y-%m-%d 00:00:00"}[bucket]
    within = "minute >= %s AND minute < %s"
    with db.connect() as conn, failing_as(f"reading the live tables as {db.user}"):
        cur = conn.cursor()
        cur.execute(f"SELECT COALESCE(SUM(starts), 0), MIN(minute), MAX(minute) FROM live_starts WHERE {within}",
                    (start, end))
        events, first, last = cur.fetchone()
        ranked = []
        for column in ("service", "process"):
            cur.execute(f"SELECT {column}, SUM(starts) AS n FROM live_starts WHERE {within} GROUP BY {column} "
                        f"ORDER BY n DESC, {column} LIMIT %s", (start, end, top))
            ranked.append([(rank, name, int(n)) for rank, (name, n) in enumerate(cur.fetchall(), 1)])
        cur.execute(f"SELECT CAST(DATE_FORMAT(minute, '{unit}') AS DATETIME) AS b, host, SUM(starts) FROM live_starts "
                    f"WHERE {within} GROUP BY b, host WITH ROLLUP", (start, end))
        buckets = sorted((b, host or "", int(n)) for b, host, n in cur.fetchall() if b is not None)
        cur.execute("SELECT COUNT(*) FROM live_late WHERE event_time >= %s AND event_time < %s", (start, end))
        (late,) = cur.fetchone()
    return Results(period, bucket, top, int(events), first, last, ranked[0], ranked[1],  # type: ignore[arg-type]
                   buckets, made_at, storms(db, period), live=True, late=int(late))
