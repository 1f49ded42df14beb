"""The SparkSession every KOS job runs in: named, in UTC, with an event log the history server reads,
and with a local master, reachable on the stack's host only.

Settings given to ``spark-submit --conf`` win over these defaults, so a cluster's own
event-log folder (say on HDFS or S3) and a driver address its executors can reach are
used as they are.
"""

from __future__ import annotations

import logging
import os

from pyspark import SparkConf, SparkContext
from pyspark.sql import SparkSession

from kos.config import Config

log = logging.getLogger(__name__)


def is_local(master: str) -> bool:
    return master.startswith("local")


def job_conf(cfg: Config, submitted: dict[str, str]) -> dict[str, str]:
    """The Spark settings a job adds to those it was submitted with (``submitted``)."""
    wanted = {
        "spark.sql.session.timeZone": "UTC",
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": cfg.path(cfg.spark.event_log_dir).as_uri(),
    }
    if is_local(submitted.get("spark.master", "local[*]")):
        # Driver RPC and block manager on the stack's host; the UI follows SPARK_LOCAL_IP (conf/spark).
        wanted.update({"spark.driver.bindAddress": cfg.stack.host, "spark.driver.host": cfg.stack.host})
    return {key: value for key, value in wanted.items() if key not in submitted}


def spark_session(app_name: str, cfg: Config) -> SparkSession:
    """Start (or join) the job's session, named ``app_name`` in the Spark UI and the history server."""
    SparkContext._ensure_initialized()  # so that SparkConf reads what spark-submit was given
    submitted = dict(SparkConf().getAll())
    conf = job_conf(cfg, submitted)
    if "spark.eventLog.dir" in conf:
        cfg.path(cfg.spark.event_log_dir).mkdir(parents=True, exist_ok=True)
    master = submitted.get("spark.master", "local[*]")
    ui_host = os.environ.get("SPARK_LOCAL_IP")
    if is_local(master) and ui_host != cfg.stack.host and submitted.get("spark.ui.enabled", "true") == "true":
        log.warning("the Spark UI of this %s job listens on %s: Spark takes its address from SPARK_LOCAL_IP only "
                    "(set SPARK_LOCAL_IP=%s, as the project's conf/spark does for its virtualenv)",
                    master, ui_host or "every interface", cfg.stack.host)
    builder = SparkSession.builder.appName(app_name)
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
