"""A DataFrame's rows to the driver as Arrow, in parts as its tasks finish, instead of all at once.

    tasks ──▶ JVM (each task's Arrow batches as it ends) ──socket──▶ reader thread ──▶ queue ──▶ parts

``DataFrame.toArrow()`` returns when the last task has ended; a driver that writes the rows somewhere (the load's
``LOAD DATA``) then waits for the whole Spark job before it starts. ``arrow_parts`` gives the rows that have
arrived whenever the caller asks for more, so that the write of the first rows overlaps the tasks still making the
rest. It uses the same JVM call as ``toArrow`` (``collectAsArrowToPython``, whose batches come in the order their
tasks end) and pyspark's reader of it, which are pyspark internals: pyspark is pinned (pyproject.toml) and
tests/unit/jobs/test_collect.py holds the rows, their count and a failing task's error to ``toArrow``'s.
"""

from __future__ import annotations

import queue
import socket
import threading
from collections.abc import Iterator
from contextlib import suppress

import pyarrow as pa
from pyspark.errors.exceptions.captured import unwrap_spark_exception
from pyspark.sql import DataFrame
from pyspark.sql.pandas.serializers import ArrowCollectSerializer
from pyspark.util import _create_local_socket

__all__ = ["arrow_parts"]

_END = object()


def arrow_parts(frame: DataFrame) -> Iterator[pa.Table]:
    """``frame``'s rows as Arrow tables, each holding every batch that arrived since the previous one was taken
    (rows in the order their tasks ended, not in partition order). Nothing is yielded for a frame without rows.

    A failed Spark job raises its error, as ``toArrow`` does, once the parts before it have been taken; a caller
    that stops early (its own error) ends the collection: the socket is closed and the JVM's side joined.

    >>> import pyarrow as pa
    >>> sorted(pa.concat_tables(arrow_parts(spark.range(3)))["id"].to_pylist())
    [0, 1, 2]
    """
    port, secret, server = frame._jdf.collectAsArrowToPython()
    stream, sock = _create_local_socket((port, secret))
    arrived: queue.Queue[object] = queue.Queue()

    def read() -> None:
        try:
            for item in ArrowCollectSerializer().load_stream(stream):
                if isinstance(item, pa.RecordBatch):  # the last item is the batches' partition order: not needed
                    arrived.put(item)
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
            arrived.put(error)
        arrived.put(_END)

    reader = threading.Thread(target=read, name="kos-arrow-parts", daemon=True)
    reader.start()
    finished = False
    failed: BaseException | None = None
    try:
        while not finished:
            items = [arrived.get()]
            with suppress(queue.Empty):
                while True:
                    items.append(arrived.get_nowait())
            finished = items[-1] is _END
            failed = failed or next((i for i in items if isinstance(i, BaseException)), None)
            rows = [i for i in items if isinstance(i, pa.RecordBatch)]
            if rows:
                yield pa.Table.from_batches(rows, schema=rows[0].schema)
        with unwrap_spark_exception():
            server.getResult()  # the JVM's error, if the job failed there
        if failed:
            raise failed
    finally:
        if not finished:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        reader.join()
        stream.close()
        sock.close()
        if not finished:
            with suppress(Exception):
                server.getResult()
