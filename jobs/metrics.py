"""kos-metrics (batch): the most frequent services and processes, and starts per time bucket, from MySQL.

    spark-submit --packages com.mysql:mysql-connector-j:9.5.0 jobs/metrics.py \\
        [--from 2026-11-28T00:00:00Z] [--to 2026-11-28T01:00:00Z] [--bucket minute|hour|day] [--top 10] [--out DIR]

Reads ``process_events`` for [from, to) through JDBC in parallel partitions, writes the
results into the ``metrics_*`` tables (replacing those of the same period in one
transaction), one CSV per table and one PNG chart per metric into ``DIR/`` (default
``out/metrics``), and prints them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script by spark-submit: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mysql.connector import errors as mysql_errors  # noqa: E402
from pyspark.sql import DataFrame, SparkSession  # noqa: E402

from jobs import charts  # noqa: E402
from jobs.aggregations import BUCKETS, starts_per_bucket, top_processes, top_services  # noqa: E402
from jobs.database import Database, DatabaseError, ensure_schema  # noqa: E402
from kos import config as kos_config  # noqa: E402

log = logging.getLogger("kos.metrics")

UNBOUNDED_FROM = datetime(1970, 1, 1, tzinfo=UTC)
UNBOUNDED_TO = datetime(9999, 12, 31, tzinfo=UTC)


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    def sql(self) -> str:
        return (f"event_time >= '{self.start:%Y-%m-%d %H:%M:%S.%f}' "
                f"AND event_time < '{self.end:%Y-%m-%d %H:%M:%S.%f}'")

    @property
    def naive(self) -> tuple[datetime, datetime]:
        return self.start.replace(tzinfo=None), self.end.replace(tzinfo=None)


@dataclass(frozen=True)
class Results:
    period: Period
    bucket: str
    events: int
    first: datetime | None
    last: datetime | None
    services: list[tuple[int, str, int]]
    processes: list[tuple[int, str, int]]
    buckets: list[tuple[datetime, str, int]]


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant; without an offset it is taken as UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def read_events(spark: SparkSession, db: Database, period: Period, partitions: int = 4) -> DataFrame:
    """The period's rows of ``process_events``, read in parallel ranges of ``id``."""
    with db.connect() as conn:
        cur = conn.cursor()
        cur.execute(f"SELECT MIN(id), MAX(id) FROM process_events WHERE {period.sql()}")
        low, high = cur.fetchone()
    query = (f"(SELECT id, event_time, host, process, pid, service, action FROM process_events "
             f"WHERE {period.sql()}) AS events")
    if low is None:
        return spark.read.jdbc(db.jdbc_url, query, properties=db.jdbc_properties)
    return spark.read.jdbc(db.jdbc_url, query, column="id", lowerBound=low, upperBound=high + 1,
                           numPartitions=partitions, properties=db.jdbc_properties)


def compute(events: DataFrame, period: Period, bucket: str, top: int) -> Results:
    events = events.cache()
    span = events.selectExpr("count(1) AS n", "min(event_time) AS first", "max(event_time) AS last").collect()[0]
    return Results(
        period=period, bucket=bucket, events=span["n"], first=span["first"], last=span["last"],
        services=[tuple(r) for r in top_services(events, top).collect()],  # type: ignore[misc]
        processes=[tuple(r) for r in top_processes(events, top).collect()],  # type: ignore[misc]
        buckets=[tuple(r) for r in starts_per_bucket(events, bucket).collect()],  # type: ignore[misc]
    )


def store(db: Database, results: Results, chunk: int = 10_000) -> None:
    """Replace the period's rows of the metrics tables, all in one transaction."""
    start, end = results.period.naive
    inserts: list[tuple[str, list[tuple[object, ...]]]] = [
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


def write_files(out: Path, results: Results) -> list[Path]:
    """One CSV per table and one PNG per metric."""
    b = results.bucket
    return [
        charts.write_csv(out / "top_services.csv", ["rank", "service", "starts"], results.services),
        charts.write_csv(out / "top_processes.csv", ["rank", "process", "starts"], results.processes),
        charts.write_csv(out / f"starts_per_{b}.csv", [f"{b}_start_utc", "host", "starts"],
                         [(t.isoformat(), h or "(all hosts)", n) for t, h, n in results.buckets]),
        charts.bar_chart(out / "top_services.png", "Most frequently started services",
                         [r[1] for r in results.services], [r[2] for r in results.services], "starts"),
        charts.bar_chart(out / "top_processes.png", "Processes logging the most start events",
                         [r[1] for r in results.processes], [r[2] for r in results.processes], "starts"),
        charts.time_series_chart(out / f"starts_per_{b}.png", f"Process starts per {b}", results.buckets, b),
    ]


def render(results: Results, shown_buckets: int = 48) -> str:
    """The answers as plain text tables."""
    lines = [f"{results.events} start events from {results.first} to {results.last} (UTC)", "",
             "Most frequent services:"]
    lines += [f"  {rank:3d}. {starts:8d}  {service}" for rank, service, starts in results.services]
    lines += ["", "Most frequent processes/daemons:"]
    lines += [f"  {rank:3d}. {starts:8d}  {process}" for rank, process, starts in results.processes]
    totals = [(t, n) for t, h, n in results.buckets if h == ""]
    shown = totals[-shown_buckets:]
    lines += ["", f"Starts per {results.bucket} (all hosts)"
              + (f", the last {len(shown)} of {len(totals)}:" if len(shown) < len(totals) else ":")]
    lines += [f"  {t:%Y-%m-%d %H:%M}  {n:8d}" for t, n in shown]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kos-metrics", description="Metrics over process_events.")
    parser.add_argument("--from", dest="start", type=parse_instant, help="period start, ISO 8601 (default: all)")
    parser.add_argument("--to", dest="end", type=parse_instant, help="period end, exclusive (default: all)")
    parser.add_argument("--bucket", choices=BUCKETS, default="minute")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--out", help="folder for CSV and PNG files (default: out/metrics)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    try:
        cfg = kos_config.load()
        db = Database.from_config(cfg)
        ensure_schema(db)
    except (kos_config.ConfigError, DatabaseError) as exc:
        print(f"kos-metrics: {exc}", file=sys.stderr)
        return 1
    period = Period(args.start or UNBOUNDED_FROM, args.end or UNBOUNDED_TO)
    spark = (SparkSession.builder.appName("kos-metrics")
             .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    try:
        results = compute(read_events(spark, db, period), period, args.bucket, args.top)
        store(db, results)
        files = write_files(cfg.path(args.out or "out/metrics"), results)
    except DatabaseError as exc:
        print(f"kos-metrics: {exc}", file=sys.stderr)
        return 1
    finally:
        spark.stop()
    print(render(results))
    print("\nFiles:\n" + "\n".join(f"  {f}" for f in files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
