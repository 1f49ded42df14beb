"""Process events for tests: rows stored directly, or encoded as the transform's Kafka records by the official
protobuf runtime (not by KOS's own codec), for the load's sink to take."""

from __future__ import annotations

from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from kos import config as kos_config
from kos.event import NAMES
from kosproto.descriptors import message_class

# A row: event_time, host, process, pid, service, action, origin_source, origin_file, origin_offset, kafka_topic,
# kafka_partition, kafka_offset (and optionally raw_timestamp); times naive UTC.
Row = tuple

RECORD_SCHEMA = T.StructType([
    T.StructField("value", T.BinaryType()),
    T.StructField("headers", T.ArrayType(T.StructType([T.StructField("key", T.StringType()),
                                                       T.StructField("value", T.BinaryType())]))),
    T.StructField("topic", T.StringType()), T.StructField("partition", T.IntegerType()),
    T.StructField("offset", T.LongType()), T.StructField("timestamp", T.TimestampType()),
])


def event(t: datetime, host: str, process: str, service: str, offset: int) -> Row:
    """A STARTED event of pid 1 from file ``file`` of source ``src`` at byte ``offset``."""
    return (t, host, process, 1, service, "STARTED", "src", "file", offset, "kos-parsed-os-log", 0, offset)


def store_events(db, rows: list[Row]) -> None:  # noqa: ANN001 - a storage.database.Database
    """``rows`` into process_events with plain SQL (as ``db``'s account)."""
    names = NAMES[:12]
    with db.connect() as conn:
        conn.cursor().executemany(f"INSERT INTO process_events ({', '.join(names)}) VALUES "
                                  f"({', '.join(['%s'] * len(names))})", [r[:12] for r in rows])
        conn.commit()


def _stamp(t: datetime) -> dict[str, int]:
    micros = round((t.replace(tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1_000_000)
    return {"seconds": micros // 1_000_000, "nanos": micros % 1_000_000 * 1000}


def event_records(spark: SparkSession, rows: list[Row], topic: str = "kos-parsed-os-log") -> DataFrame:
    """``rows`` as the records of the parsed topic: one ``kos.v1.ProcessEvent`` each, with its ``kos.type`` header,
    at offsets 0, 1, ... of partition 0."""
    cfg = kos_config.load()
    cls = message_class(cfg.path(cfg.kafka.descriptor_set).read_bytes(), "kos.v1.ProcessEvent")
    records = []
    for offset, row in enumerate(rows):
        t, host, process, pid, service, action, source, file, at, raw_topic, partition, raw_offset = row[:12]
        raw = {"topic": raw_topic, "partition": partition, "offset": raw_offset}
        if len(row) > 12 and row[12] is not None:
            raw["timestamp"] = _stamp(row[12])
        value = cls(event_time=_stamp(t), host=host, process=process, pid=pid, service=service, action=action,
                    origin={"source": source, "file": file, "offset": at}, raw=raw).SerializeToString()
        records.append((value, [("kos.type", b"kos.v1.ProcessEvent")], topic, 0, offset, datetime(2026, 1, 1)))
    return spark.createDataFrame(records, RECORD_SCHEMA)
