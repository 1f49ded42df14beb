"""kos-transform (streaming): the process start events in the raw syslog records, as protobuf, into Kafka.

    spark-submit --packages org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0 jobs/transform.py \\
        [--available-now | --processing-time '10 seconds' | --real-time '1 minute'] [--year 2026] \\
        [--time-zone Europe/Berlin]

Reads ``kos-raw-os-log`` (from the checkpoint, else from the earliest record), keeps the candidate
lines and parses them (jobs/parsing.py), and writes each event as a ``kos.v1.ProcessEvent`` to
``kos-parsed-os-log`` and each unparseable candidate as a ``kos.v1.DeadLetter`` to ``kos-dead-letter``,
keyed by the line's origin, through Spark's Kafka sink: the query's plan is made once, not per batch,
and its counts come with each batch's progress. Everything runs in the JVM (the candidate search and the protobuf
functions are Java): no Python worker starts, and the query runs in Spark's real-time mode (``--real-time``, as
`kos run` runs it: each record as it arrives). The checkpoint is ``[spark] checkpoint_dir/transform``. A batch run
again after a crash writes the same records again; the load stores each origin once.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs import messages
from jobs.job import JobContext, KafkaSinkJob, run_job
from jobs.parsing import candidate_lines, parse_lines
from kos.config import Config

__all__ = ["TRANSFORM", "main", "output_records", "parsed_records"]


def parsed_records(records: DataFrame, time_zone: str = "UTC", year: int | None = None) -> DataFrame:
    """The candidate lines of raw Kafka records, parsed: events, non-events and dead letters (jobs/parsing.py)."""
    return parse_lines(candidate_lines(records), time_zone, year)


def output_records(parsed: DataFrame, cfg: Config, descriptor_set: bytes) -> DataFrame:
    """The Kafka records of ``parsed``: events for the parsed topic, dead letters for the dead-letter topic."""
    return messages.transform_records(parsed, cfg.kafka.parsed_topic, cfg.kafka.dead_letter_topic, descriptor_set)


def records(job: JobContext, stream: DataFrame) -> DataFrame:
    """The Kafka records of the raw stream, counted (``DataFrame.observe``) as they go to Spark's Kafka sink."""
    found = output_records(parsed_records(stream, job.args.time_zone, job.args.year), job.cfg, job.descriptor_set)
    counted = found.observe(job.name, F.count(F.lit(1)).alias("candidates"),
                            F.count_if(F.col("status") == "event").alias("events"),
                            F.count_if(F.col("status") == "dead_letter").alias("dead_letters"))
    return messages.to_send(counted)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--year", type=int, help="the year of classic timestamps (default: the year rule)")
    parser.add_argument("--time-zone", default="UTC", help="the zone of classic timestamps (default: UTC)")


def summary(tally: Counter[str]) -> str:
    return f"{tally['candidates']} candidate lines, {tally['events']} events, {tally['dead_letters']} dead letters"


TRANSFORM = KafkaSinkJob(
    name="transform", description="Raw syslog records to process events.", source=lambda cfg: cfg.kafka.raw_topic,
    records=records, summary=summary, arguments=arguments,
    writes=((messages.PROCESS_EVENT_SCHEMA, messages.PROCESS_EVENT), (messages.DEAD_LETTER_SCHEMA,
                                                                       messages.DEAD_LETTER)),
)


def main(argv: list[str] | None = None) -> int:
    return run_job(TRANSFORM, argv)


if __name__ == "__main__":
    sys.exit(main())
