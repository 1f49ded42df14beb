"""The Kafka records between the transform and the load: ``kos.v1.ProcessEvent`` and ``kos.v1.DeadLetter``
(proto/kos/v1/events.proto) as Spark structs, and how records are made of them and read back.

    parsed lines --transform_records--> ProcessEvent records for kos-parsed-os-log,
                                        DeadLetter records for kos-dead-letter
    kos-parsed-os-log --decode_events--> events --sort_out--> the sink's rows (storage/events_sink.py)
                                                          --> problems --dead_letters--> DeadLetter structs
                                                              --kafka_records--> kos-dead-letter

Pure DataFrame functions: no session, files or clock. The structs' schemas below are the
protobuf messages' (a test holds them to the codec's schema of descriptors/kos.desc).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from kos import event
from kosproto import from_protobuf, to_protobuf
from storage.events_sink import TIMES

__all__ = ["DEAD_LETTER", "DEAD_LETTER_SCHEMA", "LOAD_OPTIONS", "PROCESS_EVENT", "PROCESS_EVENT_SCHEMA", "RECORD",
           "RESTART_STORM", "RESTART_STORM_SCHEMA", "TYPE_HEADER", "dead_letters", "decode_events", "fit_event_columns",
           "kafka_records", "load_rows", "sort_out", "to_send", "transform_records"]

PROCESS_EVENT = "kos.v1.ProcessEvent"
DEAD_LETTER = "kos.v1.DeadLetter"
# Every record the jobs write says what it holds, for consumers that read more than one type.
TYPE_HEADER = "kos.type"

_SPARK = {"timestamp": T.TimestampType(), "string": T.StringType(), "bigint": T.LongType(), "int": T.IntegerType()}


def _nested(columns: tuple[event.Column, ...]) -> dict[str, list[event.Column]]:
    """The columns by the message field that holds them (``origin`` for ``origin.source``), in field order."""
    groups: dict[str, list[event.Column]] = {}
    for c in columns:
        groups.setdefault(c.field.split(".")[0], []).append(c)
    return groups


def _struct_type(columns: list[event.Column]) -> T.StructType:
    return T.StructType([T.StructField(c.field.split(".")[-1], _SPARK[c.kind]) for c in columns])


def _schema() -> T.StructType:
    fields = []
    for name, columns in _nested(event.EVENT_COLUMNS).items():
        nested = len(columns) > 1 or "." in columns[0].field
        fields.append(T.StructField(name, _struct_type(columns) if nested else _SPARK[columns[0].kind]))
    return T.StructType(fields)


PROCESS_EVENT_SCHEMA = _schema()
ORIGIN = PROCESS_EVENT_SCHEMA["origin"].dataType
KAFKA_RECORD = PROCESS_EVENT_SCHEMA["raw"].dataType
# A record of the parsed topic as it came, for its dead letter.
RECORD = T.StructType([
    T.StructField("value", T.BinaryType()), T.StructField("topic", T.StringType()),
    T.StructField("partition", T.IntegerType()), T.StructField("offset", T.LongType()),
    T.StructField("timestamp", T.TimestampType()),
])
RESTART_STORM = "kos.v1.RestartStorm"
RESTART_STORM_SCHEMA = T.StructType([
    T.StructField("host", T.StringType()), T.StructField("service", T.StringType()),
    T.StructField("process", T.StringType()), T.StructField("first_start", T.TimestampType()),
    T.StructField("last_start", T.TimestampType()), T.StructField("starts", T.LongType()),
    T.StructField("updated_at", T.TimestampType()),
])
DEAD_LETTER_SCHEMA = T.StructType([
    T.StructField("data", T.BinaryType()),
    T.StructField("reason", T.StringType()),
    T.StructField("stage", T.StringType()),
    T.StructField("origin", ORIGIN),
    T.StructField("record", KAFKA_RECORD),
])
# What a DATETIME column holds: events outside become dead letters rather than fail the batch.
MYSQL_FIRST, MYSQL_LAST = datetime(1000, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
# How the load decodes: every proto3 value as it is (an origin at byte 0 or from source "" is valid), and a
# record that does not decode as null rather than a failed query: it becomes a dead letter.
LOAD_OPTIONS = {"mode": "PERMISSIVE", "emit.default.values": "true"}


def _message(columns: list[event.Column]) -> Column:
    """A struct of the message fields that hold ``columns``, from the event row's columns of those names."""
    return F.struct(*(F.col(c.name).alias(c.field.split(".")[-1]) for c in columns))


