"""kos-load (streaming): the process events of ``kos-parsed-os-log`` into MySQL's ``process_events``, exactly once.

    spark-submit --packages org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0,com.mysql:mysql-connector-j:9.5.0 \\
        jobs/load.py [--available-now | --processing-time '10 seconds']

Each micro-batch goes to the sink (jobs/events_sink.py): decoded with ``from_protobuf`` (PERMISSIVE: bytes
that do not decode give null, never a failed query), each Spark partition's events into ``process_events``
from its executor as the load account with its ledger row in the same transaction (so a batch run again after a
crash adds nothing), and every record that is not a loadable event as a ``kos.v1.DeadLetter`` with the reason
and its bytes on ``kos-dead-letter``. The checkpoint is ``[spark] checkpoint_dir/load``.

``--conf spark.kos.load.onStep=MODULE:FUNCTION`` hands each step of a batch's write to a function of yours
(``jobs.events_sink.STEPS``): for tracing, or to inject faults.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

from pyspark.sql import DataFrame

from jobs import messages, streaming
from jobs.database import Database
from jobs.events_sink import EventsSink
from jobs.job import Batch, JobContext, StreamingJob, run_job
from kos.config import Config

__all__ = ["LOAD", "ON_STEP", "main", "step_hook"]

ON_STEP = "spark.kos.load.onStep"


def check(cfg: Config, args: argparse.Namespace) -> dict[str, Any]:
    """MySQL answers and takes the load account, before any Kafka record is read."""
    db = Database.from_config(cfg, "load")
    with db.connect():
        pass
    return {"db": db}


def step_hook(name: str) -> Callable[[str], None] | None:
    """The function ``MODULE:FUNCTION`` names (``spark.kos.load.onStep``), or None for an empty setting."""
    if not name:
        return None
    module, _, function = name.partition(":")
    return getattr(importlib.import_module(module), function)  # type: ignore[no-any-return]


def batches(job: JobContext) -> Batch:
    cfg = job.cfg

    def send_dead_letters(problems: DataFrame) -> None:
        streaming.write_records(messages.kafka_records(messages.dead_letters(problems), messages.DEAD_LETTER,
                                                       cfg.kafka.dead_letter_topic, job.descriptor_set), cfg)

    hook = step_hook(job.spark.conf.get(ON_STEP, "") or "")
    sink = EventsSink(job.state["db"], job.descriptor_set, send_dead_letters, **({"on_step": hook} if hook else {}))

    def process(batch: DataFrame, batch_id: int) -> dict[str, int]:
        written = sink.write(batch, job.query_id(), batch_id)
        return {"added": written.added, "present": written.present, "dead_letters": written.dead_letters,
                "cut": written.cut}

    return process


def summary(tally: Counter[str]) -> str:
    return (f"{tally['added']} rows added, {tally['present']} already present, {tally['dead_letters']} dead letters, "
            f"{tally['cut']} values cut to fit")


LOAD = StreamingJob(
    name="load", description="Process events from Kafka into MySQL.", source=lambda cfg: cfg.kafka.parsed_topic,
    batches=batches, summary=summary, check=check, writes=((messages.DEAD_LETTER_SCHEMA, messages.DEAD_LETTER),),
)


def main(argv: list[str] | None = None) -> int:
    return run_job(LOAD, argv)


if __name__ == "__main__":
    sys.exit(main())
