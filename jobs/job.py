"""One skeleton for KOS's streaming jobs: a job is what is new about its query, the rest is here.

Two shapes of job:

- ``KafkaSinkJob`` (the transform): a query whose records go to Spark's Kafka sink; its plan is made once, its
  counts come from ``DataFrame.observe``, and it may run in real-time mode.
- ``BatchJob`` (the load, the live query): a query whose micro-batches a function writes (``foreachBatch``),
  into a sink the job opens before Spark starts (reaching MySQL as its own account).

    arguments (trigger, --summary, the job's own) -> config, descriptor set -> the job's sink opened ->
    SparkSession -> the structs it writes checked against their messages -> query started from its checkpoint,
    its progress logged and in its status file -> summary line (and JSON) or one error line

``run_job`` runs one job as its own Spark application (``spark-submit jobs/<job>.py``); ``start`` starts one query
in a session that may run others (jobs/continuous.py). Every error a person can act on (``KosError``, a
``ProtobufError``) ends a job with one line ``kos-<job>: <what happened>`` and exit status 1.
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
from typing import Any, Generic, TypeVar

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T
from pyspark.sql.streaming import StreamingQuery

from jobs import streaming
from jobs.progress import ProgressLogger
from jobs.session import spark_session
from kos import config as kos_config
from kos.errors import KosError
from kos.summary import status_path, write_summary
from kos.text import error_line, log_to_stderr
from kosproto import ProtobufError, check_encodable, implementation, read_descriptor_set

__all__ = ["Batch", "BatchJob", "Job", "JobContext", "KafkaSinkJob", "Running", "open_job", "run_job", "run_once",
           "start"]

log = logging.getLogger(__name__)

# Errors that end a job with one line.
ONE_LINE = (KosError, ProtobufError)
# What a micro-batch does: given the batch and its id, the counts to add to the job's tally.
Batch = Callable[[DataFrame, int], Mapping[str, int]]
SinkT = TypeVar("SinkT")


@dataclass(frozen=True)
class JobContext:
    """What a job's query is built with, made once when the job starts."""

    cfg: kos_config.Config
    args: argparse.Namespace
    spark: SparkSession
    descriptor_set: bytes
    name: str  # kos-<job>: the query's name (and the application's, run alone)

    def query_id(self) -> str:
        """The running query's id: it keys ledgers, and a new checkpoint makes a new one."""
        return next(str(q.id) for q in self.spark.streams.active if q.name == self.name)

    def send(self, frame: DataFrame, message: str, topic: str) -> None:
        """Write ``frame``'s ``key`` and ``message`` structs as ``message`` records of ``topic``."""
        streaming.send(frame, message, topic, self.cfg, self.descriptor_set)


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def _as_read(job: JobContext, records: DataFrame) -> DataFrame:
    return records


@dataclass(frozen=True)
class KafkaSinkJob:
    """A query over one Kafka topic whose records go to Spark's Kafka sink.

    Parameters
    ----------
    name : str
        ``transform`` names the query ``kos-transform`` and its checkpoint folder ``transform``.
    description : str
        One line for ``--help``.
    source : callable
        The topic the job reads, from the config.
    records : callable
        Given the JobContext and the stream, the Kafka records to write (``key``, ``value``, ``headers``,
        ``topic``), counted with ``DataFrame.observe`` under the query's name.
    summary : callable
        The job's part of the summary line, from the tally of its batches' counts.
    writes : tuple of (StructType, str)
        The structs the job encodes and their messages: checked before the query starts.
    arguments : callable, optional
        Adds the job's own options to its parser.
    """

    name: str
    description: str
    source: Callable[[kos_config.Config], str]
    records: Callable[[JobContext, DataFrame], DataFrame]
    summary: Callable[[Counter[str]], str]
    writes: tuple[tuple[T.StructType, str], ...] = ()
    arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments

    @property
    def app(self) -> str:
        return f"kos-{self.name}"


