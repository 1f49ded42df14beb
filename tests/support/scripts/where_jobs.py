"""spark-submit helper for the tests: where the executors import the jobs' packages from, printing
`jobs=PATH` for each distinct place (on a cluster: the zip the session ships)."""

from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.session import spark_session
from kos import config


def jobs_file(_: int) -> str:
    import jobs

    return jobs.__file__


spark = spark_session("kos-test-where-jobs", config.load())
where = F.udf(jobs_file, T.StringType())
for row in spark.range(4, numPartitions=2).select(where("id").alias("f")).distinct().collect():
    print(f"jobs={row['f']}")
spark.stop()
