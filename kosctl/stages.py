"""The pipeline's stages as commands, one recipe each: what `kos pipeline` and `kos run` start (the DAGs submit
the same jobs through Airflow's SparkSubmitOperator, kosctl/airflow.py)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from kos.config import Config

__all__ = ["BIN", "ship", "spark_submit"]

# The project's virtualenv: its spark-submit, kos-shipper and kos.
BIN = Path(sys.executable).parent


def spark_submit(cfg: Config, job: str, *args: str) -> list[str]:
    """``spark-submit`` of ``jobs/<job>.py`` to ``[spark] master`` with the packages it needs."""
    spark_job = cfg.spark_job(job)
    return [str(BIN / "spark-submit"), "--master", cfg.spark.master, "--packages", ",".join(spark_job.packages),
            str(spark_job.application), *args]


def ship(paths: Sequence[str], *args: str) -> list[str]:
    """``kos-shipper`` over ``paths`` (none: ``[shipper] paths``)."""
    return [sys.executable, "-m", "shipper", *args, *(a for p in paths for a in ("--path", p))]
