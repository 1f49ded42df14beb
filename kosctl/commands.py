"""The pipeline's stages as command lines: what `kos pipeline`, `kos run` and `kos job` start (the DAGs submit the
same jobs through Airflow's SparkSubmitOperator, kosctl/airflow.py; both from the jobs' recipes)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from jobs.recipes import jars, real_time_master, recipe
from kos.config import Config
from kosctl.stack.spark import spark_defaults

__all__ = ["BIN", "ship", "spark_submit"]

# The project's virtualenv: its spark-submit, kos-shipper and kos.
BIN = Path(sys.executable).parent


def spark_submit(cfg: Config, job: str, *args: str) -> list[str]:
    """``spark-submit`` of ``jobs/<job>.py`` with the packages it needs and KOS's jars, to ``[spark] master`` (with
    real-time task slots for the continuous application and a ``--real-time`` transform); the continuous
    application, which runs for days, with its whole heap (``[run] driver_memory``) taken at its start: as Spark's
    ``spark.driver.defaultJavaOptions`` after the ones Spark's configuration gives it (conf/spark/spark-defaults.conf),
    which the launcher puts before ``spark.driver.extraJavaOptions``, so that a user's own driver options
    (spark-defaults.conf, ``--conf``) are kept, not replaced."""
    found = recipe(cfg, job)
    real_time = (job == "continuous" and cfg.run.real_time) or "--real-time" in args
    master = real_time_master(cfg) if real_time else cfg.spark.master
    if job == "continuous":
        options = [spark_defaults().get("spark.driver.defaultJavaOptions", ""), f"-Xms{cfg.run.driver_memory}",
                   "-XX:+AlwaysPreTouch"]
        heap = ["--driver-memory", cfg.run.driver_memory,
                "--conf", "spark.driver.defaultJavaOptions=" + " ".join(o for o in options if o)]
    else:
        heap = []
    return [str(BIN / "spark-submit"), "--master", master, *heap, "--packages", ",".join(found.packages),
            "--jars", ",".join(str(j) for j in jars()), str(found.application), *args]


def ship(paths: Sequence[str], *args: str) -> list[str]:
    """``kos-shipper`` over ``paths`` (none: ``[shipper] paths``)."""
    return [sys.executable, "-m", "shipper", *args, *(a for p in paths for a in ("--path", p))]
