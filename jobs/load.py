"""kos-load (streaming): the process events of ``kos-parsed-os-log`` into MySQL's ``process_events``, exactly once.

    spark-submit --packages org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0,com.mysql:mysql-connector-j:9.5.0 \\
        jobs/load.py [--available-now | --processing-time '10 seconds']

Each micro-batch goes to the sink (jobs/events_sink.py): decoded with ``from_protobuf`` in the JVM (PERMISSIVE:
bytes that do not decode give null, never a failed query), brought to the driver as Arrow and written into
``process_events`` as the load account with its ledger row in the same transaction (so a batch run again after a
crash adds nothing); every record that is not a loadable event goes to ``kos-dead-letter`` as a
``kos.v1.DeadLetter`` with the reason and its bytes. The checkpoint is ``[spark] checkpoint_dir/load``.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable

from pyspark.sql import DataFrame

from jobs import messages
from jobs.database import Database
from jobs.events_sink import EventsSink
from jobs.job import Batch, BatchJob, JobContext, run_job

__all__ = ["LOAD", "load_job", "main"]


def summary(tally: Counter[str]) -> str:
    return (f"{tally['added']} rows added, {tally['present']} already present, {tally['dead_letters']} dead letters, "
            f"{tally['cut']} values cut to fit")


def load_job(on_step: Callable[[str], None] | None = None) -> BatchJob[Database]:
    """The load, its sink telling ``on_step`` each step of a batch's write (jobs.events_sink.STEPS): the fault
    tests build it so."""
    def batches(job: JobContext, db: Database) -> Batch:
        def send_dead_letters(problems: DataFrame) -> None:
            job.send(messages.dead_letters(problems), messages.DEAD_LETTER, job.cfg.kafka.dead_letter_topic)

        sink = EventsSink(db, job.descriptor_set, send_dead_letters, **({"on_step": on_step} if on_step else {}))

        def process(batch: DataFrame, batch_id: int) -> dict[str, int]:
            written = sink.write(batch, job.query_id(), batch_id)
            return {"added": written.added, "present": written.present, "dead_letters": written.dead_letters,
                    "cut": written.cut}

        return process

    return BatchJob(
        name="load", description="Process events from Kafka into MySQL.", source=lambda cfg: cfg.kafka.parsed_topic,
        summary=summary, open=lambda cfg: Database.reached(cfg, "load"), batches=batches,
        writes=((messages.DEAD_LETTER_SCHEMA, messages.DEAD_LETTER),),
    )


LOAD = load_job()


def main(argv: list[str] | None = None) -> int:
    return run_job(LOAD, argv)


if __name__ == "__main__":
    sys.exit(main())
