"""One readable log line per streaming micro-batch: rows, rates, duration and the offsets reached.

    spark.streams.addListener(ProgressLogger())

The same numbers are in the Spark UI's Structured Streaming tab; this puts them in the
job's log (and so in Airflow's task log) as the batches happen.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from pyspark.sql.streaming import StreamingQueryListener

__all__ = ["ProgressLogger", "describe"]

log = logging.getLogger(__name__)


def _offsets(end_offset: Any) -> str:
    """A source's end offset, compact: ``topic[partition=offset,...]`` for Kafka, as given otherwise."""
    try:
        value = json.loads(end_offset) if isinstance(end_offset, str) else end_offset
    except ValueError:
        return str(end_offset)
    if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
        return " ".join(f"{topic}[" + ",".join(f"{p}={o}" for p, o in sorted(parts.items(), key=lambda i: int(i[0])))
                        + "]" for topic, parts in sorted(value.items()))
    return json.dumps(value, separators=(",", ":"))


def describe(progress: dict[str, Any]) -> str:
    """One line for a micro-batch's progress (the JSON form of ``StreamingQueryProgress``)."""
    name = progress.get("name") or progress.get("id", "query")
    duration = (progress.get("durationMs") or {}).get("triggerExecution", progress.get("batchDuration", 0)) / 1000
    rows = progress.get("numInputRows", 0)
    offsets = "; ".join(_offsets(s.get("endOffset")) for s in progress.get("sources", []))
    return (f"{name} batch {progress.get('batchId')}: {rows:,} rows in {duration:.2f} s "
            f"({progress.get('processedRowsPerSecond') or 0:,.0f} rows/s processed, "
            f"{progress.get('inputRowsPerSecond') or 0:,.0f} rows/s arriving); offsets {offsets or '-'}")


class ProgressLogger(StreamingQueryListener):
    """Logs each query's start, every micro-batch's progress and its end (with the error, if any); hands each
    batch's progress (its JSON form) to the function ``on_progress`` holds under the query's name too.

    The JVM's events reach it as JSON, one call into the JVM per event (``_JsonEvents``): pyspark's own listener
    bridge reads each event field by field, dozens of calls each (every map's end a Java exception turned into a
    Python one), which under `kos run`'s two or three batches a second took a fifth of its Python driver's time,
    holding the interpreter the queries' batch functions wait for."""

    def __init__(self) -> None:
        super().__init__()
        self.on_progress: dict[str, Callable[[dict[str, Any]], None]] = {}

    @property
    def _jlistener(self) -> Any:
        # What pyspark's addListener/removeListener register with the JVM (pyspark.sql.streaming.listener).
        if not hasattr(self, "_jlistenerobj"):
            from pyspark import SparkContext
            self._jlistenerobj = SparkContext._jvm.PythonStreamingQueryListenerWrapper(  # type: ignore[union-attr]
                _JsonEvents(self))
        return self._jlistenerobj

    def started(self, name: str | None, query_id: str, run_id: str) -> None:
        log.info("%s started (id %s, run %s)", name or "query", query_id, run_id)

    def progressed(self, progress: dict[str, Any]) -> None:
        log.info("%s", describe(progress))
        handler = self.on_progress.get(progress.get("name") or "")
        if handler is not None:
            handler(progress)

    def ended(self, query_id: str, exception: str | None) -> None:
        if exception:
            log.error("query %s failed: %s", query_id, exception.splitlines()[0])
        else:
            log.info("query %s ended", query_id)

    # pyspark's listener interface, for a caller that hands the logger pyspark's own events.
    def onQueryStarted(self, event: Any) -> None:
        self.started(event.name, str(event.id), str(event.runId))

    def onQueryProgress(self, event: Any) -> None:
        self.progressed(json.loads(event.progress.json))

    def onQueryIdle(self, event: Any) -> None:
        pass

    def onQueryTerminated(self, event: Any) -> None:
        self.ended(str(event.id), event.exception)


class _JsonEvents:
    """The JVM side's ``PythonStreamingQueryListener``, calling a ProgressLogger with each event's fields read in
    as few calls as they take."""

    def __init__(self, logger: ProgressLogger) -> None:
        self.logger = logger

    def onQueryStarted(self, jevent: Any) -> None:
        self.logger.started(jevent.name(), jevent.id().toString(), jevent.runId().toString())

    def onQueryProgress(self, jevent: Any) -> None:
        self.logger.progressed(json.loads(jevent.progress().json()))

    def onQueryIdle(self, jevent: Any) -> None:
        pass

    def onQueryTerminated(self, jevent: Any) -> None:
        exception = jevent.exception()
        self.logger.ended(jevent.id().toString(), exception.get() if exception.isDefined() else None)

    class Java:
        implements = ["org.apache.spark.sql.streaming.PythonStreamingQueryListener"]
