"""The Python daemon of a KOS job's executors: it imports what the jobs' Python functions use (the live query's
group state: pandas, pyarrow, pyspark's Arrow serializers, jobs/storms.py) once, before it forks a worker per
task slot. Without it every worker imports them itself, pyspark's own modules from pyspark.zip (compiled from
source each time): about a second and a half of every cold worker, on the first batch's critical path. The
transform and the load start no Python worker at all: their functions run in the JVM.

Spark starts it instead of ``pyspark.daemon`` when ``spark.python.daemon.module`` names it (jobs/session.py sets
that for a local master; on a cluster, where the executors need KOS installed for it, give it with ``--conf``).
"""

from __future__ import annotations

import pandas  # noqa: F401
import pyarrow  # noqa: F401
from pyspark import daemon, worker  # noqa: F401
from pyspark.sql.pandas import serializers, types  # noqa: F401

import jobs.live  # noqa: F401
import jobs.storms  # noqa: F401

if __name__ == "__main__":
    daemon.manager()
