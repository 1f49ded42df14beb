"""kos-metrics (batch): the most frequent services and processes, and starts per time bucket, from MySQL.

    spark-submit --packages com.mysql:mysql-connector-j:9.5.0 jobs/metrics.py \\
        [--from 2026-11-28T00:00:00Z] [--to 2026-11-28T01:00:00Z] [--bucket minute|hour|day] [--top 10] \\
        [--out DIR | --tables-only]

Reads ``process_events`` for [from, to) through JDBC in parallel partitions, writes the
results into the ``metrics_*`` tables (replacing those of the same period in one
transaction), then into ``DIR/`` (default ``out/metrics``) one CSV per table, one PNG per
chart and the self-contained ``report.html``, and prints them. ``--tables-only`` stops
after the tables (the Airflow DAG renders the report in its own task, ``kos report``).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession

from jobs.aggregations import BUCKETS, starts_per_bucket, top_processes, top_services
from jobs.job import run_once
from kos import config as kos_config
from report.render import render_text, write_report
from storage.database import Database, failing_as
from storage.metrics_tables import UNBOUNDED_FROM, UNBOUNDED_TO, Period, Results, parse_instant, store, storms

APP = "kos-metrics"


def read_events(spark: SparkSession, db: Database, period: Period, partitions: int = 4) -> DataFrame:
    """The period's rows of ``process_events`` (the columns the metrics use), read in parallel ranges of ``id``."""
    with db.connect() as conn, failing_as(f"reading process_events as {db.user}"):
        cur = conn.cursor()
        cur.execute(f"SELECT MIN(id), MAX(id) FROM process_events WHERE {period.sql()}")
        low, high = cur.fetchone()
    query = f"(SELECT id, event_time, host, process, service FROM process_events WHERE {period.sql()}) AS events"
    if low is None:
        return spark.read.jdbc(db.jdbc_url, query, properties=db.jdbc_properties)
    return spark.read.jdbc(db.jdbc_url, query, column="id", lowerBound=low, upperBound=high + 1,
                           numPartitions=partitions, properties=db.jdbc_properties)


def rows_of(frame: DataFrame) -> list[tuple]:
    """A result's rows brought to the driver as Arrow (far faster than Row objects for many rows), as tuples;
    timestamps as naive UTC, as ``collect`` gives them in a UTC session."""
    table = frame.toArrow()
    columns = [c.cast(pa.timestamp(c.type.unit)) if pa.types.is_timestamp(c.type) else c for c in table.columns]
    return list(zip(*(c.to_pylist() for c in columns), strict=True))


def compute(events: DataFrame, period: Period, bucket: str, top: int, made_at: datetime,
            alerts: list[tuple] | None = None) -> Results:
    events = events.cache()
    span = events.selectExpr("count(1) AS n", "min(event_time) AS first", "max(event_time) AS last").collect()[0]
    return Results(
        period=period, bucket=bucket, top=top, events=span["n"], first=span["first"], last=span["last"],
        services=[tuple(r) for r in top_services(events, top).collect()],  # type: ignore[misc]
        processes=[tuple(r) for r in top_processes(events, top).collect()],  # type: ignore[misc]
        buckets=rows_of(starts_per_bucket(events, bucket)),  # type: ignore[arg-type]
        made_at=made_at, alerts=alerts or [],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=APP, description="Metrics over process_events.")
    parser.add_argument("--from", dest="start", type=parse_instant, help="period start, ISO 8601 (default: all)")
    parser.add_argument("--to", dest="end", type=parse_instant, help="period end, exclusive (default: all)")
    parser.add_argument("--bucket", choices=BUCKETS, default="minute")
    parser.add_argument("--top", type=int, default=10)
    files = parser.add_mutually_exclusive_group()
    files.add_argument("--out", help="folder for the CSV, PNG and HTML files (default: out/metrics)")
    files.add_argument("--tables-only", action="store_true", help="write the MySQL tables only")
    args = parser.parse_args(argv)
    if args.top < 1:
        parser.error("--top must be at least 1")
    period = Period(args.start or UNBOUNDED_FROM, args.end or UNBOUNDED_TO)

    def work(cfg: kos_config.Config, spark: SparkSession) -> None:
        db = Database.from_config(cfg, "metrics")
        results = compute(read_events(spark, db, period), period, args.bucket, args.top, datetime.now(UTC),
                          storms(db, period))
        store(db, results)
        written = [] if args.tables_only else write_report(cfg.path(args.out or "out/metrics"), results)
        print(render_text(results))
        if written:
            print("\nFiles:\n" + "\n".join(f"  {f}" for f in written))

    return run_once(APP, work)


if __name__ == "__main__":
    sys.exit(main())
