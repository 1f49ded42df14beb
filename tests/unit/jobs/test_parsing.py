"""The parsing spec, row by row, on a local SparkSession against the functions the jobs use."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobs.parsing import RAW_SCHEMA, candidate_lines, dead_letters, events, parse_lines

READ_AT = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


def record(value: bytes, offset: int = 0, file_offset: int | None = 0, read_at: datetime = READ_AT):
    headers = None if file_offset is None else [
        ("kos.source", b"host-a"), ("kos.path", b"/var/log/syslog"), ("kos.file", b"fe01-42-1024-abcd-0"),
        ("kos.offset", str(file_offset).encode())]
    return (bytearray(value), headers, "kos-raw-os-log", 0, offset, read_at.replace(tzinfo=None))


def parse(spark, *records, time_zone="UTC", year=None):
    raw = spark.createDataFrame(list(records), RAW_SCHEMA)
    return parse_lines(candidate_lines(raw), time_zone=time_zone, year=year)


def one(spark, line: str, **kw):
    rows = parse(spark, record(line.encode()), **kw).collect()
    assert len(rows) <= 1
    return rows[0] if rows else None


def utc(*args) -> datetime:
    return datetime(*args)  # the session time zone is UTC, so collected timestamps are naive UTC


@pytest.mark.parametrize(("line", "expected"), [
    ("Feb 24 20:29:42 dell-Inspiron-15-3567 systemd[1]: Started Locale Service.",
     ("STARTED", "dell-Inspiron-15-3567", "systemd", 1, "Locale Service", utc(2026, 2, 24, 20, 29, 42))),
    ("May  3 13:39:55 user systemd[1]: Started Clean php session files.",
     ("STARTED", "user", "systemd", 1, "Clean php session files", utc(2026, 5, 3, 13, 39, 55))),
    ("Sep 28 12:27:14 vm-alarm dbus-daemon[838]: [system] Successfully activated service 'org.freedesktop.hostname1'",
     ("ACTIVATED", "vm-alarm", "dbus-daemon", 838, "org.freedesktop.hostname1", utc(2026, 9, 28, 12, 27, 14))),
    ("Sep 28 12:28:05 vm-alarm dbus-daemon[1526]: [session uid=1000 pid=1526] Successfully activated service "
     "'org.gtk.vfs.Metadata'",
     ("ACTIVATED", "vm-alarm", "dbus-daemon", 1526, "org.gtk.vfs.Metadata", utc(2026, 9, 28, 12, 28, 5))),
    ("2020-05-31T00:00:46.599903+02:00 localhost systemd[1]: Started ssh.service - OpenBSD Secure Shell server.",
     ("STARTED", "localhost", "systemd", 1, "ssh.service - OpenBSD Secure Shell server",
      utc(2020, 5, 30, 22, 0, 46, 599903))),
    ("Mar 15 04:42:16 host.lab.example.com systemd: Started Hardware RNG Entropy Gatherer Daemon.",
     ("STARTED", "host.lab.example.com", "systemd", None, "Hardware RNG Entropy Gatherer Daemon",
      utc(2026, 3, 15, 4, 42, 16))),
    ("Jun  1 08:00:00 box /usr/lib/gdm-x-session[977]: Started Session Bus.",
     ("STARTED", "box", "/usr/lib/gdm-x-session", 977, "Session Bus", utc(2026, 6, 1, 8, 0, 0))),
    ("Jun  1 08:00:00 box systemd[1]: Started a\x01b\rc\u2028d.",
     ("STARTED", "box", "systemd", 1, "a\x01b\rc\u2028d", utc(2026, 6, 1, 8, 0, 0))),
    ("Jun  1 08:00:00 box dbus-daemon[5]: Successfully activated org.example.Thing.",
     ("ACTIVATED", "box", "dbus-daemon", 5, "org.example.Thing", utc(2026, 6, 1, 8, 0, 0))),
])
def test_events_of_the_spec(spark, line, expected):
    row = one(spark, line)
    assert row.status == "event" and row.reason is None
    assert (row.action, row.host, row.process, row.pid, row.service, row.event_time) == expected


@pytest.mark.parametrize("line", [
    "Sep 28 12:27:10 vm-alarm kernel: [   11.183765] systemd[1]: Started Journal Service.",
    "Sep 28 12:28:02 vm-alarm systemd[1477]: message repeated 8 times: [ Started Application launched by "
    "gnome-session-binary.]",
    "Jun  9 06:06:20 combo sshd(pam_unix)[19939]: authentication failure; Started nothing",
])
def test_candidates_that_are_not_events(spark, line):
    assert one(spark, line).status == "not_event"


def test_lines_that_are_not_candidates_never_reach_the_parser(spark):
    assert one(spark, "Sep 28 12:27:10 vm-alarm systemd[1]: Starting Locale Service...") is None


@pytest.mark.parametrize(("line", "reason"), [
    ("Feb 30 25:61:00 h systemd[1]: Started X.", "invalid timestamp 'Feb 30 25:61:00'"),
    ("Foo 12 10:00:00 h systemd[1]: Started X.", "invalid timestamp 'Foo 12 10:00:00'"),
    ("Started without any header", "no 'TIMESTAMP HOST TAG:' prefix"),
    ("Feb 24 20:29:42 host systemd[1] Started X.", "no 'TIMESTAMP HOST TAG:' prefix"),
    ("Feb 24 20:29:42 host systemd[1]: Started .", "empty service name"),
    ("Feb 24 20:29:42 ho\x01st systemd[1]: Started X.", "no 'TIMESTAMP HOST TAG:' prefix"),
    ("Feb 24 20:29:42 host dbus-daemon[2]: [system] Successfully activated service ''", "empty service name"),
    # Valid RFC 3339 whose instant protobuf's Timestamp cannot hold (10000-01-01T11:59:59Z, 0000-12-31T11:00:00Z).
    ("9999-12-31T23:59:59-12:00 h systemd[1]: Started X.",
     "timestamp outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z '9999-12-31T23:59:59-12:00'"),
    ("0001-01-01T00:00:00+13:00 h systemd[1]: Started X.",
     "timestamp outside 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z '0001-01-01T00:00:00+13:00'"),
])
def test_dead_letters_carry_the_reason(spark, line, reason):
    row = one(spark, line)
    assert (row.status, row.reason) == ("dead_letter", reason)


@pytest.mark.parametrize(("stamp", "read_at", "expected"), [
    ("Dec 31 23:59:58", datetime(2027, 1, 1, 0, 0, 3, tzinfo=UTC), utc(2026, 12, 31, 23, 59, 58)),
    ("Jan  1 00:00:05", datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC), utc(2027, 1, 1, 0, 0, 5)),
    ("Feb 29 12:00:00", datetime(2026, 11, 28, tzinfo=UTC), utc(2024, 2, 29, 12, 0, 0)),
    ("Feb 29 12:00:00", datetime(2028, 3, 1, tzinfo=UTC), utc(2028, 2, 29, 12, 0, 0)),
    ("Nov 29 11:00:00", datetime(2026, 11, 28, 12, 0, tzinfo=UTC), utc(2026, 11, 29, 11, 0, 0)),
    ("Nov 29 13:00:00", datetime(2026, 11, 28, 12, 0, tzinfo=UTC), utc(2025, 11, 29, 13, 0, 0)),
])
def test_year_rule(spark, stamp, read_at, expected):
    raw = record(f"{stamp} h systemd[1]: Started X.".encode(), read_at=read_at)
    row = parse(spark, raw).collect()[0]
    assert row.event_time == expected


def test_explicit_year_overrides_the_rule(spark):
    assert one(spark, "Feb 24 20:29:42 h systemd[1]: Started X.", year=2019).event_time == utc(2019, 2, 24, 20, 29, 42)


def test_classic_timestamps_are_local_time_in_the_configured_zone(spark):
    summer = one(spark, "Jul  1 12:00:00 h systemd[1]: Started X.", time_zone="Europe/Berlin")
    winter = one(spark, "Jan 15 12:00:00 h systemd[1]: Started X.", time_zone="America/New_York")
    assert summer.event_time == utc(2026, 7, 1, 10, 0, 0)
    assert winter.event_time == utc(2026, 1, 15, 17, 0, 0)
    # RFC 3339 carries its own offset; the zone does not apply.
    rfc = one(spark, "2020-05-31T00:00:46Z h systemd[1]: Started X.", time_zone="Asia/Tokyo")
    assert rfc.event_time == utc(2020, 5, 31, 0, 0, 46)


def test_multi_line_records_give_each_line_its_file_offset(spark):
    lines = [b"Feb 24 20:29:42 h cron[9]: noise",
             b"Feb 24 20:29:43 h systemd[1]: Started One.",
             b"Feb 24 20:29:44 h kernel: \xff\xfe invalid utf-8",
             b"Feb 24 20:29:45 h systemd[1]: Started Two."]
    value = b"\n".join(lines)
    parsed = parse(spark, record(value, file_offset=5000))
    got = sorted((r.origin_offset, r.service, bytes(r.line)) for r in events(parsed).join(
        parsed.select("origin_offset", "line"), "origin_offset").collect())
    start_one = 5000 + len(lines[0]) + 1
    start_two = start_one + len(lines[1]) + 1 + len(lines[2]) + 1
    assert got == [(start_one, "One", lines[1]), (start_two, "Two", lines[3])]
    assert value[start_two - 5000:].startswith(lines[3])


def test_records_without_shipper_headers_get_a_kafka_origin(spark):
    raw = record(b"x\nFeb 24 20:29:43 h systemd[1]: Started Typed By Hand.", offset=77, file_offset=None)
    row = events(parse(spark, raw)).collect()[0]
    assert (row.origin_source, row.origin_file, row.origin_offset) == ("", "kafka:kos-raw-os-log:0:77", 2)


def test_dead_letters_keep_the_raw_bytes(spark):
    raw = b"Feb 30 25:61:00 h systemd[1]: Started \xff bad."
    row = dead_letters(parse(spark, record(raw, file_offset=10))).collect()[0]
    assert (bytes(row.line), row.origin_offset, row.origin_source) == (raw, 10, "host-a")


def test_invalid_utf8_in_a_service_is_replaced_not_fatal(spark):
    row = parse(spark, record(b"Feb 24 20:29:42 h systemd[1]: Started caf\xe9 \xff.")).collect()[0]
    assert (row.status, row.service) == ("event", "caf\ufffd \ufffd")


@pytest.mark.parametrize("headers", [
    [("content-type", b"text/plain")],  # kcat -H, Vector, Fluent Bit: headers, none of them the shipper's
    [],
    [("kos.file", b"fe01-1-1024-abcd-0")],  # half of the shipper's headers
    [("kos.file", b"fe01-1-1024-abcd-0"), ("kos.offset", b"not a number"), ("kos.source", b"x")],
    [("kos.file", b"fe01-1-1024-abcd-0"), ("kos.offset", b"-5")],
])
def test_records_of_other_producers_parse_like_headerless_ones(spark, headers):
    raw = (bytearray(b"Feb 24 20:29:43 h systemd[1]: Started By Another Producer."), headers, "kos-raw-os-log", 2, 41,
           READ_AT.replace(tzinfo=None))
    row = events(parse(spark, raw)).collect()[0]
    assert (row.origin_source, row.origin_file, row.origin_offset, row.service) == (
        "", "kafka:kos-raw-os-log:2:41", 0, "By Another Producer")
