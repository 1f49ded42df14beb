"""kos-load (streaming): the process events of ``kos-parsed-os-log`` into MySQL's ``process_events``, exactly once.

    spark-submit --packages org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0,com.mysql:mysql-connector-j:9.5.0 \\
        jobs/load.py [--available-now | --processing-time '10 seconds']

Each micro-batch is decoded with ``from_protobuf`` (PERMISSIVE: bytes that do not decode give null,
never a failed query) and brought to the driver in one pass; every record that is not a loadable
event becomes a ``kos.v1.DeadLetter`` with the reason and its bytes on ``kos-dead-letter``, then the
events go into ``process_events`` as the load account with the batch's ledger row in the same
transaction (jobs/events_table.py), so a batch run again after a crash adds nothing.
The checkpoint is ``[spark] checkpoint_dir/load``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass

import pyarrow.compute as pc
from pyspark.sql import DataFrame

from jobs import messages, streaming
from jobs.database import Database, DatabaseError
from jobs.events_table import committed, fit_event_columns, write_rows
from jobs.progress import ProgressLogger
from jobs.protobuf import ProtobufError, check_encodable, implementation
from jobs.protobuf.descriptors import read_descriptor_set
from jobs.session import spark_session
from kos import config as kos_config
from kos.text import log_to_stderr, printable

log = logging.getLogger("kos.load")


@dataclass
class Tally:
    batches: int = 0
    added: int = 0
    present: int = 0
    dead_letters: int = 0
    cut: int = 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kos-load", description="Process events from Kafka into MySQL.")
    streaming.Trigger.add_arguments(parser)
    parser.add_argument("--summary", metavar="FILE", help="write the summary as JSON into FILE")
    args = parser.parse_args(argv)
    log_to_stderr()

    try:
        cfg = kos_config.load()
        db = Database.from_config(cfg, "load")
        descriptor_set = read_descriptor_set(str(cfg.path(cfg.kafka.descriptor_set)))
        with db.connect():
            pass  # MySQL answers and takes the load account, before any Kafka record is read
    except (kos_config.ConfigError, DatabaseError, ProtobufError) as exc:
        print(f"kos-load: {printable(str(exc))}", file=sys.stderr)
        return 1
    spark = spark_session("kos-load", cfg)
    tally = Tally()
    spool = cfg.state_dir / "load"
    for left in spool.glob("kos-load-*.tsv"):  # of an attempt killed while it loaded: its batch runs again
        left.unlink()

    def query_id() -> str:
        """The streaming query's id: it keys the ledger, and a new checkpoint makes a new one."""
        return next(str(q.id) for q in spark.streams.active if q.name == "kos-load")

    trigger = streaming.Trigger.from_arguments(args)
    try:
        log.info("protobuf functions: %s", "Spark's connector" if implementation(spark) == "spark" else "KOS's")
        check_encodable(messages.DEAD_LETTER_SCHEMA, messages.DEAD_LETTER, binaryDescriptorSet=descriptor_set)
        spark.streams.addListener(ProgressLogger())

        def process(batch: DataFrame, batch_id: int) -> None:
            query = query_id()
            done = committed(db, query, batch_id)
            if done is not None:  # its dead letters went out before its rows were committed
                tally.batches += 1
                tally.present += done
                return
            # One pass over the batch: every record decoded, checked and brought to the driver as Arrow, a loadable
            # event as its row, any other record as it came.
            decoded = messages.decode_events(batch, descriptor_set)
            table = fit_event_columns(messages.sort_out(decoded), keep=("reason", "record")).toArrow()
            problems = pc.is_valid(table["reason"])
            dead = table.filter(problems).select(["reason", "record"])
            if dead.num_rows:
                records = messages.kafka_records(messages.dead_letters(spark.createDataFrame(dead)),
                                                 messages.DEAD_LETTER, cfg.kafka.dead_letter_topic, descriptor_set)
                streaming.write_records(records, cfg)
                log.warning("batch %d: %d records that are not loadable process events went to %s", batch_id,
                            dead.num_rows, cfg.kafka.dead_letter_topic)
            written = write_rows(table.filter(pc.invert(problems)), batch_id, db, query, spool)
            tally.batches += 1
            tally.added += written.added
            tally.present += written.present
            tally.cut += written.cut
            tally.dead_letters += dead.num_rows

        started = time.monotonic()
        query = streaming.run(streaming.read_topic(spark, cfg, cfg.kafka.parsed_topic), "kos-load",
                              cfg.path(cfg.spark.checkpoint_dir) / "load", trigger, process)
        seconds = time.monotonic() - started
        records = streaming.input_rows(query)
        times = streaming.batch_times(query)
    except (ProtobufError, DatabaseError, streaming.QueryFailed) as exc:
        print(f"kos-load: {printable(str(exc))}", file=sys.stderr)
        return 1
    finally:
        spark.stop()
    streaming.write_summary(args.summary, {"job": "load", "records": records, "added": tally.added,
                                           "present": tally.present, "dead_letters": tally.dead_letters,
                                           "cut": tally.cut, "batches": tally.batches, "seconds": seconds, **times})
    print(f"kos-load: {records} records, {tally.added} rows added, {tally.present} already present, "
          f"{tally.dead_letters} dead letters, {tally.cut} values cut to fit in {tally.batches} batches, "
          f"{seconds:.2f} s ({trigger})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
