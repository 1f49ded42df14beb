"""The transform's work in one plain Python process: the yardstick bench/transform.py holds jobs/transform.py to.

    python bench/transform_one_process.py RAW PARSED DEAD_LETTER [--time-zone UTC] [--year Y]

Reads every record of RAW (kafka-python), finds the candidate lines, parses them by the rules of
jobs/parsing.py written out again in plain Python (same header regex, RFC 3339 and classic times,
time zone and year rule, services, dead-letter reasons, origins of records with and without the
shipper's headers), encodes ``kos.v1.ProcessEvent`` / ``kos.v1.DeadLetter`` with the upb runtime and
produces them with the job's keys and ``kos.type`` header to PARSED and DEAD_LETTER, acknowledged
(acks=all, the Java producer's defaults: no compression, linger 5 ms). Prints one JSON line: the
records read, lines, events, dead letters, and the seconds from the first record read to the last
record acknowledged.

Written apart from the job on purpose (lines split one by one, Python's ``re`` and ``zoneinfo``):
bench/transform.py compares the records both write, so a rule that differs shows as a difference.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from kos import config as kos_config
from kos.kafka_client import python_settings
from kosproto.descriptors import message_class

# Java's \s and \d: ASCII only (Python's would take any Unicode space or digit).
_WS = r"[ \t\n\x0b\f\r]"
_NOT_WS = r"[^ \t\n\x0b\f\r"
_RFC3339 = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
_CLASSIC = r"[A-Za-z]{3} {1,2}[0-9]{1,2} [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}"
HEADER = re.compile(rf"^({_RFC3339}|{_CLASSIC}) +({_NOT_WS}\x01]+) +({_NOT_WS}\[:\x01]+)"
                    r"(?:\[([0-9]{1,10})\])?: ?(.*)$", re.S)
ACTIVATED = re.compile(r"^(?:\[system\] |\[session uid=[0-9]+ pid=[0-9]+\] )?Successfully activated ", re.S)
QUOTED_SERVICE = re.compile(r"service '([^']*)'")
RFC = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?"
                 r"(Z|([+-])([0-9]{2}):([0-9]{2}))")
MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
OUT_OF_RANGE = datetime.min.replace(tzinfo=UTC)  # a stamp whose instant Python's (and protobuf's) range lacks
PROCESS_EVENT, DEAD_LETTER = "kos.v1.ProcessEvent", "kos.v1.DeadLetter"


def rfc3339(stamp: str) -> datetime | None:
    m = RFC.fullmatch(stamp)
    if not m:
        return None
    year, month, day, hour, minute, second, fraction, zone, sign, zh, zm = m.groups()
    if zone == "Z":
        offset = timedelta(0)
    else:
        offset = (1 if sign == "+" else -1) * timedelta(hours=int(zh), minutes=int(zm))
        if int(zm) > 59 or abs(offset) > timedelta(hours=18):  # java.time.ZoneOffset's range
            return None
    try:
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                         int((fraction or "0").ljust(6, "0")))
    except ValueError:
        return None
    try:
        return (local - offset).replace(tzinfo=UTC)
    except OverflowError:  # beyond year 9999 or before year 1: protobuf's Timestamp cannot hold it
        return OUT_OF_RANGE


def classic(stamp: str, zone: ZoneInfo, year: int | None, read_at: datetime) -> datetime | None:
    month_name, day, hour, minute, second = re.split(r"[ :]+", stamp)
    month = MONTHS.get(month_name.capitalize())
    if month is None:
        return None

    def at(y: int) -> datetime | None:
        # make_timestamp's rule: second 60 is second 0 of the next minute.
        leap = int(second) == 60
        try:
            local = datetime(y, month, int(day), int(hour), int(minute), 0 if leap else int(second), tzinfo=zone)
        except ValueError:
            return None
        return (local + timedelta(minutes=1) if leap else local).astimezone(UTC)

    if year is not None:
        return at(year)
    # The year rule: the latest year, from the year after the record was read back, in which the date exists
    # and falls at most a day after the record was read.
    reference, latest = read_at.astimezone(zone).year, read_at + timedelta(days=1)
    for y in range(reference + 1, reference - 9, -1):
        moment = at(y)
        if moment is not None and moment <= latest:
            return moment
    return None


def parse(line: bytes, zone: ZoneInfo, year: int | None, read_at: datetime) -> tuple[str, dict]:
    """``("event", fields)``, ``("dead_letter", {"reason": ...})`` or ``("not_event", {})`` for a candidate line."""
    text = line.decode("utf-8", "replace")
    m = HEADER.match(text)
    if not m:
        return "dead_letter", {"reason": "no 'TIMESTAMP HOST TAG:' prefix"}
    stamp, host, process, pid, message = m.groups()
    moment = rfc3339(stamp) if stamp[:4].isdigit() else classic(stamp, zone, year, read_at)
    if moment is None:
        return "dead_letter", {"reason": f"invalid timestamp '{stamp}'"}
    if moment is OUT_OF_RANGE:
        return "dead_letter", {"reason": f"timestamp outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z "
                                         f"'{stamp}'"}
    if message.startswith("Started "):
        action, service = "STARTED", message[len("Started "):].removesuffix(".")
    elif ACTIVATED.match(message):
        rest = ACTIVATED.sub("", message, count=1)
        quoted = QUOTED_SERVICE.search(rest)
        action, service = "ACTIVATED", quoted.group(1) if quoted else rest.removesuffix(".")
    else:
        return "not_event", {}
    if service == "":
        return "dead_letter", {"reason": "empty service name"}
    return "event", {"event_time": moment, "host": host, "process": process,
                     "pid": int(pid) if pid else None, "service": service, "action": action}


def seconds_nanos(moment: datetime) -> dict[str, int]:
    delta = moment - EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return {"seconds": micros // 1_000_000, "nanos": micros % 1_000_000 * 1000}


def origin_of(record) -> tuple[str, str, int]:  # noqa: ANN001 - a kafka-python ConsumerRecord
    """The shipper's origin of a record's first line, or the record's own Kafka position for other producers."""
    def header(name: str) -> str | None:
        for key, value in record.headers:
            if key == name:
                return None if value is None else value.decode("utf-8", "replace")
        return None

    offset, file = header("kos.offset"), header("kos.file")
    if file is not None and offset is not None and re.fullmatch(r"[0-9]{1,18}", offset):
        return header("kos.source") or "", file, int(offset)
    return "", f"kafka:{record.topic}:{record.partition}:{record.offset}", 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("raw")
    parser.add_argument("parsed")
    parser.add_argument("dead_letter")
    parser.add_argument("--time-zone", default="UTC")
    parser.add_argument("--year", type=int)
    args = parser.parse_args()

    cfg = kos_config.load()
    descriptors = cfg.path(cfg.kafka.descriptor_set).read_bytes()
    event_cls, dead_cls = message_class(descriptors, PROCESS_EVENT), message_class(descriptors, DEAD_LETTER)
    zone = ZoneInfo(args.time_zone)
    settings = python_settings(cfg)
    consumer = KafkaConsumer(**settings, group_id=None, enable_auto_commit=False, fetch_max_bytes=64 * 1024 * 1024)
    producer = KafkaProducer(**settings, acks="all", linger_ms=5)
    parts = [TopicPartition(args.raw, p) for p in sorted(consumer.partitions_for_topic(args.raw))]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    end = consumer.end_offsets(parts)
    event_header, dead_header = [("kos.type", PROCESS_EVENT.encode())], [("kos.type", DEAD_LETTER.encode())]
    counts = {"records": 0, "lines": 0, "candidates": 0, "events": 0, "dead_letters": 0}
    first_read = None
    while any(consumer.position(p) < end[p] for p in parts):
        for _, records in consumer.poll(timeout_ms=1000).items():
            first_read = first_read or time.perf_counter()
            for record in records:
                counts["records"] += 1
                source, file, at = origin_of(record)
                read_at = datetime.fromtimestamp(record.timestamp / 1000, UTC)
                position = {"topic": record.topic, "partition": record.partition, "offset": record.offset,
                            "timestamp": seconds_nanos(read_at)}
                for line in record.value.split(b"\n"):
                    counts["lines"] += 1
                    line_at, at = at, at + len(line) + 1
                    if b"Started " not in line and b"Successfully activated" not in line:
                        continue
                    counts["candidates"] += 1
                    status, fields = parse(line, zone, args.year, read_at)
                    if status == "not_event":
                        continue
                    origin = {"source": source, "file": file, "offset": line_at}
                    key = f"{source}:{file}:{line_at}".encode()
                    if status == "event":
                        fields["event_time"] = seconds_nanos(fields["event_time"])
                        value = event_cls(**fields, origin=origin, raw=position).SerializeToString()
                        producer.send(args.parsed, key=key, value=value, headers=event_header)
                        counts["events"] += 1
                    else:
                        value = dead_cls(data=line, reason=fields["reason"], stage="transform", origin=origin,
                                         record=position).SerializeToString()
                        producer.send(args.dead_letter, key=key, value=value, headers=dead_header)
                        counts["dead_letters"] += 1
    producer.flush()
    last_acknowledged = time.perf_counter()
    producer.close()
    consumer.close()
    print(json.dumps({**counts, "seconds": last_acknowledged - (first_read or last_acknowledged)}))


if __name__ == "__main__":
    main()
