"""The parsing rules for process start events, as DataFrame -> DataFrame functions.

Pure: no session, environment, files or clock; the streaming transform job, the
tests and the audit all call these same functions.

    raw Kafka records --candidate_lines--> candidate lines with origins --parse_lines--> parsed
    parsed --events--> process start events          parsed --dead_letters--> unparseable candidates

A record's value is one syslog line or a newline-joined run of lines, byte for
byte as in the file (see shipper/records.py). A line's origin is the shipper's
``(kos.source, kos.file, kos.offset + byte position)``; a record without those
headers (typed into kafka-console-producer, say) gets ``("", "kafka:TOPIC:PARTITION:OFFSET", position)``.
Columns are named as the event row names them (kos/event.py).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs import java_functions
from kos import event, headers

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

# A line can only be an event if it contains one of these (the candidate search looks for them, jobs/java).
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
# A time protobuf's Timestamp cannot hold (an RFC 3339 stamp such as 9999-12-31T23:59:59-12:00 is in year 10000).
REASON_TIME_RANGE = "timestamp outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z"
_TIME_RANGE_MICROS = (-62_135_596_800_000_000, 253_402_300_799_999_999)
# What parse_lines says of each candidate line (its ``status`` column).
STATUSES = ("event", "not_event", "dead_letter")

__all__ = ["RAW_SCHEMA", "STATUSES", "candidate_lines", "dead_letters", "events", "parse_lines"]


def _header(records: DataFrame, name: str) -> Column:
    """The value of a Kafka header as text (null when absent: ``get``, unlike ``element_at``, gives null past the
    end of the array, so records with other producers' headers or none at all pass)."""
    return F.make_valid_utf8(F.get(F.filter(records["headers"], lambda h: h["key"] == F.lit(name)), 0)["value"]
                             .cast("string"))


def candidate_lines(records: DataFrame) -> DataFrame:
    r"""One row per candidate line of raw Kafka records (a line holding ``Started `` or ``Successfully activated``),
    with the line's origin and the record it came in.

    Parameters
    ----------
    records : DataFrame
        The Kafka source's columns: ``value`` (one line or a newline-joined run of lines, byte for byte as
        in the file), ``headers`` (the shipper's ``kos.*`` origin, or anything else), ``topic``,
        ``partition``, ``offset``, ``timestamp``.

    Returns
    -------
    DataFrame
        ``origin_source``, ``origin_file``, ``origin_offset`` (the byte offset of the line in its file),
        ``line`` (its bytes, without the newline), ``kafka_topic``, ``kafka_partition``, ``kafka_offset``,
        ``raw_timestamp``: the event row's names (kos/event.py).

    Notes
    -----
    A record whose shipper headers are missing or unusable (no ``kos.file``, an offset that is not a
    number) is taken as one of another producer: its origin is ``("", "kafka:TOPIC:PARTITION:OFFSET",
    position in the value)``. Lines without a marker never leave this function. The search runs in the JVM
    (``kos.parsing.CandidateLines``, jobs/java): byte for byte, whatever the bytes.

    Examples
    --------
    >>> from datetime import datetime
    >>> records = spark.createDataFrame([(
    ...     bytearray(b"Feb 24 20:29:40 dell kernel: noise\nFeb 24 20:29:42 dell systemd[1]: Started Locale Service."),
    ...     [("kos.source", b"dell"), ("kos.file", b"fe01-42-1024-abcd-0"), ("kos.offset", b"100")],
    ...     "kos-raw-os-log", 0, 7, datetime(2026, 2, 25))], RAW_SCHEMA)
    >>> row = candidate_lines(records).collect()[0]
    >>> row.origin_source, row.origin_file, row.origin_offset
    ('dell', 'fe01-42-1024-abcd-0', 135)
    >>> bytes(row.line)
    b'Feb 24 20:29:42 dell systemd[1]: Started Locale Service.'
    """
    given = _header(records, headers.OFFSET)
    offset = F.when(given.rlike(r"^[0-9]{1,18}$"), given.cast("bigint"))
    has_origin = _header(records, headers.FILE).isNotNull() & offset.isNotNull()
    found = records.select(
        F.when(has_origin, F.coalesce(_header(records, headers.SOURCE), F.lit(""))).otherwise(F.lit(""))
        .alias("origin_source"),
        F.when(has_origin, _header(records, headers.FILE))
        .otherwise(F.format_string("kafka:%s:%d:%d", "topic", "partition", "offset")).alias("origin_file"),
        F.when(has_origin, offset).otherwise(F.lit(0)).alias("base_offset"),
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("raw_timestamp"),
        "value",
    ).select("*", F.explode(java_functions.candidate_lines(F.col("value"))).alias("candidate"))
    return found.select(
        "origin_source",
        "origin_file",
        (F.col("base_offset") + F.col("candidate.at")).alias("origin_offset"),
        F.col("candidate.line").alias("line"),
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        "raw_timestamp",
    )


def parse_lines(lines: DataFrame, time_zone: str = "UTC", year: int | None = None) -> DataFrame:
    """Parse candidate lines (``candidate_lines``' output) into event fields, or a dead-letter reason.

    Parameters
    ----------
    lines : DataFrame
        ``candidate_lines``' columns.
    time_zone : str, default "UTC"
        The zone of classic timestamps (``Feb 24 20:29:42``), which carry none.
    year : int, optional
        The year of classic timestamps. Without it, the year rule: the latest year in which the date exists
        and the event falls at most one day after ``raw_timestamp`` (when the line was read).

    Returns
    -------
    DataFrame
        The input's columns and ``status`` (``event``, ``not_event`` or ``dead_letter``), ``reason`` (why a
        dead letter is one), ``event_time`` (a UTC instant), ``host``, ``process``, ``pid``, ``service`` and
        ``action`` (``STARTED`` or ``ACTIVATED``).

    Notes
    -----
    ``TIMESTAMP HOST TAG[PID]: MESSAGE`` with an RFC 3339 or a classic timestamp; a candidate without that
    prefix, with a time that does not exist, or naming an empty service is a dead letter; one whose message
    is neither ``Started ...`` nor ``Successfully activated ...`` is ``not_event``.

    Built in steps, each naming what the next uses more than once: Spark keeps such columns
    instead of repeating their regular expressions wherever they are used (within a CASE, it
    would evaluate them again for every branch that refers to them).

    Examples
    --------
    >>> from datetime import datetime
    >>> lines = spark.createDataFrame([
    ...     (b"Feb 24 20:29:42 dell systemd[1]: Started Locale Service.", datetime(2026, 2, 25)),
    ...     (b"2026-05-01T08:00:00.5+02:00 vm dbus-daemon[838]: [system] Successfully activated service "
    ...      b"'org.freedesktop.hostname1'", datetime(2026, 5, 1)),
    ...     (b"Feb 30 20:29:42 dell systemd[1]: Started Nothing.", datetime(2026, 2, 25))],
    ...     "line binary, raw_timestamp timestamp")
    >>> for row in parse_lines(lines).collect():
    ...     print(row.status, row.event_time, row.host, row.pid, repr(row.service), row.reason)
    event 2026-02-24 20:29:42 dell 1 'Locale Service' None
    event 2026-05-01 06:00:00.500000 vm 838 'org.freedesktop.hostname1' None
    dead_letter None dell 1 'Nothing' invalid timestamp 'Feb 30 20:29:42'
    """
    text = F.make_valid_utf8(F.col("line").cast("string"))
    fields = F.split(F.regexp_replace(text, _HEADER, f"{_MARK}$1{_SEP}$2{_SEP}$3{_SEP}$4{_SEP}$5"), _SEP, 5)
    f = F.col("_f")
    matched = f[0].startswith(_MARK)
    headed = lines.select("*", fields.alias("_f")).select(
        *lines.columns,
        F.when(matched, F.substring(f[0], len(_MARK) + 1, 64)).alias("_stamp"),
        F.when(matched, f[4]).alias("_msg"),
        F.when(matched, f[1]).alias("host"),
        F.when(matched, f[2]).alias("process"),
        F.when(matched & (f[3] != ""), f[3].cast("bigint")).alias("pid"),
    )
    msg = F.col("_msg")
    clocked = headed.select(
        "*",
        F.split(F.regexp_replace("_stamp", r"[ :]+", " "), " ").alias("_parts"),
        F.regexp_replace(msg, _ACTIVATED_PREFIX, "").alias("_rest"),
        F.when(msg.startswith(STARTED), F.lit("STARTED")).when(msg.rlike(_ACTIVATED_PREFIX), F.lit("ACTIVATED"))
        .alias("action"),
    )
    parts = F.col("_parts")
    month_at = F.instr(F.lit(_MONTHS), F.initcap(F.get(parts, 0)))
    timed = clocked.select(
        "*",
        F.when((month_at > 0) & ((month_at - 1) % 3 == 0) & (F.length(F.get(parts, 0)) == 3), (month_at + 2) / 3)
        .cast("int").alias("_month"),
        # For every line, RFC 3339 ones too (whose fields are not these): get and try_cast, never an error.
        *(F.get(parts, i).try_cast("int").alias(name)
          for i, name in enumerate(("_day", "_hour", "_minute", "_second"), 1)),
        # The year rule's reference: the year the record was read in, in the zone, and a day after it was read.
        F.year(F.from_utc_timestamp("raw_timestamp", time_zone)).alias("_read_year"),
        (F.col("raw_timestamp") + F.expr("INTERVAL 1 DAY")).alias("_latest"),
    )
    rest = F.col("_rest")
    service = (F.when(F.col("action") == "STARTED",
                      F.regexp_replace(F.substring(msg, len(STARTED) + 1, 1 << 30), r"\.\z", ""))
               .when(rest.rlike(r"service '[^']*'"), F.regexp_extract(rest, r"service '([^']*)'", 1))
               .otherwise(F.regexp_replace(rest, r"\.\z", "")))
    parsed = timed.select(
        *lines.columns, "_stamp", "host", "process", "pid", "action",
        F.when(F.col("action").isNotNull(), service).alias("service"),
        _event_time(F.col("_stamp"), time_zone, year).alias("_instant"),
    )
    instant = F.col("_instant")
    in_range = instant.between(*(F.timestamp_micros(F.lit(m)) for m in _TIME_RANGE_MICROS))
    reason = (F.when(F.col("_stamp").isNull(), F.lit(REASON_NO_HEADER))
              .when(instant.isNull(), F.concat(F.lit(f"{REASON_BAD_TIME} '"), "_stamp", F.lit("'")))
              .when(~in_range, F.concat(F.lit(f"{REASON_TIME_RANGE} '"), "_stamp", F.lit("'")))
              .when(F.col("action").isNotNull() & (F.col("service") == ""), F.lit(REASON_EMPTY_SERVICE)))
    judged = parsed.select("*", F.when(in_range, instant).alias("event_time"), reason.alias("reason"))
    status = (F.when(F.col("reason").isNotNull(), F.lit("dead_letter"))
              .when(F.col("action").isNull(), F.lit("not_event"))
              .otherwise(F.lit("event")))
    return judged.select(*lines.columns, status.alias("status"), "reason", "event_time", "host", "process", "pid",
                         "service", "action")


def _event_time(stamp: Column, time_zone: str, year: int | None) -> Column:
    """The instant of a timestamp text: RFC 3339 keeps its offset; classic ones (their fields in ``_month``,
    ``_day``, ``_hour``, ``_minute``, ``_second``) get a zone and a year (the rule's reference in ``_read_year`` and
    ``_latest``)."""
    rfc = F.try_to_timestamp(stamp, F.lit("yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]XXX"))
    tz = F.lit(time_zone)

    def at(y: Column) -> Column:
        return F.try_make_timestamp(y, F.col("_month"), F.col("_day"), F.col("_hour"), F.col("_minute"),
                                    F.col("_second").cast("decimal(8,6)"), tz)

    if year is not None:
        classic = at(F.lit(year))
    else:
        # The latest year, from next year back, in which the date exists and is at most a day after the
        # reference; Feb 29 may need up to eight years back, anything else finds its year in two tries
        # (coalesce stops at the first that does).
        read_year, latest = F.col("_read_year"), F.col("_latest")
        classic = F.coalesce(*(F.when(at(read_year + k) <= latest, at(read_year + k)) for k in range(1, -9, -1)))
    return F.when(stamp.rlike(r"^\d{4}-"), rfc).otherwise(classic)


def events(parsed: DataFrame) -> DataFrame:
    """The process start events of ``parse_lines``' output, with their origin."""
    return parsed.where(F.col("status") == "event").select(*event.NAMES)


def dead_letters(parsed: DataFrame) -> DataFrame:
    """The candidates that could not be parsed: the raw line, the reason and where it came from."""
    return parsed.where(F.col("status") == "dead_letter").select("line", "reason", *event.ORIGIN, *event.RAW)
