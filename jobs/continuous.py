"""kos-continuous (streaming): the transform, the load and the live query in one Spark application, each query
supervised inside it. What `kos run` runs beside the shipper.

    spark-submit --master 'local[5]' \\
        --packages org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0 \\
        jobs/continuous.py [--year 2026] [--time-zone Europe/Berlin]

One driver JVM runs the three queries of jobs/transform.py, jobs/load.py and jobs/live.py, each from its own
checkpoint (the same ones the DAG's separate jobs use), each in its own FAIR scheduler pool: the transform in
Spark's real-time mode (``[run] real_time``: records processed as they arrive, progress checkpointed that often;
it holds one task slot per partition of the raw topic), the load on ``[run] trigger`` and the live query on ``[live]
trigger``. A query that fails is started again after a back-off (kos/restarts.py) and says so; one that fails more
than ``[run] max_restarts`` times within ``[run] restart_window`` stops the others and ends the application with
its own last error line and exit status 3 (`kos run` then ends too). SIGTERM stops every query (the micro-batch
ones between batches) and exits 0. Each query's state, restarts and last error are in its status file for `kos
status`.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pyspark.errors import StreamingQueryException

from jobs import streaming
from jobs.job import ONE_LINE, Job, JobContext, Running, open_job, start
from jobs.live import LIVE
from jobs.load import LOAD
from jobs.progress import ProgressLogger
from jobs.session import spark_session
from jobs.transform import TRANSFORM
from kos import config as kos_config
from kos.restarts import Restarts
from kos.text import error_line, log_to_stderr, printable
from kosproto import read_descriptor_set

__all__ = ["APP", "GAVE_UP", "main", "triggers"]

log = logging.getLogger(__name__)

APP = "kos-continuous"
QUERIES: tuple[Job, ...] = (TRANSFORM, LOAD, LIVE)
# The exit status when a query failed for good: `kos run` ends rather than start the application again.
GAVE_UP = 3
# One FAIR scheduler pool per query.
POOLS = kos_config.PROJECT_DIR / "conf" / "spark" / "kos-pools.xml"
# What the driver keeps for its UI: the recent jobs, stages, tasks and SQL executions. Spark's defaults (1,000 of
# each, 100,000 tasks, every DAG graph) suit a batch application; at two or three micro-batches of a few tasks each a
# second, 100,000 tasks are about two hours of them held in the driver's heap. Everything stays in the event log,
# which the history server shows.
RECENT_ONLY = {"spark.ui.retainedJobs": "200", "spark.ui.retainedStages": "200", "spark.ui.retainedTasks": "5000",
               "spark.sql.ui.retainedExecutions": "200", "spark.ui.dagGraph.retainedRootRDDs": "200"}


def triggers(cfg: kos_config.Config) -> dict[str, streaming.Trigger]:
    """Each query's trigger under `kos run`."""
    transform = (streaming.Trigger(real_time=cfg.run.real_time) if cfg.run.real_time
                 else streaming.Trigger(cfg.run.trigger))
    return {"transform": transform, "load": streaming.Trigger(cfg.run.trigger),
            "live": streaming.Trigger(cfg.live.trigger)}


@dataclass
class Supervised:
    """One query of the application, and what its supervisor knows of it."""

    job: Job
    trigger: streaming.Trigger
    restarts: Restarts
    sink: Any = None  # opened when the query first starts (a MySQL account reached)
    running: Running | None = None
    restart_at: float | None = None  # when a failed query starts again
    started_at: float = field(default_factory=time.monotonic)
    last_error: str = ""