@dataclass(frozen=True)
class BatchJob(Generic[SinkT]):
    """A query over one Kafka topic whose micro-batches a function writes into the job's sink.

    Parameters
    ----------
    name, description, source, summary, writes, arguments
        As for ``KafkaSinkJob``.
    open : callable
        Given the config, the job's sink (say a Database reached as the job's account): before Spark starts, so
        that an unreachable or refusing MySQL is one line, not a failed query.
    batches : callable
        Given the JobContext and the opened sink, the function each micro-batch runs (``Batch``).
    query : callable, optional
        The stream the batches get, from the topic's records (default: the records); stateful work goes here.
    output_mode : str, default "append"
        The query's output mode ("update" for a stateful query that says what changed).
    tasks_per_core : int, optional
        The tasks a full micro-batch is read in, per core of the session (``streaming.read_topic``; by default its
        own layout): more, smaller tasks let a batch function that writes the rows as they arrive (the load) start
        sooner.

    Examples
    --------
    A job that counts the records of a topic (``topic`` holds three), run once over what it holds:

    >>> counting = BatchJob(
    ...     name="count", description="Counts records.", source=lambda cfg: topic,
    ...     summary=lambda tally: f"{tally['seen']} seen", open=lambda cfg: None,
    ...     batches=lambda job, sink: lambda batch, batch_id: {"seen": batch.count()})
    >>> run_job(counting, ["--available-now"])
    kos-count: 3 records, 3 seen in 1 batches, ... s (available-now)
    0
    """

    name: str
    description: str
    source: Callable[[kos_config.Config], str]
    summary: Callable[[Counter[str]], str]
    open: Callable[[kos_config.Config], SinkT]
    batches: Callable[[JobContext, SinkT], Batch]
    query: Callable[[JobContext, DataFrame], DataFrame] = _as_read
    writes: tuple[tuple[T.StructType, str], ...] = ()
    arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments
    output_mode: str = "append"
    tasks_per_core: int | None = None

    @property
    def app(self) -> str:
        return f"kos-{self.name}"


Job = KafkaSinkJob | BatchJob[Any]


@dataclass
class Running:
    """A started query of a job: its counts batch by batch, and what `kos status` shows of it."""

    job: Job
    query: StreamingQuery
    checkpoint: Path
    status: StatusFile
    started: float = field(default_factory=time.monotonic)
    counted: dict[int, dict[str, int]] = field(default_factory=dict)  # batch id -> what it did
    raised: list[KosError] = field(default_factory=list)  # KOS errors its batch function raised

    def on_progress(self, progress: dict[str, Any]) -> None:
        """A batch's progress: for a Kafka-sink job its counts; into the status file with the counts so far."""
        self._observed(progress)
        totals: Counter[str] = Counter()
        for counts in list(self.counted.values()):
            totals.update(counts)
        self.status.batch(progress, totals)

    def _observed(self, progress: dict[str, Any]) -> None:
        if isinstance(self.job, KafkaSinkJob) and progress.get("numInputRows"):
            found = (progress.get("observedMetrics") or {}).get(self.job.app) or {}
            # A Row in the query's recentProgress, a dict in a listener's (JSON) progress.
            self.counted[progress["batchId"]] = found.asDict() if hasattr(found, "asDict") else dict(found)

    def tally(self) -> Counter[str]:
        for progress in self.query.recentProgress:  # batches whose progress the listener has not had yet
            if progress["batchId"] not in self.counted:
                self._observed(progress)
        tally: Counter[str] = Counter()
        for counts in self.counted.values():
            tally.update(counts)
        return tally

    def summary(self, trigger: streaming.Trigger) -> tuple[str, dict[str, Any]]:
        """The job's summary line, and the same as a dict (``--summary``)."""
        seconds = time.monotonic() - self.started
        tally = self.tally()
        records = streaming.input_rows(self.query)
        batches = len(self.counted)
        line = f"{records} records, {self.job.summary(tally)} in {batches} batches, {seconds:.2f} s ({trigger})"
        return line, {"job": self.job.name, "line": line, "records": records, **tally, "batches": batches,
                      "seconds": seconds, "trigger": str(trigger)}


def open_job(job: Job, cfg: kos_config.Config) -> Any:
    """The job's sink, opened before Spark starts (None for a Kafka-sink job)."""
    return job.open(cfg) if isinstance(job, BatchJob) else None


def start(job: Job, context: JobContext, sink: Any, trigger: streaming.Trigger) -> Running:
    """Start ``job``'s query in ``context``'s session from its checkpoint (``[spark] checkpoint_dir/<job>``)."""
    cfg, spark = context.cfg, context.spark
    for struct, message in job.writes:
        check_encodable(struct, message, binaryDescriptorSet=context.descriptor_set)
    checkpoints = cfg.path(cfg.spark.checkpoint_dir)
    checkpoints.mkdir(parents=True, exist_ok=True)
    status = StatusFile(status_path(checkpoints, job.name), spark)
    stream = streaming.read_topic(spark, cfg, job.source(cfg), trigger,
                                  job.tasks_per_core if isinstance(job, BatchJob) else None)
    checkpoint = checkpoints / job.name
    if isinstance(job, KafkaSinkJob):
        found = job.records(context, stream)
        query = streaming.start(found, context.name, checkpoint, trigger, sink=_kafka_sink(cfg))
        return Running(job, query, checkpoint, status)
    work = job.batches(context, sink)
    running: list[Running] = []

    def process(batch: DataFrame, batch_id: int) -> None:
        try:
            running[0].counted[batch_id] = dict(work(batch, batch_id))
        except KosError as exc:
            running[0].raised.append(exc)
            raise

    query = streaming.start(job.query(context, stream), context.name, checkpoint, trigger, process, job.output_mode)
    running.append(Running(job, query, checkpoint, status))
    return running[0]


