"""One skeleton for KOS's streaming jobs: a job is what its micro-batches do, the rest is here.

    arguments (trigger, --summary, the job's own) -> config, descriptor set -> the job's checks ->
    SparkSession -> the structs it writes checked against their messages -> progress listener ->
    foreachBatch query from its checkpoint -> summary line (and JSON) or one error line

Every error a person can act on (``kos.errors.KosError``: config, MySQL, protobuf, a failed query) ends
the job with one line ``kos-<job>: <what happened>`` and exit status 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from jobs import streaming
from jobs.progress import ProgressLogger
from jobs.session import spark_session
from kos import config as kos_config
from kos.errors import KosError
from kos.summary import status_path, write_summary
from kos.text import error_line, log_to_stderr
from kosproto import ProtobufError, check_encodable, implementation, read_descriptor_set

__all__ = ["JobContext", "StreamingJob", "run_job"]

log = logging.getLogger(__name__)

# What a micro-batch does: given the batch and its id, the counts to add to the job's tally.
Batch = Callable[[DataFrame, int], Mapping[str, int]]


@dataclass
class JobContext:
    """What a job's batches work with, made once when the job starts."""

    cfg: kos_config.Config
    args: argparse.Namespace
    spark: SparkSession
    descriptor_set: bytes
    name: str
    state: dict[str, Any] = field(default_factory=dict)  # what the job's check made before the session

    def query_id(self) -> str:
        """The running query's id: it keys ledgers, and a new checkpoint makes a new one."""
        return next(str(q.id) for q in self.spark.streams.active if q.name == self.name)


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def _no_check(cfg: kos_config.Config, args: argparse.Namespace) -> dict[str, Any]:
    return {}


def _records(job: JobContext, records: DataFrame) -> DataFrame:
    return records


@dataclass(frozen=True)
class StreamingJob:
    """A streaming query over one Kafka topic, run by ``run_job``.

    Parameters
    ----------
    name : str
        ``transform`` names the application and query ``kos-transform`` and its checkpoint folder ``transform``.
    description : str
        One line for ``--help``.
    source : callable
        The topic the job reads, from the config.
    summary : callable
        The job's part of the summary line, from the tally of its batches' counts.
    batches : callable, optional
        Given the JobContext, the function each micro-batch runs (``Batch``, through ``foreachBatch``).
    records : callable, optional
        Instead of ``batches``: given the JobContext and the stream, the Kafka records to write (``key``,
        ``value``, ``headers``, ``topic``), straight into Spark's Kafka sink: no plan is built per batch. Their
        counts come from ``DataFrame.observe`` under the job's name, added up batch by batch.
    writes : tuple of (StructType, str)
        The structs the job encodes and their messages: checked before the query starts.
    arguments : callable, optional
        Adds the job's own options to its parser.
    check : callable, optional
        Runs before Spark starts (reach MySQL, say); what it returns is ``JobContext.state``.
    query : callable, optional
        The stream the batches get, from the topic's records (default: the records); stateful work goes here.
    output_mode : str, default "append"
        The query's output mode ("update" for a stateful query that says what changed).

    Examples
    --------
    A job that counts the records of a topic (``topic`` holds three), run once over what it holds:

    >>> counting = StreamingJob(
    ...     name="count", description="Counts records.", source=lambda cfg: topic,
    ...     summary=lambda tally: f"{tally['seen']} seen",
    ...     batches=lambda job: lambda batch, batch_id: {"seen": batch.count()})
    >>> run_job(counting, ["--available-now"])
    kos-count: 3 records, 3 seen in 1 batches, ... s (available-now)
    0
    """

    name: str
    description: str
    source: Callable[[kos_config.Config], str]
    summary: Callable[[Counter[str]], str]
    batches: Callable[[JobContext], Batch] | None = None
    records: Callable[[JobContext, DataFrame], DataFrame] | None = None
    writes: tuple[tuple[T.StructType, str], ...] = ()
    arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments
    check: Callable[[kos_config.Config, argparse.Namespace], dict[str, Any]] = _no_check
    query: Callable[[JobContext, DataFrame], DataFrame] = _records
    output_mode: str = "append"

    @property
    def app(self) -> str:
        return f"kos-{self.name}"


