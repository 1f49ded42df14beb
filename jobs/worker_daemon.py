"""The Python daemon of a KOS job's executors: it imports what the jobs' UDFs use (pyarrow, numpy, pandas,
the protobuf runtime, the MySQL client, pyspark's Arrow serializers, KOS's parsing, codec and sinks) once,
before it forks a worker per task slot. Without it every worker imports them itself, pyspark's own modules
from pyspark.zip (compiled from source each time): about a second and a half of every cold worker, on the
first batch's critical path.

Spark starts it instead of ``pyspark.daemon`` when ``spark.python.daemon.module`` names it (jobs/session.py sets
that for a local master; on a cluster, where the executors need KOS installed for it, give it with ``--conf``).
"""

from __future__ import annotations

import mysql.connector  # noqa: F401
import numpy  # noqa: F401
import pandas  # noqa: F401
import pyarrow  # noqa: F401
import pyarrow.compute  # noqa: F401
from google.protobuf import descriptor_pool, message_factory  # noqa: F401
from pyspark import daemon, worker  # noqa: F401
from pyspark.sql.pandas import serializers, types  # noqa: F401

import jobs.events_sink  # noqa: F401
import jobs.live  # noqa: F401
import jobs.messages  # noqa: F401
import jobs.parsing  # noqa: F401
import jobs.protobuf.decode  # noqa: F401
import jobs.protobuf.encode  # noqa: F401
import jobs.storms  # noqa: F401

if __name__ == "__main__":
    daemon.manager()
