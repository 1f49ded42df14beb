"""The SparkSession every KOS job runs in: named, in UTC, with an event log the history server reads.

Settings given to ``spark-submit --conf`` win over these defaults, so a cluster's own
event-log folder (say on HDFS or S3) is used as it is.
"""

from __future__ import annotations

from pyspark import SparkConf
from pyspark.sql import SparkSession

from kos.config import Config


def job_conf(cfg: Config, submitted: dict[str, str]) -> dict[str, str]:
    """The Spark settings a job adds to those it was submitted with (``submitted``)."""
    wanted = {
        "spark.sql.session.timeZone": "UTC",
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": cfg.path(cfg.spark.event_log_dir).as_uri(),
    }
    return {key: value for key, value in wanted.items() if key not in submitted}


def spark_session(app_name: str, cfg: Config) -> SparkSession:
    """Start (or join) the job's session, named ``app_name`` in the Spark UI and the history server."""
    submitted = dict(SparkConf().getAll())
    conf = job_conf(cfg, submitted)
    if "spark.eventLog.dir" in conf:
        cfg.path(cfg.spark.event_log_dir).mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder.appName(app_name)
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
