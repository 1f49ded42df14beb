"""The metrics as pure functions on a local SparkSession: exact rankings and bucket counts."""

from __future__ import annotations

from datetime import datetime

import pytest

from jobs.aggregations import starts_per_bucket, top_processes, top_services

ROWS = [
    (datetime(2026, 3, 1, 10, 0, 5), "web", "systemd", "Locale Service"),
    (datetime(2026, 3, 1, 10, 0, 50), "web", "systemd", "Locale Service"),
    (datetime(2026, 3, 1, 10, 1, 0), "db", "systemd", "Hostname Service"),
    (datetime(2026, 3, 1, 10, 1, 30), "db", "dbus-daemon", "org.freedesktop.hostname1"),
    (datetime(2026, 3, 1, 11, 0, 0), "web", "dbus-daemon", "Locale Service"),
    (datetime(2026, 3, 2, 0, 0, 0), "web", "cron", "Hostname Service"),
]


@pytest.fixture(scope="module")
def events(spark):
    return spark.createDataFrame(ROWS, "event_time timestamp, host string, process string, service string")


def test_top_services_ranked_by_count_then_name(events):
    assert [tuple(r) for r in top_services(events, 10).collect()] == [
        (1, "Locale Service", 3), (2, "Hostname Service", 2), (3, "org.freedesktop.hostname1", 1)]
    assert [tuple(r) for r in top_services(events, 1).collect()] == [(1, "Locale Service", 3)]


def test_top_processes(events):
    assert [tuple(r) for r in top_processes(events, 10).collect()] == [
        (1, "systemd", 3), (2, "dbus-daemon", 2), (3, "cron", 1)]


def test_starts_per_minute_per_host_and_total(events):
    assert [tuple(r) for r in starts_per_bucket(events, "minute").collect()] == [
        (datetime(2026, 3, 1, 10, 0), "", 2), (datetime(2026, 3, 1, 10, 0), "web", 2),
        (datetime(2026, 3, 1, 10, 1), "", 2), (datetime(2026, 3, 1, 10, 1), "db", 2),
        (datetime(2026, 3, 1, 11, 0), "", 1), (datetime(2026, 3, 1, 11, 0), "web", 1),
        (datetime(2026, 3, 2, 0, 0), "", 1), (datetime(2026, 3, 2, 0, 0), "web", 1),
    ]


def test_starts_per_hour_and_day(events):
    hours = [tuple(r) for r in starts_per_bucket(events, "hour").collect() if r.host == ""]
    assert hours == [(datetime(2026, 3, 1, 10), "", 4), (datetime(2026, 3, 1, 11), "", 1),
                     (datetime(2026, 3, 2, 0), "", 1)]
    days = [tuple(r) for r in starts_per_bucket(events, "day").collect()]
    assert days == [(datetime(2026, 3, 1), "", 5), (datetime(2026, 3, 1), "db", 2), (datetime(2026, 3, 1), "web", 3),
                    (datetime(2026, 3, 2), "", 1), (datetime(2026, 3, 2), "web", 1)]


def test_unknown_bucket_is_rejected(events):
    with pytest.raises(ValueError, match="bucket must be one of minute, hour, day"):
        starts_per_bucket(events, "week")
