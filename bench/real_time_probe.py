"""Spark's real-time mode tried on the transform's query (run by bench/latency.py through spark-submit):

    spark-submit --packages <kafka connector> bench/real_time_probe.py RAW PARSED DEAD_LETTER CHECKPOINT

Real-time mode has no foreachBatch, so the query writes to a Kafka sink; prints one ``ANSWER`` line: refused
at start, refused when it ran (with Spark's first line), or running with its last progress.
"""

from __future__ import annotations

import sys
import time

from pyspark.sql import SparkSession

from jobs import messages, streaming
from jobs.transform import parsed_records
from kos import config as kos_config
from kos.kafka_client import spark_options
from kosproto import read_descriptor_set


def main() -> None:
    raw, parsed, dead, checkpoint = sys.argv[1:5]
    cfg = kos_config.load()
    spark = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").getOrCreate()
    descriptors = read_descriptor_set(str(cfg.path(cfg.kafka.descriptor_set)))
    stream = streaming.read_topic(spark, cfg, raw)
    records = messages.to_send(messages.transform_records(parsed_records(stream, "UTC", None), parsed, dead,
                                                          descriptors))
    try:
        query = (records.writeStream.format("kafka").options(**spark_options(cfg)).outputMode("update")
                 .option("checkpointLocation", checkpoint).trigger(realTime="5 seconds").start())
        time.sleep(20)
        if query.exception() is not None:
            print("ANSWER refused when it ran:", str(query.exception()).splitlines()[0])
        else:
            print("ANSWER running; last progress:", query.lastProgress)
            query.stop()
    except Exception as exc:  # whatever Spark refuses it with is the answer
        print("ANSWER refused at start:", type(exc).__name__ + ":", str(exc).splitlines()[0])


if __name__ == "__main__":
    main()
