"""The transform's hot path is in the JVM: its physical plan, from raw records to the Kafka records it writes,
holds no Python operator (so no task starts a Python worker, and real-time mode accepts it)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from pyspark.sql import functions as F

from jobs.live import ALERT_RECORD, alert_records
from jobs.parsing import RAW_SCHEMA
from jobs.transform import output_records, parsed_records
from kos import config as kos_config
from tests.support.submit import CHECKED_IN
from tests.unit.jobs.test_parsing import record

# The names Spark gives the operators that run Python: UDFs (row and Arrow), pandas and Arrow maps, grouped
# pandas with state.
PYTHON_OPERATORS = ("BatchEvalPython", "ArrowEvalPython", "PythonUDF", "MapInPandas", "MapInArrow",
                    "FlatMapGroupsInPandas", "FlatMapCoGroupsInPandas", "PythonMapInArrow")


def plan(frame) -> str:  # noqa: ANN001
    return frame._jdf.queryExecution().executedPlan().toString()


def python_in(text: str) -> list[str]:
    return [name for name in PYTHON_OPERATORS if name in text]


def test_the_transform_plan_has_no_python_operator(spark):
    raw = spark.createDataFrame([record(b"Mar  1 10:00:00 h systemd[1]: Started A.\n")], RAW_SCHEMA)
    records = output_records(parsed_records(raw), kos_config.load(environ={}), CHECKED_IN.read_bytes())
    shown = plan(records)
    assert "to_protobuf(" in shown and "*(" in shown  # the transform's, in whole-stage code
    assert python_in(shown) == [], shown
    assert records.count() == 1


# HotSpot's limit: a longer method is never compiled (DontCompileHugeMethods), it runs interpreted.
HUGE_METHOD_BYTES = 8000


def test_the_transform_s_generated_code_is_compiled_by_the_jvm(spark):
    """Whole-stage code generation makes the transform's parse and encoding one method longer than HotSpot compiles
    by default; every Spark JVM started from the project's virtualenv (this session's too) runs with
    ``-XX:-DontCompileHugeMethods`` (conf/spark/spark-defaults.conf), so its rows do not run interpreted."""
    raw = spark.createDataFrame([record(b"Mar  1 10:00:00 h systemd[1]: Started A.\n")], RAW_SCHEMA)
    records = output_records(parsed_records(raw), kos_config.load(environ={}), CHECKED_IN.read_bytes())
    mode = spark._jvm.org.apache.spark.sql.execution.ExplainMode.fromString("codegen")
    sizes = [int(n) for n in re.findall(r"maxMethodCodeSize:(\d+)", records._jdf.queryExecution().explainString(mode))]
    arguments = list(spark._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
    assert sizes, "no generated code"
    assert max(sizes) <= HUGE_METHOD_BYTES or "-XX:-DontCompileHugeMethods" in arguments, (max(sizes), arguments)


def test_the_check_finds_a_python_udf(spark):
    raw = spark.createDataFrame([record(b"x\n")], RAW_SCHEMA)
    with_python = raw.select(F.udf(lambda v: len(v), "int")("value"))
    assert python_in(plan(with_python)) != []


def lineage(frame) -> str:  # noqa: ANN001
    return frame._jdf.queryExecution().toRdd().toDebugString()


def test_the_alert_records_start_no_python_worker(spark):
    at = datetime(2026, 3, 1, 10, 0, 0, 123456)
    storm = {"host": "h1", "service": "Crashy.", "process": "systemd", "first_start": at,
             "last_start": at + timedelta(seconds=4), "starts": 5, "updated_at": at + timedelta(seconds=5)}
    records = alert_records(spark, [storm])
    assert "PythonRDD" not in lineage(records)
    assert [r.asDict(recursive=True) for r in records.collect()] == [
        {"key": b"h1:Crashy.:2026-03-01T10:00:00.123456", "message": storm}]
    # The check can fail: the same rows made from Python objects are read through a Python RDD.
    assert "PythonRDD" in lineage(spark.createDataFrame([(b"h1", storm)], ALERT_RECORD))
