"""kos-live (streaming, stateful): starts per minute per host, service and process, and restart storms, as they
happen, from ``kos-parsed-os-log`` into MySQL (and storms onto ``kos-alerts``).

    spark-submit --packages org.apache.spark:spark-sql-kafka-0-10_2.13:4.2.0 \\
        jobs/live.py [--processing-time '5 seconds' | --available-now]

The events (``from_protobuf``; records that are not loadable events are the load's dead letters) get an
event-time watermark (``[live] watermark`` behind the latest event seen) and are grouped by host, service and
process in Spark's group state, kept per host (jobs/storms.py: the counts of the minutes still open, the recent
starts, the latest storm). Each micro-batch says what changed: minute counts, starts later than the watermark (counted
apart, never dropped silently), storms opened or grown. The sink (storage/live_sink.py) writes them with the
batch's ledger row in one transaction: exactly once across restarts. The checkpoint is
``[spark] checkpoint_dir/live``.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.streaming.state import GroupState, GroupStateTimeout

from jobs import messages
from jobs.job import Batch, BatchJob, JobContext, run_job
from jobs.storms import KeyState, Storm, step
from kos.config import seconds
from storage.database import Database
from storage.live_sink import LiveSink

__all__ = ["ALERT_RECORD", "LIVE", "OUTPUT", "alert_records", "live_changes", "main"]

# What the group state emits: one row per change. kind "minute": ``at`` the minute, ``starts`` its count now;
# "late": ``at`` the event's time, ``origin`` its origin; "storm": ``at`` its first start, ``until`` its last,
# ``starts`` how many.
OUTPUT = T.StructType([
    T.StructField("host", T.StringType()), T.StructField("service", T.StringType()),
    T.StructField("process", T.StringType()), T.StructField("kind", T.StringType()),
    T.StructField("at", T.TimestampType()), T.StructField("until", T.TimestampType()),
    T.StructField("starts", T.LongType()), T.StructField("origin", T.StringType()),
    T.StructField("watermark", T.TimestampType()),
])
# The group state as one JSON text: Spark 4.2's Python side cannot read a state schema with arrays (KeyError
# 'elementType' in the worker), and the state of a key is small.
STATE = T.StructType([T.StructField("state", T.StringType())])
def _micros(column: pd.Series) -> list[int]:
    return (column.astype("datetime64[us]").astype("int64")).tolist()


def _stamp(micros: int) -> pd.Timestamp:
    return pd.Timestamp(micros, unit="us")


def _load(row: tuple | None) -> dict[tuple[str, str], KeyState]:
    """A host's state: per (service, process), its KeyState."""
    if row is None:
        return {}
    found = {}
    for key, saved in json.loads(row[0]).items():
        service, process = key.split("\0")
        found[(service, process)] = KeyState(saved["times"], saved["origins"],
                                             {int(m): n for m, n in saved["minutes"].items()},
                                             Storm(*saved["storm"]) if saved["storm"] else None)
    return found


def _save(states: dict[tuple[str, str], KeyState]) -> tuple:
    kept = {}
    for (service, process), state in states.items():
        if state.times or state.minutes or state.storm:  # nothing left that can change: forgotten
            kept[f"{service}\0{process}"] = {
                "times": state.times, "origins": state.origins, "minutes": state.minutes,
                "storm": [state.storm.first, state.storm.last, state.storm.starts] if state.storm else None}
    return (json.dumps(kept, separators=(",", ":")),)


def group_function(storm_starts: int, storm_window_us: int):  # noqa: ANN201 - Spark's pandas-with-state signature
    """The function Spark calls per host and batch (``applyInPandasWithState``): jobs/storms.py's ``step`` for each
    of the host's (service, process) pairs that has starts in the batch; the others are pruned as the watermark
    moves on, so a host's state holds its last few minutes only."""
    def changes(key: tuple[str], frames: Iterator[pd.DataFrame], state: GroupState) -> Iterator[pd.DataFrame]:
        (host,) = key
        starts: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for frame in frames:
            for series, rows in frame.groupby(["service", "process"], sort=False):
                starts.setdefault(series, []).extend(
                    zip(_micros(rows["event_time"]), rows["origin"].tolist(), strict=True))
        watermark = state.getCurrentWatermarkMs() * 1000
        states = _load(state.get if state.exists else None)
        mark = _stamp(watermark)
        out: list[tuple[Any, ...]] = []
        for series in set(states) | set(starts):
            states[series], found = step(states.get(series, KeyState()), starts.get(series, []), watermark,
                                         storm_starts, storm_window_us)
            out += [(host, *series, "minute", _stamp(m), None, n, None, mark) for m, n in sorted(found.minutes.items())]
            out += [(host, *series, "late", _stamp(t), None, 1, origin, mark) for t, origin in found.late]
            out += [(host, *series, "storm", _stamp(x.first), _stamp(x.last), x.starts, None, mark)
                    for x in found.storms]
        state.update(_save(states))
        if out:
            yield pd.DataFrame(out, columns=OUTPUT.fieldNames())

    return changes


