"""spark-submit helper for the tests: count a topic's records and lines through Spark's Kafka source,
connected with the options the KOS jobs use (kos.kafka_client.spark_options), printing `records=N lines=M`."""

import sys

from pyspark.sql import functions as F

from jobs.session import spark_session
from kos import config
from kos.kafka_client import spark_options

cfg = config.load()
spark = spark_session("kos-test-kafka-count", cfg)
records = (spark.read.format("kafka").options(**spark_options(cfg)).option("subscribe", sys.argv[1])
           .option("startingOffsets", "earliest").option("endingOffsets", "latest").load())
row = records.select(F.count(F.lit(1)).alias("n"),
                     F.sum(F.size(F.split(F.col("value").cast("string"), "\n"))).alias("lines")).collect()[0]
print(f"records={row['n']} lines={row['lines']}")
spark.stop()
