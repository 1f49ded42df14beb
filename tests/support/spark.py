"""The one local SparkSession of a test process: local[2], UI off, few shuffle partitions, UTC; KOS's jars come
from the project's Spark configuration (conf/spark), Maven packages only where a folder needs them."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence

from pyspark.sql import SparkSession


def local_session(name: str, packages: Sequence[str] = ()) -> Iterator[SparkSession]:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (SparkSession.builder.master("local[2]").appName(name)
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.session.timeZone", "UTC"))
    if packages:
        builder = builder.config("spark.jars.packages", ",".join(packages))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    yield session
    session.stop()