def run_job(job: StreamingJob, argv: list[str] | None = None) -> int:
    """Run ``job`` as its command line says: the exit status (0, or 1 after one error line on stderr).

    Parameters
    ----------
    job : StreamingJob
        What the job's batches do.
    argv : list of str, optional
        The job's arguments (default: ``sys.argv[1:]``): ``--available-now`` (the default) or
        ``--processing-time INTERVAL``, ``--summary FILE`` (the summary as JSON), and the job's own.

    Returns
    -------
    int
        0 when the query ended as its trigger says (or on SIGTERM), 1 on an error.

    Notes
    -----
    The session is stopped at the end unless the process had one already (a test's, a notebook's).
    """
    parser = argparse.ArgumentParser(prog=job.app, description=job.description)
    streaming.Trigger.add_arguments(parser)
    parser.add_argument("--summary", metavar="FILE", help="also write the summary as JSON into FILE")
    job.arguments(parser)
    args = parser.parse_args(argv)
    log_to_stderr()
    try:
        cfg = kos_config.load()
        descriptor_set = read_descriptor_set(str(cfg.path(cfg.kafka.descriptor_set)))
        state = job.check(cfg, args)
    except (KosError, ProtobufError) as exc:
        return _failed(job, exc)
    joined = SparkSession.getActiveSession() is not None  # a session this process had: left running
    spark = spark_session(job.app, cfg)
    context = JobContext(cfg, args, spark, descriptor_set, job.app, state)
    counted: dict[int, dict[str, int]] = {}  # batch id -> what it did
    trigger = streaming.Trigger.from_arguments(args)
    checkpoints = cfg.path(cfg.spark.checkpoint_dir)
    checkpoints.mkdir(parents=True, exist_ok=True)
    status = _StatusFile(status_path(checkpoints, job.name), spark)

    def observed(progress: dict[str, Any]) -> None:
        """A Kafka-sink job's counts come with its batches' progress."""
        if job.records is not None and progress.get("numInputRows"):
            found = (progress.get("observedMetrics") or {}).get(job.name) or {}
            # A Row in the query's recentProgress, a dict in a listener's (JSON) progress.
            counted[progress["batchId"]] = found.asDict() if hasattr(found, "asDict") else dict(found)

    def on_progress(progress: dict[str, Any]) -> None:
        status.batch(progress)
        observed(progress)

    listener = ProgressLogger(on_progress)
    try:
        log.info("protobuf functions: %s", "Spark's connector" if implementation(spark) == "spark" else "KOS's")
        for struct, message in job.writes:
            check_encodable(struct, message, binaryDescriptorSet=descriptor_set)
        spark.streams.addListener(listener)
        stream = job.query(context, streaming.read_topic(spark, cfg, job.source(cfg)))
        started = time.monotonic()
        if job.records is not None:
            query = streaming.run(job.records(context, stream), job.app, checkpoints / job.name, trigger,
                                  sink=streaming.kafka_sink(cfg))
        else:
            assert job.batches is not None, f"{job.name} has neither batches nor records"
            work = job.batches(context)

            def process(batch: DataFrame, batch_id: int) -> None:
                counted[batch_id] = dict(work(batch, batch_id))

            query = streaming.run(stream, job.app, checkpoints / job.name, trigger, process, job.output_mode)
        seconds = time.monotonic() - started
        for progress in query.recentProgress:  # batches whose progress the listener has not had yet
            if progress["batchId"] not in counted:
                observed(progress)
        records = streaming.input_rows(query)
        times = streaming.batch_times(query)
    except (KosError, ProtobufError) as exc:
        return _failed(job, exc)
    finally:
        spark.streams.removeListener(listener)
        if not joined:
            spark.stop()
    tally: Counter[str] = Counter()
    for counts in counted.values():
        tally.update(counts)
    batches = len(counted)
    line = f"{records} records, {job.summary(tally)} in {batches} batches, {seconds:.2f} s ({trigger})"
    write_summary(args.summary, {"job": job.name, "line": line, "records": records, **tally, "batches": batches,
                                 "seconds": seconds, "trigger": str(trigger), **times})
    print(f"{job.app}: {line}", flush=True)
    return 0


class _StatusFile:
    """What `kos status` shows of the running job, beside its checkpoint: written when it starts and after each
    micro-batch (kos.summary.status_path)."""

    def __init__(self, path: Path, spark: SparkSession) -> None:
        self.path = path
        context = spark.sparkContext
        self.state: dict[str, Any] = {"pid": os.getpid(), "app_id": context.applicationId, "ui": context.uiWebUrl,
                                      "started": time.time(), "batches": []}
        self._write()

    def batch(self, progress: dict[str, Any]) -> None:
        if not progress.get("numInputRows"):
            return
        done = {"batch": progress.get("batchId"), "rows": progress.get("numInputRows", 0), "at": time.time(),
                "seconds": (progress.get("durationMs") or {}).get("triggerExecution", 0) / 1000,
                "input_rate": progress.get("inputRowsPerSecond") or 0}
        self.state["batches"] = [*self.state["batches"][-19:], done]
        self._write()

    def _write(self) -> None:
        try:
            write_summary(self.path, self.state)
        except OSError as exc:  # a status nobody can read is no reason to stop the job
            log.warning("cannot write the status file %s: %s", self.path, exc.strerror)


def _failed(job: StreamingJob, error: Exception) -> int:
    return error_line(job.app, str(error))
