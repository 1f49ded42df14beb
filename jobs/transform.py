"""kos-transform (streaming): the process start events in the raw syslog records, as protobuf, into Kafka.

    spark-submit --packages org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0 jobs/transform.py \\
        [--available-now | --processing-time '10 seconds'] [--year 2026] [--time-zone Europe/Berlin]

Reads ``kos-raw-os-log`` (from the checkpoint, else from the earliest record), keeps the candidate
lines and parses them (jobs/parsing.py), and writes each event as a ``kos.v1.ProcessEvent`` to
``kos-parsed-os-log`` and each unparseable candidate as a ``kos.v1.DeadLetter`` to
``kos-dead-letter``, keyed by the line's origin. The checkpoint is ``[spark] checkpoint_dir/transform``.
A batch run again after a crash writes the same records again; the load stores each origin once.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs import messages, streaming
from jobs.parsing import STATUSES, candidate_lines, parse_lines
from jobs.progress import ProgressLogger
from jobs.protobuf import ProtobufError, check_encodable, implementation
from jobs.protobuf.descriptors import read_descriptor_set
from jobs.session import spark_session
from kos import config as kos_config
from kos.text import log_to_stderr, printable

log = logging.getLogger("kos.transform")


def parsed_records(records: DataFrame, time_zone: str = "UTC", year: int | None = None) -> DataFrame:
    """The candidate lines of raw Kafka records, parsed: events, non-events and dead letters (jobs/parsing.py)."""
    return parse_lines(candidate_lines(records), time_zone, year)


def output_records(parsed: DataFrame, cfg: kos_config.Config, descriptor_set: bytes) -> DataFrame:
    """The Kafka records of ``parsed``: events for the parsed topic, dead letters for the dead-letter topic."""
    return messages.transform_records(parsed, cfg.kafka.parsed_topic, cfg.kafka.dead_letter_topic, descriptor_set)


@dataclass
class Tally:
    """What the batches did, for the summary line."""

    batches: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, counts: dict[str, int]) -> None:
        self.batches += 1
        for status, n in counts.items():
            self.counts[status] = self.counts.get(status, 0) + n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kos-transform", description="Raw syslog records to process events.")
    streaming.Trigger.add_arguments(parser)
    parser.add_argument("--year", type=int, help="the year of classic timestamps (default: the year rule)")
    parser.add_argument("--time-zone", default="UTC", help="the zone of classic timestamps (default: UTC)")
    parser.add_argument("--summary", metavar="FILE", help="write the summary as JSON into FILE")
    args = parser.parse_args(argv)
    log_to_stderr()

    try:
        cfg = kos_config.load()
        descriptor_set = read_descriptor_set(str(cfg.path(cfg.kafka.descriptor_set)))
    except (kos_config.ConfigError, ProtobufError) as exc:
        print(f"kos-transform: {printable(str(exc))}", file=sys.stderr)
        return 1
    spark = spark_session("kos-transform", cfg)
    tally = Tally()
    try:
        log.info("protobuf functions: %s", "Spark's connector" if implementation(spark) == "spark" else "KOS's")
        check_encodable(messages.PROCESS_EVENT_SCHEMA, messages.PROCESS_EVENT, binaryDescriptorSet=descriptor_set)
        check_encodable(messages.DEAD_LETTER_SCHEMA, messages.DEAD_LETTER, binaryDescriptorSet=descriptor_set)
        spark.streams.addListener(ProgressLogger())

        def process(batch: DataFrame, batch_id: int) -> None:
            # Parsed and encoded once: the records are kept for the count after the write.
            records = output_records(parsed_records(batch, args.time_zone, args.year), cfg, descriptor_set).persist()
            try:
                streaming.write_records(messages.to_send(records), cfg)
                # A global aggregate, not a groupBy: no shuffle into spark.sql.shuffle.partitions tasks per batch.
                totals = records.agg(*(F.count_if(F.col("status") == s).alias(s) for s in STATUSES)).collect()[0]
                counts = {s: totals[s] for s in STATUSES if totals[s]}
            finally:
                records.unpersist()
            tally.add(counts)
            log.info("batch %d: %d candidate lines, %d events, %d dead letters", batch_id, sum(counts.values()),
                     counts.get("event", 0), counts.get("dead_letter", 0))

        trigger = streaming.Trigger.from_arguments(args)
        started = time.monotonic()
        query = streaming.run(streaming.read_topic(spark, cfg, cfg.kafka.raw_topic), "kos-transform",
                              cfg.path(cfg.spark.checkpoint_dir) / "transform", trigger, process)
        seconds = time.monotonic() - started
        records = streaming.input_rows(query)
        times = streaming.batch_times(query)
    except (ProtobufError, streaming.QueryFailed) as exc:
        print(f"kos-transform: {printable(str(exc))}", file=sys.stderr)
        return 1
    finally:
        spark.stop()
    c = tally.counts
    streaming.write_summary(args.summary, {"job": "transform", "records": records, "candidates": sum(c.values()),
                                           "events": c.get("event", 0), "dead_letters": c.get("dead_letter", 0),
                                           "batches": tally.batches, "seconds": seconds, **times})
    print(f"kos-transform: {records} records, {sum(c.values())} candidate lines, {c.get('event', 0)} events, "
          f"{c.get('dead_letter', 0)} dead letters in {tally.batches} batches, {seconds:.2f} s ({trigger})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