def _part(name: str) -> Column:
    """The event row's columns held by the message field ``name`` (``origin``, ``raw``), as its struct."""
    return _message(_nested(event.EVENT_COLUMNS)[name])


def _origin_key(origin: Column) -> Column:
    """A record's key: the line's origin, so a line sent again lands on the same partition."""
    return F.encode(F.concat_ws(":", origin["source"], origin["file"], origin["offset"].cast("string")), "UTF-8")


def _event_struct() -> Column:
    return F.struct(*(F.col(c[0].name) if "." not in c[0].field else _message(c).alias(name)
                      for name, c in _nested(event.EVENT_COLUMNS).items()))


def _dead_letter_struct() -> Column:
    return F.struct(F.col("line").alias("data"), "reason", F.lit("transform").alias("stage"),
                    _part("origin").alias("origin"), _part("raw").alias("record"))


def transform_records(parsed: DataFrame, parsed_topic: str, dead_letter_topic: str,
                      descriptor_set: bytes) -> DataFrame:
    """Kafka records (``key``, ``value``, ``headers``, ``topic``, and the line's ``status``) of ``parse_lines``'
    output, in one pass: each event as a ProcessEvent for ``parsed_topic``, each unparseable candidate as a
    DeadLetter for ``dead_letter_topic``, keyed by the line's origin so that a line sent again lands on the same
    partition; candidates that are not events have no value and go nowhere.

    Each message's ``to_protobuf`` gets null for the other kind's rows, which costs it nothing.
    """
    is_event, is_dead = F.col("status") == "event", F.col("status") == "dead_letter"
    return parsed.select(
        "status",
        _origin_key(_part("origin")).alias("key"),
        F.coalesce(
            to_protobuf(F.when(is_event, _event_struct()), PROCESS_EVENT, binaryDescriptorSet=descriptor_set),
            to_protobuf(F.when(is_dead, _dead_letter_struct()), DEAD_LETTER, binaryDescriptorSet=descriptor_set),
        ).alias("value"),
        F.array(F.struct(F.lit(TYPE_HEADER).alias("key"),
                         F.when(is_event, F.lit(PROCESS_EVENT.encode())).otherwise(F.lit(DEAD_LETTER.encode()))
                         .alias("value"))).alias("headers"),
        F.when(is_event, F.lit(parsed_topic)).otherwise(F.lit(dead_letter_topic)).alias("topic"),
    )


def to_send(records: DataFrame) -> DataFrame:
    """The records of ``transform_records`` that go to a topic, with the Kafka sink's columns only."""
    return records.where(F.col("value").isNotNull()).select("key", "value", "headers", "topic")


def kafka_records(messages: DataFrame, message: str, topic: str, descriptor_set: bytes) -> DataFrame:
    """Kafka records (``key``, ``value``, ``headers``, ``topic``) of ``messages``' structs (``key``, ``message``),
    encoded as ``message``."""
    return messages.select(
        "key",
        to_protobuf("message", message, binaryDescriptorSet=descriptor_set).alias("value"),
        F.array(F.struct(F.lit(TYPE_HEADER).alias("key"), F.lit(message.encode()).alias("value"))).alias("headers"),
        F.lit(topic).alias("topic"),
    )


def decode_events(records: DataFrame, descriptor_set: bytes) -> DataFrame:
    """The records of the parsed topic with their ProcessEvent (``event``, null when the bytes do not decode), the
    type their producer declared (``declared``, null without the header) and the Kafka columns."""
    declared = F.get(F.filter("headers", lambda h: h["key"] == F.lit(TYPE_HEADER)), 0)["value"]
    return records.select(
        "value", "topic", "partition", "offset", "timestamp",
        F.make_valid_utf8(declared.cast("string")).alias("declared"),
        from_protobuf("value", PROCESS_EVENT, options=LOAD_OPTIONS, binaryDescriptorSet=descriptor_set).alias("event"),
    )


