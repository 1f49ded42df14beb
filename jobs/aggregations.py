"""The metrics KOS answers with, as DataFrame -> DataFrame functions over ``process_events`` rows."""

from __future__ import annotations

from typing import get_args

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from kos.config import Bucket

__all__ = ["BUCKETS", "starts_per_bucket", "top_processes", "top_services"]

# The time buckets starts are counted in ([airflow] metrics_bucket, --bucket): what Spark's date_trunc takes.
BUCKETS: tuple[str, ...] = get_args(Bucket)


def _top(events: DataFrame, column: str, n: int) -> DataFrame:
    counts = events.groupBy(column).agg(F.count(F.lit(1)).alias("starts"))
    # Ties are broken by name so that the ranking is the same on every run.
    ranked = counts.withColumn("rank", F.row_number().over(Window.orderBy(F.desc("starts"), F.asc(column))))
    return ranked.where(F.col("rank") <= n).select("rank", column, "starts").orderBy("rank")


def top_services(events: DataFrame, n: int = 10) -> DataFrame:
    """The ``n`` services started or activated most often: ``rank``, ``service``, ``starts``."""
    return _top(events, "service", n)


def top_processes(events: DataFrame, n: int = 10) -> DataFrame:
    """The ``n`` processes/daemons that logged the most start events: ``rank``, ``process``, ``starts``."""
    return _top(events, "process", n)


def starts_per_bucket(events: DataFrame, bucket: str = "minute") -> DataFrame:
    """Start events per time bucket (UTC), per host and in total (host ``''``).

    Columns ``bucket_start``, ``host``, ``starts``, ordered by time then host.
    """
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {', '.join(BUCKETS)}, not {bucket!r}")
    bucketed = events.select(F.date_trunc(bucket, "event_time").alias("bucket_start"), "host")
    per_host = bucketed.groupBy("bucket_start", "host").agg(F.count(F.lit(1)).alias("starts"))
    total = bucketed.groupBy("bucket_start").agg(F.count(F.lit(1)).alias("starts")).select(
        "bucket_start", F.lit("").alias("host"), "starts")
    return per_host.unionByName(total).orderBy("bucket_start", "host")
