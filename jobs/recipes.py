"""How each KOS Spark application is submitted: its file and the Maven packages it needs (resolved from ~/.m2 by
``spark-submit --packages``), KOS's own jars, and the master `kos run` gives its one application. What `kos
pipeline`, `kos run`, `kos job` and the DAGs submit (kosctl/commands.py, kosctl/airflow.py); no Spark import here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kos.config import Config

__all__ = ["KAFKA", "MYSQL", "Recipe", "real_time_master", "jars", "recipe"]

KAFKA = "org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0"
MYSQL = "com.mysql:mysql-connector-j:9.5.0"
JOBS = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Recipe:
    application: Path
    packages: tuple[str, ...]


def recipe(cfg: Config, job: str) -> Recipe:
    """The application and packages of ``job``: transform, load and live read Kafka (load and live write MySQL
    from the driver, in Python: no JDBC), metrics reads MySQL through JDBC; continuous is transform, load and live
    in one application. ``[spark] protobuf_package`` (Spark's connector, where it can be had) comes with every job
    that reads or writes Kafka."""
    kafka = (KAFKA, *([cfg.spark.protobuf_package] if cfg.spark.protobuf_package else []))
    packages = {"transform": kafka, "load": kafka, "live": kafka, "continuous": kafka, "metrics": (MYSQL,)}[job]
    return Recipe(JOBS / f"{job}.py", packages)


def jars() -> tuple[Path, ...]:
    """KOS's jar and protobuf-java as `make setup` builds them into build/ (kosproto/jvm.py names them), for
    ``spark-submit --jars``: executors elsewhere get them so."""
    build = JOBS.parent / "build"
    return (build / "kos-spark.jar", *sorted((build / "lib").glob("protobuf-java-*.jar")))


def real_time_master(cfg: Config) -> str:
    """The master of an application with a real-time query (`kos run`'s, `kos job transform --real-time`):
    ``[spark] master``, a local one with the task slots real-time mode needs.

    Real-time mode holds one task slot per partition of the raw topic for as long as a batch runs; the load's and
    the live query's micro-batches need slots beside them. On a local master that is ``local[partitions + 2]``:
    threads, not cores (the real-time tasks mostly wait for records). On a cluster, give it executors with that
    many cores in all.
    """
    master = cfg.spark.master
    if re.fullmatch(r"local(\[(\*|\d+)\])?", master):
        return f"local[{cfg.kafka.partitions + 2}]"
    return master
