"""The event row: one process start event as MySQL's ``process_events`` stores it, and where each column comes from.

Every stage calls an event's fields by these column names: jobs/parsing.py gives its output these
names, jobs/messages.py nests them into a ``kos.v1.ProcessEvent`` by each column's ``field`` (``origin.source``
is ``Origin.source`` of the event) and flattens a decoded one back, the load's sink writes them, the audit
reads them. ``storage/schema.sql`` declares the table; a test holds the two equal.

    parsed line ──(names)──▶ ProcessEvent (fields) ──▶ process_events (names)

No Spark, no MySQL here: the shipper and the tools import this package too.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EVENT_COLUMNS", "FIELDS", "NAMES", "ORIGIN", "RAW", "Column", "column"]


@dataclass(frozen=True)
class Column:
    name: str  # the column of process_events
    kind: str  # "timestamp", "string", "bigint" or "int"
    field: str  # where a kos.v1.ProcessEvent holds it: a field, or message.field
    width: int = 0  # VARCHAR width (0: not text); a longer value is cut to fit
    nullable: bool = False


EVENT_COLUMNS = (
    Column("event_time", "timestamp", "event_time"),
    Column("host", "string", "host", 255),
    # The syslog tag: the process or daemon that logged the line.
    Column("process", "string", "process", 255),
    Column("pid", "bigint", "pid", nullable=True),
    Column("service", "string", "service", 1024),
    Column("action", "string", "action"),  # STARTED or ACTIVATED
    # The line's origin, the table's unique key: the machine (the shipper's source id), the file's identity
    # (device, inode, fingerprint, truncation generation) and the byte offset of the line in that file.
    Column("origin_source", "string", "origin.source", 255),
    Column("origin_file", "string", "origin.file", 255),
    Column("origin_offset", "bigint", "origin.offset"),
    # The raw Kafka record the line came in; its timestamp is the year rule's reference for a classic time.
    Column("kafka_topic", "string", "raw.topic", 255),
    Column("kafka_partition", "int", "raw.partition"),
    Column("kafka_offset", "bigint", "raw.offset"),
    Column("raw_timestamp", "timestamp", "raw.timestamp", nullable=True),
)

NAMES = tuple(c.name for c in EVENT_COLUMNS)
# What the line says: the parsed fields.
FIELDS = ("event_time", "host", "process", "pid", "service", "action")
# Where the line was read: the unique key of process_events.
ORIGIN = ("origin_source", "origin_file", "origin_offset")
# The raw record's position and time.
RAW = ("kafka_topic", "kafka_partition", "kafka_offset", "raw_timestamp")


def column(name: str) -> Column:
    """The column called ``name``."""
    return next(c for c in EVENT_COLUMNS if c.name == name)
