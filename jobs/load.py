"""kos-load (streaming): the process events of ``kos-parsed-os-log`` into MySQL's ``process_events``, exactly once.

    spark-submit --packages org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0 \\
        jobs/load.py [--available-now | --processing-time '10 seconds']

Each micro-batch goes to the sink (storage/events_sink.py): decoded with ``from_protobuf`` in the JVM (PERMISSIVE:
bytes that do not decode give null, never a failed query), brought to the driver as Arrow in parts as its tasks
end (jobs/collect.py), each part written into ``process_events`` as it comes, as the load account, the batch's
ledger row in the same transaction (so a batch run again after a crash adds nothing); then every record that is
not a loadable event goes to ``kos-dead-letter`` as a ``kos.v1.DeadLetter`` with the reason and its bytes (again
if the batch runs again: at least once). The checkpoint is ``[spark] checkpoint_dir/load``.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from collections.abc import Callable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession

from jobs import messages
from jobs.collect import arrow_parts
from jobs.job import Batch, BatchJob, JobContext, run_job
from storage.database import Database
from storage.events_sink import EventsSink

__all__ = ["LOAD", "load_job", "main"]

log = logging.getLogger(__name__)


def summary(tally: Counter[str]) -> str:
    return (f"{tally['added']} rows added, {tally['present']} already present, {tally['dead_letters']} dead letters, "
            f"{tally['cut']} values cut to fit")


def rows(job: JobContext, records: DataFrame) -> DataFrame:
    """The stream the batches get: the records decoded and sorted out in the query itself, so that its plan is
    made once when it starts, not again by Python for every micro-batch."""
    return messages.load_rows(records, job.descriptor_set)


def load_job(on_step: Callable[[str], None] | None = None) -> BatchJob[Database]:
    """The load, its sink telling ``on_step`` each step of a batch's write (storage.events_sink.STEPS): the fault
    tests build it so."""
    def batches(job: JobContext, db: Database) -> Batch:
        sink = EventsSink(db, **({"on_step": on_step} if on_step else {}))

        def process(batch: DataFrame, batch_id: int) -> dict[str, int]:
            problems: list[pa.Table] = []

            def events() -> Iterator[pa.Table]:
                """The batch's loadable rows, each part as its tasks end; the other records put aside."""
                for part in arrow_parts(batch):
                    problem = pc.is_valid(part["reason"])
                    problems.append(part.filter(problem).select(["reason", "record"]))
                    yield part.filter(pc.invert(problem))

            written = sink.write(events(), job.query_id(), batch_id)
            dead = sum(part.num_rows for part in problems)
            if dead:
                letters = messages.dead_letters(SparkSession.active().createDataFrame(pa.concat_tables(problems)))
                job.send(letters, messages.DEAD_LETTER, job.cfg.kafka.dead_letter_topic)
                log.warning("batch %d: %d records that are not loadable process events went to the dead letters",
                            batch_id, dead)
            return {"added": written.added, "present": written.present, "dead_letters": dead, "cut": written.cut}

        return process

    return BatchJob(
        name="load", description="Process events from Kafka into MySQL.", source=lambda cfg: cfg.kafka.parsed_topic,
        summary=summary, open=lambda cfg: Database.reached(cfg, "load"), batches=batches, query=rows,
        writes=((messages.DEAD_LETTER_SCHEMA, messages.DEAD_LETTER),),
        # A full batch in five tasks a core: its first rows reach MySQL while the rest are decoded (bench/load.py,
        # docs/performance.md: 0.59-0.62x LOAD DATA's rate, 0.54-0.56x in two tasks a core).
        tasks_per_core=5,
    )


LOAD = load_job()


def main(argv: list[str] | None = None) -> int:
    return run_job(LOAD, argv)


if __name__ == "__main__":
    sys.exit(main())
