"""The SparkSession every KOS job runs in: named, in UTC, with an event log the history server reads;
with a local master reachable on the stack's host only, on a cluster with the jobs' own packages
shipped to the executors.

Settings given to ``spark-submit --conf`` win over these defaults, so a cluster's own
event-log folder (say on HDFS or S3) and a driver address its executors can reach are
used as they are.
"""

from __future__ import annotations

import logging
import os
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path

from pyspark import SparkConf, SparkContext
from pyspark.sql import SparkSession

from kos.config import Config

__all__ = ["PACKAGES", "is_local", "job_conf", "project_archive", "spark_session"]

# What the executors may import of KOS: the ground, the jobs and the packages they stand on.
PACKAGES = ("kos", "kosproto", "storage", "report", "jobs")

log = logging.getLogger(__name__)


def is_local(master: str) -> bool:
    return master.startswith("local")


def job_conf(cfg: Config, submitted: dict[str, str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The Spark settings a job adds to those it was submitted with (``submitted``): KOS's, and the job's own
    (``extra``)."""
    wanted = {
        **(extra or {}),
        "spark.sql.session.timeZone": "UTC",
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": cfg.path(cfg.spark.event_log_dir).as_uri(),
        "spark.kos.protobuf.implementation": cfg.spark.protobuf,
        # Spark's own INFO lines drown the jobs' (one per batch, from jobs/progress.py and the job itself).
        "spark.log.level": "WARN",
        # The Kafka source keeps the records a task fetched but did not use for 5 minutes by default, in case a
        # later task wants them: at a few batches a second that is hundreds of MiB of heap, and a transform
        # with the default 1 GiB driver ran out of heap after 5 minutes of steady input (bench/memory.py).
        "spark.kafka.consumer.fetchedData.cache.timeout": "30s",
        "spark.kafka.consumer.fetchedData.cache.evictorThreadRunInterval": "10s",
    }
    if is_local(submitted.get("spark.master", "local[*]")):
        # Driver RPC and block manager on the stack's host; the UI follows SPARK_LOCAL_IP (conf/spark).
        wanted.update({"spark.driver.bindAddress": cfg.stack.host, "spark.driver.host": cfg.stack.host,
                       # The Python workers are forked from a daemon that has imported what the UDFs use; KOS is
                       # installed where a local master's workers run (on a cluster, only if the executors have it).
                       "spark.python.daemon.module": "jobs.worker_daemon"})
    return {key: value for key, value in wanted.items() if key not in submitted}


def spark_session(app_name: str, cfg: Config, extra: Mapping[str, str] | None = None) -> SparkSession:
    """Start (or join) the job's session, named ``app_name`` in the Spark UI and the history server, with the job's
    own settings ``extra`` unless it was submitted with others."""
    SparkContext._ensure_initialized()  # so that SparkConf reads what spark-submit was given
    submitted = dict(SparkConf().getAll())
    conf = job_conf(cfg, submitted, extra)
    if "spark.eventLog.dir" in conf:
        cfg.path(cfg.spark.event_log_dir).mkdir(parents=True, exist_ok=True)
    master = submitted.get("spark.master", "local[*]")
    ui_host = os.environ.get("SPARK_LOCAL_IP")
    if is_local(master) and ui_host != cfg.stack.host and submitted.get("spark.ui.enabled", "true") == "true":
        log.warning("the Spark UI of this %s job listens on %s: Spark takes its address from SPARK_LOCAL_IP only "
                    "(set SPARK_LOCAL_IP=%s, as the project's conf/spark does for its virtualenv)",
                    master, ui_host or "every interface", cfg.stack.host)
    if "spark.pyspark.python" not in submitted:
        # The Python workers run the jobs' UDFs: this interpreter has what they import (pyarrow, protobuf, KOS).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    if not is_local(master):
        spark.sparkContext.addPyFile(str(project_archive(cfg)))
    return spark


def project_archive(cfg: Config) -> Path:
    """The jobs' own packages in one zip, for the executors of a cluster to import (the live query's group state
    runs there in Python; the rest of the jobs' work runs in the JVM, from KOS's jar).

    The drivers import them from the installed project; executors elsewhere have only the
    third-party packages (pyspark, pyarrow, pandas) installed.
    """
    target = cfg.state_dir / "spark" / "kos-jobs.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for package in PACKAGES:
            for path in sorted((cfg.project_dir / package).rglob("*")):
                inside = path.relative_to(cfg.project_dir)
                if path.is_file() and path.suffix != ".java" and not {"__pycache__", "tests"} & set(inside.parts):
                    archive.write(path, inside)
    tmp.replace(target)
    return target