def _problem(decoded: DataFrame) -> Column:
    """Why a decoded record cannot be loaded (null when it can)."""
    e = F.col("event")
    empty = [(e[name].isNull() | (e[name] == ""), f"{PROCESS_EVENT} without {name}")
             for name in ("host", "process", "service")]
    reasons = [
        (F.col("value").isNull(), "a record without a value"),
        (F.col("declared").isNotNull() & (F.col("declared") != PROCESS_EVENT),
         F.concat(F.lit("a "), F.col("declared"), F.lit(f" record, not a {PROCESS_EVENT}"))),
        (e.isNull(), f"the bytes do not decode as a {PROCESS_EVENT}"),
        (e["event_time"].isNull(), f"{PROCESS_EVENT} without event_time"),
        ((e["event_time"] < F.lit(MYSQL_FIRST)) | (e["event_time"] > F.lit(MYSQL_LAST)),
         F.concat(F.lit(f"{PROCESS_EVENT} with an event_time MySQL cannot store (years 1000 to 9999): "),
                  e["event_time"].cast("string"))),
        *empty,
        (~e["action"].isin("STARTED", "ACTIVATED"),
         F.concat(F.lit(f"{PROCESS_EVENT} with action "), e["action"])),
        (e["origin"].isNull() | (e["origin"]["file"] == ""), f"{PROCESS_EVENT} without origin"),
        (e["raw"].isNull() | (e["raw"]["topic"] == ""), f"{PROCESS_EVENT} without the raw record's position"),
    ]
    chosen = F.when(reasons[0][0], reasons[0][1])
    for condition, reason in reasons[1:]:
        chosen = chosen.when(condition, reason)
    return chosen


def sort_out(decoded: DataFrame) -> DataFrame:
    """Each record of ``decode_events``' output once, in one pass: ``reason`` null and the event row's columns
    (kos/event.py) for a loadable event; for any other record the ``reason`` and the ``record`` it came in (value
    and Kafka position, what ``dead_letters`` needs), with the row columns null; for every record its
    ``position`` in the parsed topic (topic, partition, offset)."""
    e, reason = F.col("event"), _problem(decoded)
    loadable, dead = reason.isNull(), reason.isNotNull()
    row = {c.name: _field(e, c.field) for c in event.EVENT_COLUMNS}
    record = F.struct("value", "topic", "partition", "offset", "timestamp")
    return decoded.select(reason.alias("reason"), *(F.when(loadable, c).alias(name) for name, c in row.items()),
                          F.when(dead, record).alias("record"), F.struct("topic", "partition", "offset")
                          .alias("position"))


def _field(message: Column, path: str) -> Column:
    for name in path.split("."):
        message = message[name]
    return message


def dead_letters(problems: DataFrame) -> DataFrame:
    """``key`` and ``message`` (a DeadLetter struct: the record's bytes and why) for each row of ``sort_out`` with
    a reason."""
    r = F.col("record")
    position = F.struct(r["topic"].alias("topic"), r["partition"].alias("partition"), r["offset"].alias("offset"),
                        r["timestamp"].alias("timestamp"))
    return problems.select(
        F.encode(F.concat_ws(":", F.lit("kafka"), r["topic"], r["partition"].cast("string"),
                             r["offset"].cast("string")), "UTF-8").alias("key"),
        F.struct(r["value"].alias("data"), "reason", F.lit("load").alias("stage"),
                 F.lit(None).cast(ORIGIN).alias("origin"), position.alias("record")).alias("message"),
    )


def fit_event_columns(events: DataFrame, keep: tuple[str, ...] = ()) -> DataFrame:
    """Event rows (kos/event.py's columns) as the sink writes them: times as microseconds since the epoch
    (``event_time_us``, ``raw_timestamp_us``), text cut to its column's width and ``cut`` saying where; the
    columns named in ``keep`` come along as they are."""
    widths = {c.name: c.width for c in event.EVENT_COLUMNS if c.width}
    fitted = [F.unix_micros(c).alias(f"{c}_us") if c in TIMES
              else F.substring(c, 1, widths[c]).alias(c) if c in widths else F.col(c) for c in event.NAMES]
    too_long = [F.coalesce(F.length(c) > width, F.lit(False)) for c, width in widths.items()]
    cut = reduce(lambda a, b: a | b, too_long).cast("int").alias("cut")
    return events.select(*fitted, cut, *keep)


def load_rows(records: DataFrame, descriptor_set: bytes) -> DataFrame:
    """The records of the parsed topic as the load takes them: ``FITTED`` columns (storage/events_sink.py) for
    each loadable event, ``reason`` and ``record`` for each other record (one or the other is null)."""
    return fit_event_columns(sort_out(decode_events(records, descriptor_set)), keep=("reason", "record"))
