"""The metrics job as users run it (spark-submit) against MariaDB: exact tables, CSV files and charts; run again (in
this session's Spark), the period's rows are replaced."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import pytest

from jobs.recipes import MYSQL
from tests.support.events import event, store_events
from tests.support.submit import kos, spark_submit

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_metrics_over_a_period(spark, db, loader, tmp_path):
    rows = [
        event(datetime(2026, 3, 1, 10, 0, 5), "web", "systemd", "Locale Service", 1),
        event(datetime(2026, 3, 1, 10, 20, 0), "web", "systemd", "Locale Service", 2),
        event(datetime(2026, 3, 1, 10, 40, 0), "db", "dbus-daemon", "org.freedesktop.hostname1", 3),
        event(datetime(2026, 3, 1, 11, 5, 0), "db", "systemd", "<script>alert(1)</script>", 4),
        event(datetime(2026, 3, 1, 12, 0, 0), "web", "systemd", "outside the period", 5),
    ]
    store_events(db, rows)
    done = spark_submit("--packages", MYSQL, "jobs/metrics.py", "--from", "2026-03-01T10:00:00Z", "--to",
                        "2026-03-01T12:00:00Z", "--bucket", "hour", "--top", "5", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "4 start events from 2026-03-01 10:00:05 to 2026-03-01 11:05:00 (UTC)" in done.stdout

    with db.connect() as conn:
        cur = conn.cursor()
        cur.execute("SELECT period_start, period_end, `rank`, service, starts FROM metrics_top_services "
                    "ORDER BY `rank`")
        assert cur.fetchall() == [
            (datetime(2026, 3, 1, 10), datetime(2026, 3, 1, 12), 1, "Locale Service", 2),
            (datetime(2026, 3, 1, 10), datetime(2026, 3, 1, 12), 2, "<script>alert(1)</script>", 1),
            (datetime(2026, 3, 1, 10), datetime(2026, 3, 1, 12), 3, "org.freedesktop.hostname1", 1),
        ]
        cur.execute("SELECT `rank`, process, starts FROM metrics_top_processes ORDER BY `rank`")
        assert cur.fetchall() == [(1, "systemd", 3), (2, "dbus-daemon", 1)]
        cur.execute("SELECT bucket, bucket_start, host, starts FROM metrics_starts_per_bucket "
                    "ORDER BY bucket_start, host")
        assert cur.fetchall() == [
            ("hour", datetime(2026, 3, 1, 10), "", 3), ("hour", datetime(2026, 3, 1, 10), "db", 1),
            ("hour", datetime(2026, 3, 1, 10), "web", 2), ("hour", datetime(2026, 3, 1, 11), "", 1),
            ("hour", datetime(2026, 3, 1, 11), "db", 1),
        ]

    with open(tmp_path / "top_processes.csv") as f:
        assert list(csv.reader(f)) == [["rank", "process", "starts"], ["1", "systemd", "3"], ["2", "dbus-daemon", "1"]]
    for chart in ("top_services.png", "top_processes.png", "starts_over_time.png", "starts_heat_map.png"):
        data = (tmp_path / chart).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    page = (tmp_path / "report.html").read_text()
    assert "<td class=\"text\">&lt;script&gt;alert(1)&lt;/script&gt;</td>" in page and "<script" not in page

    # The report step rebuilds the same report from the tables alone.
    rebuilt = kos("report", "--from", "2026-03-01T10:00:00Z", "--to", "2026-03-01T12:00:00Z", "--bucket", "hour",
                  "--out", str(tmp_path / "again"))
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert (tmp_path / "again" / "report.html").read_text() == page
    for table in ("top_services.csv", "top_processes.csv", "starts_per_hour.csv"):
        assert (tmp_path / "again" / table).read_text() == (tmp_path / table).read_text()
    missing = kos("report", "--from", "2020-01-01T00:00:00Z", "--to", "2020-01-02T00:00:00Z")
    assert (missing.returncode, missing.stderr) == (
        1, "kos report: no metrics run for 2020-01-01T00:00:00Z to 2020-01-02T00:00:00Z by minute: "
           "run jobs/metrics.py first\n")

    # Run again: the period's rows are replaced, not added.
    from jobs import metrics

    assert metrics.main(["--from", "2026-03-01T10:00:00Z", "--to", "2026-03-01T12:00:00Z", "--bucket", "hour",
                         "--top", "5", "--tables-only"]) == 0
    with db.connect() as conn:
        cur = conn.cursor()
        cur.execute("SELECT COUNT(*) FROM metrics_top_services")
        assert cur.fetchone() == (3,)


def test_store_replaces_the_period_in_chunks(db):
    from storage.metrics_tables import Period, Results, fetch, parse_instant, store

    period = Period(parse_instant("2026-03-01T00:00:00Z"), parse_instant("2026-03-02T00:00:00Z"))
    buckets = [(datetime(2026, 3, 1, 0, m), "", m + 1) for m in range(7)]
    results = Results(period, "minute", 2, 28, datetime(2026, 3, 1), datetime(2026, 3, 1, 0, 6),
                      [(1, "a", 20), (2, "b", 8)], [(1, "systemd", 28)], buckets,
                      datetime(2026, 3, 2, 0, 0, 1, 250000, tzinfo=UTC))
    store(db, results, chunk=3)
    store(db, results, chunk=2)  # a second run of the same period replaces, never adds
    with db.connect() as conn:
        cur = conn.cursor()
        cur.execute("SELECT bucket_start, host, starts FROM metrics_starts_per_bucket ORDER BY bucket_start")
        assert cur.fetchall() == buckets
        cur.execute("SELECT `rank`, service, starts FROM metrics_top_services ORDER BY `rank`")
        assert cur.fetchall() == [(1, "a", 20), (2, "b", 8)]
    assert fetch(db, period, "minute") == results