class GaveUp(Exception):
    """A query failed more often than allowed; the message is its own last error line."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=APP, description="The transform, the load and the live query, "
                                                           "continuously, in one Spark application.")
    parser.add_argument("--year", type=int, help="the year of classic timestamps (default: the year rule)")
    parser.add_argument("--time-zone", default="UTC", help="the zone of classic timestamps (default: UTC)")
    args = parser.parse_args(argv)
    log_to_stderr()
    try:
        cfg = kos_config.load()
        descriptor_set = read_descriptor_set(str(cfg.path(cfg.kafka.descriptor_set)))
    except ONE_LINE as exc:
        return error_line(APP, str(exc))
    spark = spark_session(APP, cfg, {"spark.scheduler.mode": "FAIR", "spark.scheduler.allocation.file": str(POOLS),
                                     **RECENT_ONLY})
    listener = ProgressLogger()
    spark.streams.addListener(listener)
    window = kos_config.seconds(cfg.run.restart_window)
    queries = {job.name: Supervised(job, triggers(cfg)[job.name], Restarts(cfg.run.max_restarts, window))
               for job in QUERIES}
    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("%s received: stopping every query", signal.Signals(signum).name)
        stopping.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for supervised in queries.values():
            launch(spark, cfg, args, descriptor_set, listener, supervised)
        print(f"{APP}: running {', '.join(f'{s.job.app} ({s.trigger})' for s in queries.values())}; Spark UI "
              f"{spark.sparkContext.uiWebUrl}", flush=True)
        while not stopping.is_set():
            supervise(spark, cfg, args, descriptor_set, listener, queries)
            try:
                spark.streams.awaitAnyTermination(1)
            except StreamingQueryException:
                pass  # a failed query: supervise() reads why from the query itself
            spark.streams.resetTerminated()
    except GaveUp as exc:
        stop_all(queries)
        return error_line(APP, str(exc), GAVE_UP)
    except ONE_LINE as exc:
        stop_all(queries)
        return error_line(APP, str(exc))
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    stop_all(queries)
    for supervised in queries.values():
        if supervised.running is not None:
            line, _ = supervised.running.summary(supervised.trigger)
            print(f"{supervised.job.app}: {line}", flush=True)
    spark.stop()
    return 0


def launch(spark: Any, cfg: kos_config.Config, args: argparse.Namespace, descriptor_set: bytes,
           listener: ProgressLogger, supervised: Supervised) -> None:
    """Start a query in its own FAIR pool (the pool is the starting thread's, which the query's thread keeps). A sink
    that cannot be opened (MySQL unreachable) fails the query like a failed batch: it is tried again after a back-off,
    while the others run."""
    job = supervised.job
    supervised.restart_at = None
    supervised.started_at = time.monotonic()
    try:
        if supervised.sink is None:
            supervised.sink = open_job(job, cfg)
        spark.sparkContext.setLocalProperty("spark.scheduler.pool", job.name)
        context = JobContext(cfg, args, spark, descriptor_set, job.app)
        supervised.running = start(job, context, supervised.sink, supervised.trigger)
    except ONE_LINE as exc:
        failed(supervised, str(exc), cfg)
        return
    listener.on_progress[job.app] = supervised.running.on_progress
    supervised.running.status.update(state="running", restarts=supervised.restarts.restarts,
                                     last_error=supervised.last_error)


def supervise(spark: Any, cfg: kos_config.Config, args: argparse.Namespace, descriptor_set: bytes,
              listener: ProgressLogger, queries: dict[str, Supervised]) -> None:
    """Notice queries that ended, plan their restarts or give up, and start those whose back-off is over."""
    now = time.monotonic()
    for supervised in queries.values():
        running = supervised.running
        if running is not None and supervised.restart_at is None and not running.query.isActive:
            failure = running.query.exception()
            failed(supervised, streaming.cause(str(failure), running.raised, running.checkpoint) if failure
                   else "it stopped", cfg)
        if supervised.restart_at is not None and now >= supervised.restart_at:
            launch(spark, cfg, args, descriptor_set, listener, supervised)


def failed(supervised: Supervised, why: str, cfg: kos_config.Config) -> None:
    """A query failed (or could not start): plan its restart, or give up on it (GaveUp)."""
    now = time.monotonic()
    supervised.last_error = why
    status = supervised.running.status if supervised.running is not None else None
    delay = supervised.restarts.failed(now, now - supervised.started_at)
    if delay is None:
        if status is not None:
            status.update(state="failed", last_error=why)
        raise GaveUp(f"{supervised.job.app} failed {supervised.restarts.failures} times within "
                     f"{cfg.run.restart_window}: {why}")
    supervised.restart_at = now + delay
    if status is not None:
        status.update(state="waiting", restarts=supervised.restarts.restarts, last_error=why)
    log.warning("%s", printable(f"{supervised.job.app} failed ({why}); starting it again in {delay:.0f} s "
                                f"(restart {supervised.restarts.restarts})"))


def stop_all(queries: dict[str, Supervised]) -> None:
    """Stop every query that runs; each status file says so."""
    for supervised in queries.values():
        running = supervised.running
        if running is None:
            continue
        if running.query.isActive:
            running.query.stop()
        if running.status.state.get("state") != "failed":
            running.status.update(state="stopped")


if __name__ == "__main__":
    sys.exit(main())
