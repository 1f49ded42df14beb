"""jobs.collect.arrow_parts against pyspark's own ``toArrow``: the same rows, a failed job's same error, and a
caller that stops early leaves no collection behind."""

from __future__ import annotations

import threading

import pyarrow as pa
import pytest
from pyspark.errors import PySparkException
from pyspark.sql import functions as F

from jobs.collect import arrow_parts


def frame(spark, rows: int, partitions: int):
    n = F.col("id")
    return spark.range(0, rows, 1, partitions).select(
        n, F.when(n % 7 != 0, F.concat(F.lit("service-"), n.cast("string"))).alias("service"),
        (F.lit("2026-03-01 00:00:00").cast("timestamp") + F.make_interval(secs=n)).alias("at"))


def sorted_rows(table: pa.Table) -> list[dict]:
    return sorted(table.to_pylist(), key=lambda row: row["id"])


def test_the_parts_hold_the_rows_toarrow_gives(spark):
    df = frame(spark, 50_000, 6)
    parts = list(arrow_parts(df))
    whole = pa.concat_tables(parts)
    assert whole.num_rows == 50_000
    assert whole.schema == df.toArrow().schema
    assert sorted_rows(whole) == sorted_rows(df.toArrow())


def test_a_frame_without_rows_gives_no_part(spark):
    assert list(arrow_parts(frame(spark, 0, 2))) == []
    assert list(arrow_parts(frame(spark, 100, 2).where("id < 0"))) == []


def failing(spark):
    return frame(spark, 1_000, 4).select("id", F.when(F.col("id") == 999, F.raise_error(F.lit("row 999 is bad")))
                                         .otherwise(F.col("service")).alias("service"))


def test_a_failed_job_raises_the_error_toarrow_raises(spark):
    with pytest.raises(PySparkException) as expected:
        failing(spark).toArrow()
    with pytest.raises(PySparkException) as found:
        list(arrow_parts(failing(spark)))
    assert type(found.value) is type(expected.value)
    assert "row 999 is bad" in str(found.value)
    assert found.value.getCondition() == expected.value.getCondition() == "USER_RAISED_EXCEPTION"


def test_a_caller_that_stops_early_ends_the_collection(spark):
    parts = arrow_parts(frame(spark, 200_000, 8))
    first = next(parts)
    assert first.num_rows > 0
    parts.close()
    assert not [t for t in threading.enumerate() if t.name == "kos-arrow-parts"]
    assert spark.range(5).count() == 5  # the session goes on
