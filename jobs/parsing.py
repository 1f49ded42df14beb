"""The parsing rules for process start events, as DataFrame -> DataFrame functions.

Pure: no session, environment, files or clock; the streaming transform job, the
tests and the audit all call these same functions.

    raw Kafka records --candidate_lines--> candidate lines with origins --parse_lines--> parsed
    parsed --events--> process start events          parsed --dead_letters--> unparseable candidates

A record's value is one syslog line or a newline-joined run of lines, byte for
byte as in the file (see shipper/records.py). A line's origin is the shipper's
``(kos.source, kos.file, kos.offset + byte position)``; a record without those
headers (typed into kafka-console-producer, say) gets ``("", "kafka:TOPIC:PARTITION:OFFSET", position)``.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from kos import headers

# A line can only be an event if it contains one of these; checked before any regular expression.
# The columns of Spark's Kafka source that the parser reads: what raw records look like.
RAW_SCHEMA = T.StructType([
    T.StructField("value", T.BinaryType()),
    T.StructField("headers", T.ArrayType(T.StructType([
        T.StructField("key", T.StringType()), T.StructField("value", T.BinaryType())]))),
    T.StructField("topic", T.StringType()),
    T.StructField("partition", T.IntegerType()),
    T.StructField("offset", T.LongType()),
    T.StructField("timestamp", T.TimestampType()),
])

STARTED = "Started "
ACTIVATED = "Successfully activated"

_RFC3339 = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})"
_CLASSIC = r"[A-Za-z]{3} {1,2}\d{1,2} \d{1,2}:\d{1,2}:\d{1,2}"
# TIMESTAMP HOST TAG[PID]: MESSAGE, in one pass; the fields come out joined by \u0001 behind a marker
# (so HOST and TAG may not contain \u0001; the message may).
# (?s): a message may hold \r or Unicode line separators; only \n ends a line, and the shipper split on it.
_HEADER = rf"(?s)^({_RFC3339}|{_CLASSIC}) +([^\s\x01]+) +([^\s\[:\x01]+)(?:\[(\d{{1,10}})\])?: ?(.*)$"
_MARK = "\u0000kos:"
_SEP = "\u0001"
_ACTIVATED_PREFIX = r"(?s)^(?:\[system\] |\[session uid=\d+ pid=\d+\] )?Successfully activated "
_MONTHS = "JanFebMarAprMayJunJulAugSepOctNovDec"

REASON_NO_HEADER = "no 'TIMESTAMP HOST TAG:' prefix"
REASON_BAD_TIME = "invalid timestamp"
REASON_EMPTY_SERVICE = "empty service name"


def _header(records: DataFrame, name: str) -> Column:
    """The value of a Kafka header as text (null when absent: ``get``, unlike ``element_at``, gives null past the
    end of the array, so records with other producers' headers or none at all pass)."""
    return F.make_valid_utf8(F.get(F.filter(records["headers"], lambda h: h["key"] == F.lit(name)), 0)["value"]
                             .cast("string"))


def candidate_lines(records: DataFrame) -> DataFrame:
    """One row per candidate line of the Kafka records, with its origin and its record's metadata.

    ``records`` has the Kafka source's columns (``value``, ``headers``, ``topic``,
    ``partition``, ``offset``, ``timestamp``). Output: ``source``, ``file``,
    ``line_offset``, ``line`` (bytes as in the file), ``kafka_topic``,
    ``kafka_partition``, ``kafka_offset``, ``kafka_timestamp``. A record whose shipper
    headers are missing or unusable (no ``kos.file``, an offset that is not a number) is
    taken as one from another producer: its origin is the Kafka record itself.
    """
    # ISO-8859-1 maps each byte to one character, so string positions are byte positions
    # and any byte sequence (invalid UTF-8, NUL) survives the round trip unchanged.
    given = _header(records, headers.OFFSET)
    offset = F.when(given.rlike(r"^[0-9]{1,18}$"), given.cast("bigint"))
    has_origin = _header(records, headers.FILE).isNotNull() & offset.isNotNull()
    with_text = records.select(
        F.decode("value", "ISO-8859-1").alias("text"),
        F.when(has_origin, F.coalesce(_header(records, headers.SOURCE), F.lit(""))).otherwise(F.lit(""))
        .alias("source"),
        F.when(has_origin, _header(records, headers.FILE))
        .otherwise(F.format_string("kafka:%s:%d:%d", "topic", "partition", "offset")).alias("file"),
        F.when(has_origin, offset).otherwise(F.lit(0)).alias("base_offset"),
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
    ).where(F.col("text").contains(STARTED) | F.col("text").contains(ACTIVATED))
    lines = with_text.select(
        "*", F.split("text", "\n").alias("all_lines")
    ).select(
        "*", F.posexplode("all_lines").alias("index", "line_text")
    ).where(F.col("line_text").contains(STARTED) | F.col("line_text").contains(ACTIVATED))
    # A line starts after the ones before it and their newlines.
    preceding = F.length(F.concat_ws("\n", F.slice("all_lines", 1, F.col("index")))) + 1
    return lines.select(
        "source",
        "file",
        (F.col("base_offset") + F.when(F.col("index") == 0, F.lit(0)).otherwise(preceding)).alias("line_offset"),
        F.encode("line_text", "ISO-8859-1").alias("line"),
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        "kafka_timestamp",
    )


def parse_lines(lines: DataFrame, time_zone: str = "UTC", year: int | None = None) -> DataFrame:
    """Parse candidate lines into event fields, or a dead-letter reason.

    Adds ``status`` (``event``, ``not_event`` or ``dead_letter``), ``reason``,
    ``event_time`` (UTC instant), ``host``, ``process``, ``pid``, ``service``, ``action``.
    Classic timestamps are local time in ``time_zone`` and get the latest year in which
    the date exists and the event falls at most one day after ``kafka_timestamp``,
    unless ``year`` is given.
    """
    text = F.make_valid_utf8(F.col("line").cast("string"))
    fields = F.split(F.regexp_replace(text, _HEADER, f"{_MARK}$1{_SEP}$2{_SEP}$3{_SEP}$4{_SEP}$5"), _SEP, 5)
    split = lines.select("*", fields.alias("_f"))
    matched = F.col("_f")[0].startswith(_MARK)
    stamp = F.substring(F.col("_f")[0], len(_MARK) + 1, 64)
    msg = F.col("_f")[4]

    rest_activated = F.regexp_replace(msg, _ACTIVATED_PREFIX, "")
    quoted = F.regexp_extract(rest_activated, r"service '([^']*)'", 1)
    action = (F.when(msg.startswith(STARTED), F.lit("STARTED"))
              .when(msg.rlike(_ACTIVATED_PREFIX), F.lit("ACTIVATED")))
    service = (F.when(action == "STARTED", F.regexp_replace(F.substring(msg, len(STARTED) + 1, 1 << 30), r"\.\z", ""))
               .when(rest_activated.rlike(r"service '[^']*'"), quoted)
               .otherwise(F.regexp_replace(rest_activated, r"\.\z", "")))
    event_time = _event_time(stamp, F.col("kafka_timestamp"), time_zone, year)

    parsed = split.select(
        *lines.columns,
        F.when(matched, stamp).alias("_stamp"),
        F.when(matched, event_time).alias("event_time"),
        F.when(matched, F.col("_f")[1]).alias("host"),
        F.when(matched, F.col("_f")[2]).alias("process"),
        F.when(matched & (F.col("_f")[3] != ""), F.col("_f")[3].cast("bigint")).alias("pid"),
        F.when(matched, action).alias("action"),
        F.when(matched, service).alias("service"),
    )
    reason = (F.when(F.col("_stamp").isNull(), F.lit(REASON_NO_HEADER))
              .when(F.col("event_time").isNull(), F.concat(F.lit(f"{REASON_BAD_TIME} '"), "_stamp", F.lit("'")))
              .when(F.col("action").isNotNull() & (F.col("service") == ""), F.lit(REASON_EMPTY_SERVICE)))
    status = (F.when(reason.isNotNull(), F.lit("dead_letter"))
              .when(F.col("action").isNull(), F.lit("not_event"))
              .otherwise(F.lit("event")))
    return parsed.select(*lines.columns, status.alias("status"), reason.alias("reason"), "event_time", "host",
                         "process", "pid", "service", "action")


def _event_time(stamp: Column, reference: Column, time_zone: str, year: int | None) -> Column:
    """The instant of a timestamp text: RFC 3339 keeps its offset; classic ones get a zone and a year."""
    rfc = F.try_to_timestamp(stamp, F.lit("yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]XXX"))
    parts = F.split(F.regexp_replace(stamp, r"[ :]+", " "), " ")
    month_at = F.instr(F.lit(_MONTHS), F.initcap(parts[0]))
    month = F.when((month_at > 0) & ((month_at - 1) % 3 == 0) & (F.length(parts[0]) == 3), (month_at + 2) / 3)
    day, hour, minute, second = (parts[i].cast("int") for i in range(1, 5))
    tz = F.lit(time_zone)

    def at(y: Column) -> Column:
        return F.try_make_timestamp(y, month.cast("int"), day, hour, minute, second.cast("decimal(8,6)"), tz)

    if year is not None:
        classic = at(F.lit(year))
    else:
        # The latest year, from next year back, in which the date exists and is at most a day after the
        # reference; Feb 29 may need up to eight years back, anything else finds its year in two tries.
        latest = reference + F.expr("INTERVAL 1 DAY")
        ref_year = F.year(F.from_utc_timestamp(reference, time_zone))
        tries = F.transform(F.sequence(ref_year + 1, ref_year - 8, F.lit(-1)), at)
        classic = F.get(F.filter(tries, lambda t: t <= latest), 0)
    return F.when(stamp.rlike(r"^\d{4}-"), rfc).otherwise(classic)


def events(parsed: DataFrame) -> DataFrame:
    """The process start events of ``parse_lines``' output, with their origin."""
    return parsed.where(F.col("status") == "event").select(
        "event_time", "host", "process", "pid", "service", "action", "source", "file", "line_offset",
        "kafka_topic", "kafka_partition", "kafka_offset",
    )


def dead_letters(parsed: DataFrame) -> DataFrame:
    """The candidates that could not be parsed: the raw line, the reason and where it came from."""
    return parsed.where(F.col("status") == "dead_letter").select(
        "line", "reason", "source", "file", "line_offset", "kafka_topic", "kafka_partition", "kafka_offset",
    )