def _kafka_sink(cfg: kos_config.Config) -> dict[str, str]:
    from kos.kafka_client import spark_options

    return spark_options(cfg)


def run_job(job: Job, argv: list[str] | None = None) -> int:
    """Run ``job`` as its command line says: the exit status (0, or 1 after one error line on stderr).

    Parameters
    ----------
    job : KafkaSinkJob or BatchJob
        What the job's query is.
    argv : list of str, optional
        The job's arguments (default: ``sys.argv[1:]``): ``--available-now`` (the default),
        ``--processing-time INTERVAL`` or, for a Kafka-sink job, ``--real-time DURATION``; ``--summary FILE``
        (the summary as JSON), and the job's own.

    Returns
    -------
    int
        0 when the query ended as its trigger says (or on SIGTERM), 1 on an error.

    Notes
    -----
    The session is stopped at the end unless the process had one already (a test's, a notebook's).
    """
    parser = argparse.ArgumentParser(prog=job.app, description=job.description)
    streaming.Trigger.add_arguments(parser, real_time=isinstance(job, KafkaSinkJob))
    parser.add_argument("--summary", metavar="FILE", help="also write the summary as JSON into FILE")
    job.arguments(parser)
    args = parser.parse_args(argv)
    log_to_stderr()
    try:
        cfg = kos_config.load()
        descriptor_set = read_descriptor_set(str(cfg.path(cfg.kafka.descriptor_set)))
        sink = open_job(job, cfg)
    except ONE_LINE as exc:
        return error_line(job.app, str(exc))
    joined = SparkSession.getActiveSession() is not None  # a session this process had: left running
    spark = spark_session(job.app, cfg)
    context = JobContext(cfg, args, spark, descriptor_set, job.app)
    trigger = streaming.Trigger.from_arguments(args)
    listener = ProgressLogger()
    try:
        log.info("protobuf functions: %s", "Spark's connector" if implementation(spark) == "spark" else "KOS's")
        spark.streams.addListener(listener)
        running = start(job, context, sink, trigger)
        listener.on_progress[job.app] = running.on_progress
        streaming.await_query(running.query, running.checkpoint, running.raised)
    except ONE_LINE as exc:
        return error_line(job.app, str(exc))
    finally:
        spark.streams.removeListener(listener)
        if not joined:
            spark.stop()
    line, summary = running.summary(trigger)
    write_summary(args.summary, summary)
    print(f"{job.app}: {line}", flush=True)
    return 0


def run_once(app: str, work: Callable[[kos_config.Config, SparkSession], None]) -> int:
    """The shell of a batch job (jobs/metrics.py): the config, the session (stopped at the end unless the process
    had one already), ``work``, and one line ``<app>: <what happened>`` with exit status 1 on an error a person can
    act on; 0 otherwise."""
    log_to_stderr()
    try:
        cfg = kos_config.load()
    except ONE_LINE as exc:
        return error_line(app, str(exc))
    joined = SparkSession.getActiveSession() is not None
    spark = spark_session(app, cfg)
    try:
        work(cfg, spark)
    except ONE_LINE as exc:
        return error_line(app, str(exc))
    finally:
        if not joined:
            spark.stop()
    return 0


class StatusFile:
    """What `kos status` shows of a running query, beside its checkpoint: written when it starts, after each
    micro-batch, and when its supervisor restarts it (kos.summary.status_path)."""

    def __init__(self, path: Path, spark: SparkSession) -> None:
        self.path = path
        context = spark.sparkContext
        self.state: dict[str, Any] = {"pid": os.getpid(), "app_id": context.applicationId, "ui": context.uiWebUrl,
                                      "started": time.time(), "state": "running", "restarts": 0, "last_error": "",
                                      "batches": []}
        self._write()

    def batch(self, progress: dict[str, Any], totals: Mapping[str, int]) -> None:
        """A batch ended: its rows, time and rate, and what the query did since it started (``totals``)."""
        if not progress.get("numInputRows"):
            return
        done = {"batch": progress.get("batchId"), "rows": progress.get("numInputRows", 0), "at": time.time(),
                "seconds": (progress.get("durationMs") or {}).get("triggerExecution", 0) / 1000,
                "input_rate": progress.get("inputRowsPerSecond") or 0}
        self.state["batches"] = [*self.state["batches"][-19:], done]
        self.state["totals"] = dict(totals)
        self._write()

    def update(self, **values: Any) -> None:
        """Its supervisor's word: ``state`` (running, waiting, failed, stopped), ``restarts``, ``last_error``."""
        self.state.update(values)
        self._write()

    def _write(self) -> None:
        try:
            write_summary(self.path, self.state)
        except OSError as exc:  # a status nobody can read is no reason to stop the job
            log.warning("cannot write the status file %s: %s", self.path, exc.strerror)