def live_changes(records: DataFrame, descriptor_set: bytes, watermark: str, storm_starts: int,
                 storm_window: str) -> DataFrame:
    """The stream of what changes, from a stream of the parsed topic's records (``OUTPUT``'s columns)."""
    events = messages.sort_out(messages.decode_events(records, descriptor_set)).where(F.col("reason").isNull())
    keyed = events.select(
        "event_time", "host", "service", "process",
        F.concat_ws(":", "origin_source", "origin_file", F.col("origin_offset").cast("string")).alias("origin"))
    # Grouped by host, a set that does not grow without end (services do: "Session 42 of user alice"), with no
    # timeout: Spark would run a batch every trigger for timeouts, and available-now would never end.
    return (keyed.withWatermark("event_time", watermark).groupBy("host")
            .applyInPandasWithState(group_function(storm_starts, int(seconds(storm_window) * 1_000_000)), OUTPUT,
                                    STATE, "update", GroupStateTimeout.NoTimeout))


def query(job: JobContext, records: DataFrame) -> DataFrame:
    live, alerts = job.cfg.live, job.cfg.alerts
    # Spark's 200 would be 200 tasks a batch; a checkpoint keeps the number its query started with.
    job.spark.conf.set("spark.sql.shuffle.partitions", str(live.partitions))
    return live_changes(records, job.descriptor_set, live.watermark, alerts.storm_starts, alerts.storm_window)


# The alerts' records, as Arrow: a DataFrame made from Python rows is read through a Python RDD, which starts a
# Python worker daemon of its own and workers beside the group state's.
ALERT_RECORD = T.StructType([T.StructField("key", T.BinaryType()),
                             T.StructField("message", messages.RESTART_STORM_SCHEMA)])
_ALERT_ARROW = to_arrow_schema(ALERT_RECORD, timezone="UTC")


def alert_records(spark: SparkSession, storms: list[dict[str, Any]]) -> DataFrame:
    """The ``kos-alerts`` records of ``storms`` (``RESTART_STORM_SCHEMA``'s fields; times naive UTC): key
    ``host:service:first start``, and the storm as its message struct."""
    rows = [{"key": f"{s['host']}:{s['service']}:{s['first_start'].isoformat()}".encode(), "message": s}
            for s in storms]
    return spark.createDataFrame(pa.Table.from_pylist(rows, schema=_ALERT_ARROW))


def batches(job: JobContext, db: Database) -> Batch:
    def send_alerts(storms: list[dict[str, Any]]) -> None:
        job.send(alert_records(job.spark, storms), messages.RESTART_STORM, job.cfg.kafka.alerts_topic)

    sink = LiveSink(db, send_alerts)

    def process(batch: DataFrame, batch_id: int) -> dict[str, int]:
        return sink.write(batch.toArrow(), job.query_id(), batch_id)

    return process


def summary(tally: Counter[str]) -> str:
    return (f"{tally['minutes']} minute counts, {tally['late']} late starts, {tally['storms']} storm updates, "
            f"{tally['repeated']} batches run again")


LIVE = BatchJob(
    name="live", description="Live starts per minute and restart-storm alerts.",
    source=lambda cfg: cfg.kafka.parsed_topic, batches=batches, summary=summary,
    open=lambda cfg: Database.reached(cfg, "live"), query=query,
    output_mode="update", writes=((messages.RESTART_STORM_SCHEMA, messages.RESTART_STORM),),
)


def main(argv: list[str] | None = None) -> int:
    return run_job(LIVE, argv)


if __name__ == "__main__":
    sys.exit(main())
